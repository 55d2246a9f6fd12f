/* SPDX-License-Identifier: Apache-2.0 */
/*
 * terway_uds: blocking unix-socket I/O for the CNI shim's one call to terwayd.
 *
 * The shim is a fresh Node process per pod verb. node:net costs it about 5 ms to load and as much
 * again to run its stream machinery cold for the first time, several times the whole exchange
 * with terwayd. A process that has nothing else to do can simply block: connect, write, poll and
 * read, here, each a plain syscall. The HTTP/2 framing stays in TypeScript (src/cni/).
 *
 *   udsConnect(path, timeoutMs) -> fd
 *   udsWrite(fd, bytes, timeoutMs)            every byte, or throws
 *   udsRead(fd, timeoutMs) -> Buffer          what arrived (empty: the peer closed), or throws
 *                                             ETIMEDOUT once timeoutMs pass with nothing
 *   udsClose(fd)
 *
 * Errors carry the errno name as `code` (ENOENT, ECONNREFUSED, ETIMEDOUT, ...). No libbpf and no
 * shared code with terway_bpf: the shim's addon must load on a node with nothing else installed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>

#define READ_CHUNK 65536

static napi_value throw_code(napi_env env, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static napi_value throw_code(napi_env env, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	napi_value code_v, msg_v, error;
	if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) == napi_ok &&
	    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) == napi_ok &&
	    napi_create_error(env, code_v, msg_v, &error) == napi_ok)
		napi_throw(env, error);
	else
		napi_throw_error(env, code, msg);
	return NULL;
}

static napi_value throw_errno(napi_env env, int err, const char *what)
{
	const char *name = strerrorname_np(err);
	return throw_code(env, name ? name : "EIO", "%s: %s", what, strerror(err));
}

static bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv)
{
	size_t argc = expected;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != expected) {
		throw_code(env, "EINVAL", "expected %zu arguments", expected);
		return false;
	}
	return true;
}

static bool get_int(napi_env env, napi_value value, const char *what, int64_t min, int64_t max,
		    int64_t *out)
{
	int64_t v;
	if (napi_get_value_int64(env, value, &v) != napi_ok || v < min || v > max) {
		throw_code(env, "EINVAL", "%s must be an integer in %lld..%lld", what, (long long)min,
			   (long long)max);
		return false;
	}
	*out = v;
	return true;
}

static bool get_fd(napi_env env, napi_value value, int *fd)
{
	int64_t v;
	if (!get_int(env, value, "fd", 0, INT_MAX, &v))
		return false;
	*fd = (int)v;
	return true;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` until the deadline; 0 when ready, else an errno (ETIMEDOUT included). */
static int wait_for(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = events};
		int n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0; /* readable, writable, or an error/hangup the next call reports */
		if (n == 0)
			return ETIMEDOUT;
		if (errno != EINTR)
			return errno;
	}
}

static napi_value uds_connect(napi_env env, napi_callback_info info)
{
	napi_value argv[2], result;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = 0;
	int64_t timeout;
	if (!get_args(env, info, 2, argv) ||
	    !get_int(env, argv[1], "timeoutMs", 1, INT_MAX, &timeout))
		return NULL;
	if (napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof(addr.sun_path), &len) !=
		    napi_ok ||
	    len == 0 || len >= sizeof(addr.sun_path) - 1 || strlen(addr.sun_path) != len)
		return throw_code(env, "EINVAL", "the socket path must be 1..%zu bytes",
				  sizeof(addr.sun_path) - 2);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return throw_errno(env, errno, "socket");
	int64_t deadline = now_ms() + timeout;
	/* A unix connect either succeeds at once or, with a full backlog, says EAGAIN: retry. */
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN && (err = wait_for(fd, POLLOUT, deadline)) == 0)
			continue;
		close(fd);
		return throw_errno(env, err, addr.sun_path);
	}
	if (napi_create_int32(env, fd, &result) != napi_ok) {
		close(fd);
		return throw_code(env, "ENOMEM", "udsConnect");
	}
	return result;
}

static napi_value uds_write(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	int fd;
	int64_t timeout;
	char *data;
	size_t len;
	bool is_buffer = false;
	if (!get_args(env, info, 3, argv) || !get_fd(env, argv[0], &fd) ||
	    !get_int(env, argv[2], "timeoutMs", 1, INT_MAX, &timeout))
		return NULL;
	if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
	    napi_get_buffer_info(env, argv[1], (void **)&data, &len) != napi_ok)
		return throw_code(env, "EINVAL", "bytes must be a Buffer");
	int64_t deadline = now_ms() + timeout;
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		int err = errno;
		if (n < 0 && err == EINTR)
			continue;
		if (n < 0 && err == EAGAIN && (err = wait_for(fd, POLLOUT, deadline)) == 0)
			continue;
		return throw_errno(env, err, "write");
	}
	napi_value undefined;
	napi_get_undefined(env, &undefined);
	return undefined;
}

static napi_value uds_read(napi_env env, napi_callback_info info)
{
	napi_value argv[2], result;
	int fd;
	int64_t timeout;
	char buf[READ_CHUNK];
	if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd) ||
	    !get_int(env, argv[1], "timeoutMs", 0, INT_MAX, &timeout))
		return NULL;
	int64_t deadline = now_ms() + timeout;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n >= 0) {
			void *copy;
			if (napi_create_buffer_copy(env, (size_t)n, buf, &copy, &result) != napi_ok)
				return throw_code(env, "ENOMEM", "udsRead");
			return result;
		}
		int err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN && (err = wait_for(fd, POLLIN, deadline)) == 0)
			continue;
		return throw_errno(env, err, "read");
	}
}

static napi_value uds_close(napi_env env, napi_callback_info info)
{
	napi_value argv[1], undefined;
	int fd;
	if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd))
		return NULL;
	close(fd);
	napi_get_undefined(env, &undefined);
	return undefined;
}

NAPI_MODULE_INIT()
{
	napi_property_descriptor props[] = {
		{"udsConnect", NULL, uds_connect, NULL, NULL, NULL, napi_enumerable, NULL},
		{"udsWrite", NULL, uds_write, NULL, NULL, NULL, napi_enumerable, NULL},
		{"udsRead", NULL, uds_read, NULL, NULL, NULL, napi_enumerable, NULL},
		{"udsClose", NULL, uds_close, NULL, NULL, NULL, napi_enumerable, NULL},
	};
	if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) {
		napi_throw_error(env, NULL, "terway_uds: cannot register functions");
		return NULL;
	}
	return exports;
}
