/* SPDX-License-Identifier: Apache-2.0 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

/*
 * libbpf's log. Its warnings say *why* a load failed ("couldn't reuse pinned map ... parameter
 * mismatch", the verifier's log), which the errno alone does not, so they go into the thrown
 * message instead of the daemon's stderr. The buffer is process-global like libbpf_set_print();
 * calls are synchronous, so one operation's log is never mixed with another's on the same thread.
 */
#define LOG_CAP 65536
static char *g_log;
static size_t g_log_len;

static int log_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	if (!g_log) {
		g_log = malloc(LOG_CAP);
		if (!g_log)
			return 0;
	}
	if (g_log_len + 1 >= LOG_CAP)
		return 0;
	int n = vsnprintf(g_log + g_log_len, LOG_CAP - g_log_len, fmt, ap);
	if (n < 0)
		return 0;
	g_log_len += (size_t)n < LOG_CAP - g_log_len ? (size_t)n : LOG_CAP - g_log_len - 1;
	return 0;
}

void tw_log_install(void)
{
	libbpf_set_print(log_print);
}

void tw_log_reset(void)
{
	g_log_len = 0;
	if (g_log)
		g_log[0] = '\0';
}

/* Appends the captured log, trimmed: its head (the first complaint) and tail (the verifier's
 * verdict) are what matter; a full verifier log can be megabytes. */
static void append_log(char *msg, size_t size)
{
	if (!g_log || g_log_len == 0)
		return;
	size_t len = g_log_len;
	while (len > 0 && (g_log[len - 1] == '\n' || g_log[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	size_t used = strlen(msg);
	const size_t part = 1500;
	if (len <= 2 * part) {
		snprintf(msg + used, size - used, "\n%.*s", (int)len, g_log);
	} else {
		snprintf(msg + used, size - used, "\n%.*s\n[...]\n%.*s", (int)part, g_log,
			 (int)part, g_log + len - part);
	}
}

static napi_value throw_with(napi_env env, const char *code, const char *msg)
{
	napi_value code_v, msg_v, error;
	if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
	    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) != napi_ok ||
	    napi_create_error(env, code_v, msg_v, &error) != napi_ok) {
		napi_throw_error(env, code, "terway_bpf: out of memory while reporting an error");
		return NULL;
	}
	napi_throw(env, error);
	return NULL;
}

static const char *errno_name(int err)
{
	if (err == ENOTSUPP)
		return "ENOTSUPP";
	const char *name = strerrorname_np(err);
	return name ? name : "EUNKNOWN";
}

napi_value tw_throw_errno(napi_env env, int err, const char *fmt, ...)
{
	char msg[4096], desc[128];
	va_list ap;
	if (err <= 0) /* a caller bug; never report "success" as the reason */
		err = EIO;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	if (err == ENOTSUPP)
		snprintf(desc, sizeof(desc), "operation not supported");
	else
		libbpf_strerror(err, desc, sizeof(desc));
	size_t used = strlen(msg);
	snprintf(msg + used, sizeof(msg) - used, ": %s (%s)", errno_name(err), desc);
	append_log(msg, sizeof(msg));
	tw_log_reset();
	return throw_with(env, errno_name(err), msg);
}

napi_value tw_throw_code(napi_env env, const char *code, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	tw_log_reset();
	return throw_with(env, code, msg);
}

bool tw_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv)
{
	size_t argc = expected;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
		tw_throw_code(env, "EINVAL", "cannot read the call's arguments");
		return false;
	}
	if (argc != expected) {
		tw_throw_code(env, "EINVAL", "expected %zu arguments, got %zu", expected, argc);
		return false;
	}
	return true;
}

bool tw_arg_string(napi_env env, napi_value value, const char *what, char *buf, size_t size)
{
	size_t len = 0, copied = 0;
	if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
		tw_throw_code(env, "EINVAL", "%s must be a string", what);
		return false;
	}
	if (len == 0 || len >= size) {
		tw_throw_code(env, "EINVAL", "%s must be 1..%zu bytes long, got %zu", what, size - 1, len);
		return false;
	}
	if (napi_get_value_string_utf8(env, value, buf, size, &copied) != napi_ok || copied != len ||
	    strlen(buf) != len) {
		tw_throw_code(env, "EINVAL", "%s must not contain NUL characters", what);
		return false;
	}
	return true;
}

bool tw_arg_u32(napi_env env, napi_value value, const char *what, uint32_t *out)
{
	double d;
	if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) || d > UINT32_MAX ||
	    d != (double)(uint32_t)d) {
		tw_throw_code(env, "EINVAL", "%s must be an integer in 0..2^32-1", what);
		return false;
	}
	*out = (uint32_t)d;
	return true;
}

bool tw_arg_buffer(napi_env env, napi_value value, const char *what, void **data, size_t *len)
{
	bool is_buffer = false;
	if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer ||
	    napi_get_buffer_info(env, value, data, len) != napi_ok) {
		tw_throw_code(env, "EINVAL", "%s must be a Buffer", what);
		return false;
	}
	return true;
}

void tw_set_value(napi_env env, napi_value obj, const char *key, napi_value value)
{
	napi_set_named_property(env, obj, key, value);
}

void tw_set_u32(napi_env env, napi_value obj, const char *key, uint32_t value)
{
	napi_value v;
	if (napi_create_uint32(env, value, &v) == napi_ok)
		napi_set_named_property(env, obj, key, v);
}

void tw_set_str(napi_env env, napi_value obj, const char *key, const char *value)
{
	napi_value v;
	if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
		napi_set_named_property(env, obj, key, v);
}

void tw_set_bool(napi_env env, napi_value obj, const char *key, bool value)
{
	napi_value v;
	if (napi_get_boolean(env, value, &v) == napi_ok)
		napi_set_named_property(env, obj, key, v);
}

napi_value tw_undefined(napi_env env)
{
	napi_value v = NULL;
	napi_get_undefined(env, &v);
	return v;
}

napi_value tw_null(napi_env env)
{
	napi_value v = NULL;
	napi_get_null(env, &v);
	return v;
}

bool tw_fd_is(int fd, const char *kind)
{
	char link[64], target[128];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	/* "anon_inode:bpf-map", "anon_inode:bpf-prog", ... */
	const char *colon = strchr(target, ':');
	return colon && strcmp(colon + 1, kind) == 0;
}

void tw_tag_hex(const unsigned char tag[8], char out[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", tag[i]);
}

bool tw_netns_enter(napi_env env, const char *op, const char *path, struct tw_netns_switch *sw)
{
	sw->orig_fd = sw->target_fd = -1;
	sw->target_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (sw->target_fd < 0) {
		tw_throw_errno(env, errno, "%s: open netns %s", op, path);
		return false;
	}
	sw->orig_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (sw->orig_fd < 0) {
		tw_throw_errno(env, errno, "%s: open /proc/thread-self/ns/net", op);
		close(sw->target_fd);
		return false;
	}
	if (setns(sw->target_fd, CLONE_NEWNET) != 0) {
		/* EINVAL: the file is not a network namespace. */
		tw_throw_errno(env, errno, "%s: setns into %s", op, path);
		close(sw->target_fd);
		close(sw->orig_fd);
		return false;
	}
	return true;
}

void tw_netns_leave(struct tw_netns_switch *sw)
{
	if (setns(sw->orig_fd, CLONE_NEWNET) != 0)
		napi_fatal_error("terway_bpf", NAPI_AUTO_LENGTH,
				 "cannot return to the original network namespace", NAPI_AUTO_LENGTH);
	close(sw->orig_fd);
	close(sw->target_fd);
}
