/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tc attach/query/detach in a pod's network namespace, without spawning tc or nsenter.
 *
 * The calling thread enters the pod's netns with setns(2), does its netlink work there, and always
 * returns to the netns it came from before the function returns, on every error path too.
 *
 * Why this is safe in Node: a network namespace belongs to a thread, not to the process, and
 * setns(CLONE_NEWNET) changes only the calling thread. These functions are synchronous, so while
 * the thread is in the pod's netns no JavaScript runs on it and nothing else it owns opens a
 * socket; libuv's pool threads, V8's helper threads and worker threads keep their own netns. The
 * only sockets created meanwhile are this function's own netlink and ioctl sockets, which is
 * exactly what must land in the pod. If returning fails (it cannot, short of the kernel refusing
 * a namespace this thread was just in), the process aborts: a JS thread left in a pod's netns
 * would silently program the wrong namespace from then on.
 *
 * Filters use a fixed handle and priority, so attaching again replaces the program in place
 * (BPF_TC_F_REPLACE) rather than stacking a second filter, and query/detach know what to look for.
 * TCX would be nicer but libbpf 1.1 cannot use it; this is the clsact qdisc.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define TW_TC_HANDLE 1
#define TW_TC_PRIORITY 1

static bool arg_direction(napi_env env, napi_value value, enum bpf_tc_attach_point *out)
{
	char dir[16];
	if (!tw_arg_string(env, value, "direction", dir, sizeof(dir)))
		return false;
	if (strcmp(dir, "ingress") == 0)
		*out = BPF_TC_INGRESS;
	else if (strcmp(dir, "egress") == 0)
		*out = BPF_TC_EGRESS;
	else {
		tw_throw_code(env, "EINVAL", "direction must be 'ingress' or 'egress', got '%s'", dir);
		return false;
	}
	return true;
}

/* Reads a program's info: kernel name (at most 15 characters), id, type and tag. */
static napi_value prog_info_object(napi_env env, int fd, const char *op, const char *what)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	napi_value obj;
	char tag[17];
	memset(&info, 0, sizeof(info));
	int err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return tw_throw_errno(env, -err, "%s(%s): bpf_obj_get_info_by_fd", op, what);
	if (napi_create_object(env, &obj) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "%s(%s)", op, what);
	const char *type = libbpf_bpf_prog_type_str((enum bpf_prog_type)info.type);
	tw_tag_hex(info.tag, tag);
	tw_set_u32(env, obj, "id", info.id);
	tw_set_str(env, obj, "name", info.name);
	tw_set_str(env, obj, "type", type ? type : "unknown");
	tw_set_str(env, obj, "tag", tag);
	return obj;
}

/* Opens a pinned program, refusing anything else pinned at the path. */
static int open_pinned_prog(napi_env env, const char *op, const char *path)
{
	int fd = bpf_obj_get(path);
	if (fd < 0) {
		tw_throw_errno(env, -fd, "%s: bpf_obj_get(%s)", op, path);
		return -1;
	}
	if (!tw_fd_is(fd, "bpf-prog")) {
		close(fd);
		tw_throw_code(env, "EINVAL", "%s: %s is not a pinned program", op, path);
		return -1;
	}
	return fd;
}

/* progInfo(pinnedPath) -> {id, name, type, tag} */
static napi_value prog_info(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1];
	char path[PATH_MAX];
	if (!tw_args(env, cbinfo, 1, argv) || !tw_arg_string(env, argv[0], "path", path, sizeof(path)))
		return NULL;
	tw_log_reset();
	int fd = open_pinned_prog(env, "progInfo", path);
	if (fd < 0)
		return NULL;
	napi_value result = prog_info_object(env, fd, "progInfo", path);
	close(fd);
	return result;
}

enum tc_op { TC_ATTACH, TC_QUERY, TC_DETACH };
static const char *const tc_op_names[] = {"tcAttach", "tcQuery", "tcDetach"};

/*
 * The three operations share argument parsing and the netns round trip:
 *   tcAttach(netnsPath, ifname, progPinnedPath, direction) -> {progId}
 *   tcQuery(netnsPath, ifname, direction) -> {progId, name, tag} | null
 *   tcDetach(netnsPath, ifname, direction) -> boolean (false: nothing was attached)
 */
