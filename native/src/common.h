/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the terway_bpf addon: argument parsing that refuses anything it cannot check,
 * and errors that carry the errno name (as `code`) and the operation and path in the message, so
 * the TypeScript wrapper can turn them into TerwayError('BPF_ERROR') without parsing.
 *
 * Every exported function is synchronous: the operations are single syscalls (or a bounded loop
 * of them) that finish in microseconds to milliseconds, far cheaper than a thread-pool hop.
 */
#ifndef TERWAY_BPF_COMMON_H
#define TERWAY_BPF_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <node_api.h>

/* The kernel's internal "not supported" errno, which batch ops return to user space. */
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/*
 * Throws an Error whose `code` is the errno name (ENOENT, E2BIG, ...) and whose message is
 * "<printf text>: <NAME> (<description>)", followed by whatever libbpf logged since the last
 * tw_log_reset(). `err` is a positive errno (a libbpf return value negated). Returns NULL so callers
 * can `return tw_throw_errno(...)`.
 */
napi_value tw_throw_errno(napi_env env, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Throws with an explicit code, for failures that are not an errno (a bad argument, not bpffs). */
napi_value tw_throw_code(napi_env env, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* libbpf's warnings are captured (not printed) so a failure can carry them in its message. */
void tw_log_install(void);
void tw_log_reset(void);

/* Argument getters. Each one throws and returns false when the value is unusable. */
bool tw_arg_string(napi_env env, napi_value value, const char *what, char *buf, size_t size);
bool tw_arg_u32(napi_env env, napi_value value, const char *what, uint32_t *out);
bool tw_arg_buffer(napi_env env, napi_value value, const char *what, void **data, size_t *len);
/* The JS arguments of the call; throws unless exactly `expected` of them were passed. */
bool tw_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv);

/* Property setters for result objects (napi failures only happen on exhausted memory). */
void tw_set_u32(napi_env env, napi_value obj, const char *key, uint32_t value);
void tw_set_str(napi_env env, napi_value obj, const char *key, const char *value);
void tw_set_bool(napi_env env, napi_value obj, const char *key, bool value);
void tw_set_value(napi_env env, napi_value obj, const char *key, napi_value value);
napi_value tw_undefined(napi_env env);
napi_value tw_null(napi_env env);

/*
 * What kind of BPF object an fd refers to: "bpf-map", "bpf-prog", "bpf-link"... read from
 * /proc/self/fd. bpf_obj_get() opens whatever is pinned at a path, and the info syscall would
 * happily describe a program through a map's struct, so callers check the kind first.
 */
bool tw_fd_is(int fd, const char *kind);

/* Writes the 8-byte program tag as 16 hex characters plus NUL. */
void tw_tag_hex(const unsigned char tag[8], char out[17]);

/*
 * A thread's trip into another network namespace (see tc.c for why this is safe in Node): enter
 * throws and leaves the thread where it was on failure; leave always returns it, and aborts the
 * process if the kernel refuses, since a JS thread left in a pod's netns would program the wrong
 * namespace from then on.
 */
struct tw_netns_switch {
	int orig_fd;
	int target_fd;
};
bool tw_netns_enter(napi_env env, const char *op, const char *path, struct tw_netns_switch *sw);
void tw_netns_leave(struct tw_netns_switch *sw);

/* Module parts: each adds its functions to `exports`. */
napi_status tw_maps_init(napi_env env, napi_value exports);
napi_status tw_object_init(napi_env env, napi_value exports);
napi_status tw_tc_init(napi_env env, napi_value exports);
napi_status tw_rtnl_init(napi_env env, napi_value exports);

#endif