static napi_value tc_common(napi_env env, napi_callback_info cbinfo, enum tc_op op)
{
	const char *opname = tc_op_names[op];
	napi_value argv[4], result = NULL;
	char netns[PATH_MAX], ifname[IF_NAMESIZE], prog_path[PATH_MAX];
	enum bpf_tc_attach_point point;
	size_t argc = op == TC_ATTACH ? 4 : 3;
	if (!tw_args(env, cbinfo, argc, argv) ||
	    !tw_arg_string(env, argv[0], "netnsPath", netns, sizeof(netns)) ||
	    !tw_arg_string(env, argv[1], "ifname", ifname, sizeof(ifname)) ||
	    (op == TC_ATTACH &&
	     !tw_arg_string(env, argv[2], "progPinnedPath", prog_path, sizeof(prog_path))) ||
	    !arg_direction(env, argv[argc - 1], &point))
		return NULL;
	const char *dir = point == BPF_TC_INGRESS ? "ingress" : "egress";
	tw_log_reset();

	/* The program is opened before entering the netns: pins live in the mount namespace. */
	int prog_fd = -1;
	if (op == TC_ATTACH && (prog_fd = open_pinned_prog(env, opname, prog_path)) < 0)
		return NULL;
	struct tw_netns_switch sw;
	if (!tw_netns_enter(env, opname, netns, &sw)) {
		if (prog_fd >= 0)
			close(prog_fd);
		return NULL;
	}

	int err = 0;
	unsigned int ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		tw_throw_errno(env, errno, "%s: interface %s in netns %s", opname, ifname, netns);
		goto leave;
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIORITY);
	switch (op) {
	case TC_ATTACH:
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST) {
			tw_throw_errno(env, -err, "%s: create clsact qdisc on %s in netns %s", opname,
				       ifname, netns);
			goto leave;
		}
		opts.prog_fd = prog_fd;
		opts.flags = BPF_TC_F_REPLACE;
		err = bpf_tc_attach(&hook, &opts);
		if (err) {
			tw_throw_errno(env, -err, "%s: attach %s to %s %s in netns %s", opname, prog_path,
				       ifname, dir, netns);
			goto leave;
		}
		if (napi_create_object(env, &result) != napi_ok) {
			result = NULL;
			tw_throw_errno(env, ENOMEM, "%s", opname);
			goto leave;
		}
		tw_set_u32(env, result, "progId", opts.prog_id);
		break;
	case TC_QUERY: {
		err = bpf_tc_query(&hook, &opts);
		/* ENOENT: no such filter; EINVAL: no clsact qdisc on the device at all. */
		if (err == -ENOENT || err == -EINVAL) {
			result = tw_null(env);
			goto leave;
		}
		if (err) {
			tw_throw_errno(env, -err, "%s: %s %s in netns %s", opname, ifname, dir, netns);
			goto leave;
		}
		int fd = bpf_prog_get_fd_by_id(opts.prog_id);
		if (fd < 0) {
			tw_throw_errno(env, -fd, "%s: program id %u on %s %s", opname, opts.prog_id,
				       ifname, dir);
			goto leave;
		}
		napi_value info = prog_info_object(env, fd, opname, ifname);
		close(fd);
		if (!info)
			goto leave;
		if (napi_create_object(env, &result) != napi_ok) {
			result = NULL;
			tw_throw_errno(env, ENOMEM, "%s", opname);
			goto leave;
		}
		napi_value name, tag;
		napi_get_named_property(env, info, "name", &name);
		napi_get_named_property(env, info, "tag", &tag);
		tw_set_u32(env, result, "progId", opts.prog_id);
		tw_set_value(env, result, "name", name);
		tw_set_value(env, result, "tag", tag);
		break;
	}
	case TC_DETACH:
		err = bpf_tc_detach(&hook, &opts);
		if (err && err != -ENOENT && err != -EINVAL) {
			tw_throw_errno(env, -err, "%s: %s %s in netns %s", opname, ifname, dir, netns);
			goto leave;
		}
		napi_get_boolean(env, err == 0, &result);
		break;
	}
leave:
	tw_netns_leave(&sw);
	if (prog_fd >= 0)
		close(prog_fd);
	return result;
}

static napi_value tc_attach(napi_env env, napi_callback_info cbinfo)
{
	return tc_common(env, cbinfo, TC_ATTACH);
}

static napi_value tc_query(napi_env env, napi_callback_info cbinfo)
{
	return tc_common(env, cbinfo, TC_QUERY);
}

static napi_value tc_detach(napi_env env, napi_callback_info cbinfo)
{
	return tc_common(env, cbinfo, TC_DETACH);
}

napi_status tw_tc_init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{"tcAttach", NULL, tc_attach, NULL, NULL, NULL, napi_enumerable, NULL},
		{"tcQuery", NULL, tc_query, NULL, NULL, NULL, napi_enumerable, NULL},
		{"tcDetach", NULL, tc_detach, NULL, NULL, NULL, napi_enumerable, NULL},
		{"progInfo", NULL, prog_info, NULL, NULL, NULL, napi_enumerable, NULL},
	};
	return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
