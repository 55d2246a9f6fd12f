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
 * Two hooks, one per kernel generation:
 *  - tcx (Linux 6.6+): the program is attached to the device directly (BPF_PROG_ATTACH with
 *    BPF_TCX_INGRESS/EGRESS). It runs without the classifier layer clsact puts around it
 *    (tcf_classify, cls_bpf), which measured a quarter of the hook's cost per translated packet
 *    here. Ours is the program whose name starts with "tw_" (every program of bpf/ does);
 *    attaching again replaces it in place (BPF_F_REPLACE). libbpf 1.1 predates tcx, but its
 *    attach, query and detach calls pass any attach type through, so only the two enum values
 *    are defined here.
 *  - clsact (older kernels): a cls_bpf filter with a fixed handle and priority, so attaching again
 *    replaces the program in place (BPF_TC_F_REPLACE) rather than stacking a second filter, and
 *    query/detach know what to look for.
 * Like a tc filter, a tcx attachment made without a link lives as long as the device: it survives
 * the daemon. When a tcx attach succeeds, a clsact filter an older daemon left is removed: tcx runs
 * first and our programs never return TCX_NEXT, so the filter was already idle.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_ether.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define TW_TC_HANDLE 1
#define TW_TC_PRIORITY 1

/* enum bpf_attach_type values from Linux 6.6, which Debian 12's headers (6.1) lack. */
#define TW_TCX_INGRESS ((enum bpf_attach_type)46)
#define TW_TCX_EGRESS ((enum bpf_attach_type)47)
/* The prefix of every program of bpf/lb.c: how a tcx attachment is known to be ours. */
#define TW_PROG_PREFIX "tw_"
/* More programs than any device carries; a query that overflows it fails with ENOSPC. */
#define TW_TCX_MAX_PROGS 64

enum tw_hook { HOOK_TCX, HOOK_CLSACT };

/*
 * The index in `choices` of the string argument `what` (two choices); throws EINVAL naming both
 * for anything else.
 */
static bool arg_one_of(napi_env env, napi_value value, const char *what,
		       const char *const choices[2], int *index)
{
	char arg[16];
	if (!tw_arg_string(env, value, what, arg, sizeof(arg)))
		return false;
	for (int i = 0; i < 2; i++) {
		if (strcmp(arg, choices[i]) == 0) {
			*index = i;
			return true;
		}
	}
	tw_throw_code(env, "EINVAL", "%s must be '%s' or '%s', got '%s'", what, choices[0],
		      choices[1], arg);
	return false;
}

static bool arg_direction(napi_env env, napi_value value, enum bpf_tc_attach_point *out)
{
	static const char *const directions[2] = {"ingress", "egress"};
	int index;
	if (!arg_one_of(env, value, "direction", directions, &index))
		return false;
	*out = index == 0 ? BPF_TC_INGRESS : BPF_TC_EGRESS;
	return true;
}

static bool arg_hook(napi_env env, napi_value value, enum tw_hook *out)
{
	static const char *const hooks[2] = {"tcx", "clsact"};
	int index;
	if (!arg_one_of(env, value, "hook", hooks, &index))
		return false;
	*out = index == 0 ? HOOK_TCX : HOOK_CLSACT;
	return true;
}

/* The kernel's bpf_prog_info of the program behind fd; 0 or -errno. */
static int read_prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len);
}

/* More maps than any program of ours uses; the ids past it are not reported. */
#define TW_PROG_MAX_MAP_IDS 64

static int compare_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;
	return x < y ? -1 : x > y;
}

/* The most bytes of a program's per-load data read into its identity (ours: 16). */
#define TW_PROG_MAX_DATA_BYTES 4096

/*
 * Whether map `id` is a program's per-load data rather than shared state: libbpf's maps for an
 * object's globals (.rodata, .data, .bss, .kconfig), which every load creates afresh and whose
 * kernel names hold a dot, which ours (tw_*_vN) never do. If so, its value is appended to `hex`
 * as "<section>=<hex>;". Returns 1 for per-load data, 0 for shared state, -errno on failure.
 */
static int read_load_data(__u32 id, char *hex, size_t hex_size)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	unsigned char value[TW_PROG_MAX_DATA_BYTES];
	__u32 zero = 0;
	int fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	int err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err || !strchr(info.name, '.')) {
		close(fd);
		return err ? err : 0;
	}
	if (info.value_size > sizeof(value) || info.max_entries != 1) {
		/* Not libbpf's shape for globals (another loader's naming): count it as shared. */
		close(fd);
		return 0;
	}
	err = bpf_map_lookup_elem(fd, &zero, value);
	close(fd);
	if (err)
		return err;
	/* The section only (".rodata"): the prefix before it is the object file's name. */
	size_t used = strlen(hex);
	int n = snprintf(hex + used, hex_size - used, "%s=", strchr(info.name, '.'));
	if (n < 0 || (size_t)n >= hex_size - used)
		return -E2BIG;
	used += n;
	for (__u32 i = 0; i < info.value_size; i++, used += 2) {
		if (used + 3 > hex_size)
			return -E2BIG;
		snprintf(hex + used, 3, "%02x", value[i]);
	}
	if (used + 2 > hex_size)
		return -E2BIG;
	hex[used++] = ';';
	hex[used] = '\0';
	return 1;
}

/*
 * The ids of the shared maps the program uses, ascending, as a JavaScript array, and its per-load
 * data (the values of its global-data maps, see read_load_data) as one string. The tag hashes the
 * instructions with their map references blanked, so two programs with one tag may still read
 * different maps, or run on other constants; these tell them apart. A global-data map's id is
 * not part of the identity: each load has its own, even of the same object with the same values.
 */
static bool prog_maps(napi_env env, int fd, __u32 count, const char *op, const char *what,
		      napi_value *ids_out, napi_value *data_out)
{
	__u32 ids[TW_PROG_MAX_MAP_IDS];
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	char data[2 * TW_PROG_MAX_DATA_BYTES + 256] = "";
	napi_value array;
	if (count > TW_PROG_MAX_MAP_IDS)
		count = TW_PROG_MAX_MAP_IDS;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = count;
	info.map_ids = (__u64)(unsigned long)ids;
	int err = count > 0 ? bpf_obj_get_info_by_fd(fd, &info, &len) : 0;
	if (err) {
		tw_throw_errno(env, -err, "%s(%s): bpf_obj_get_info_by_fd (map ids)", op, what);
		return false;
	}
	/* The program may have lost a map reference between the two calls; never more. */
	if (info.nr_map_ids < count)
		count = info.nr_map_ids;
	qsort(ids, count, sizeof(ids[0]), compare_u32);
	if (napi_create_array(env, &array) != napi_ok) {
		tw_throw_errno(env, ENOMEM, "%s(%s)", op, what);
		return false;
	}
	for (__u32 i = 0, shared = 0; i < count; i++) {
		napi_value id;
		err = read_load_data(ids[i], data, sizeof(data));
		if (err < 0) {
			tw_throw_errno(env, -err, "%s(%s): map %u", op, what, ids[i]);
			return false;
		}
		if (err == 1)
			continue;
		if (napi_create_uint32(env, ids[i], &id) != napi_ok ||
		    napi_set_element(env, array, shared++, id) != napi_ok) {
			tw_throw_errno(env, ENOMEM, "%s(%s)", op, what);
			return false;
		}
	}
	if (napi_create_string_utf8(env, data, NAPI_AUTO_LENGTH, data_out) != napi_ok) {
		tw_throw_errno(env, ENOMEM, "%s(%s)", op, what);
		return false;
	}
	*ids_out = array;
	return true;
}

/* Reads a program's info: kernel name (at most 15 characters), id, type, tag and map ids. */
static napi_value prog_info_object(napi_env env, int fd, const char *op, const char *what)
{
	struct bpf_prog_info info;
	napi_value obj, map_ids, load_data;
	char tag[17];
	int err = read_prog_info(fd, &info);
	if (err)
		return tw_throw_errno(env, -err, "%s(%s): bpf_obj_get_info_by_fd", op, what);
	if (!prog_maps(env, fd, info.nr_map_ids, op, what, &map_ids, &load_data))
		return NULL;
	if (napi_create_object(env, &obj) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "%s(%s)", op, what);
	const char *type = libbpf_bpf_prog_type_str((enum bpf_prog_type)info.type);
	tw_tag_hex(info.tag, tag);
	tw_set_u32(env, obj, "id", info.id);
	tw_set_str(env, obj, "name", info.name);
	tw_set_str(env, obj, "type", type ? type : "unknown");
	tw_set_str(env, obj, "tag", tag);
	tw_set_value(env, obj, "mapIds", map_ids);
	tw_set_value(env, obj, "loadData", load_data);
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

/* progInfo(pinnedPath) -> {id, name, type, tag, mapIds, loadData} */
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

/*
 * A pinned program held open for test runs: the conntrack collector runs its program thousands of
 * times a pass, and opening the pin for each run would cost a path walk and an fd every time. An
 * opaque, type-tagged External that owns the fd, as map handles do (maps.c): progClose marks it
 * closed, so a late run cannot hit an fd number reused since, and a dropped handle is closed by its
 * finalizer.
 */
struct tw_prog {
	int fd;
	char *path; /* for messages */
};

static const napi_type_tag PROG_TAG = {0x74657277617962ULL, 0x70726f672d68616eULL};

static void prog_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	struct tw_prog *prog = data;
	if (prog->fd >= 0)
		close(prog->fd);
	free(prog->path);
	free(prog);
}

/* The handle's program; NULL (with an exception pending) for anything else. Closed ones too
 * unless `closed_ok`. */
static struct tw_prog *get_prog(napi_env env, napi_value value, bool closed_ok)
{
	bool tagged = false;
	void *data = NULL;
	if (napi_check_object_type_tag(env, value, &PROG_TAG, &tagged) != napi_ok || !tagged ||
	    napi_get_value_external(env, value, &data) != napi_ok || !data) {
		tw_throw_code(env, "EINVAL", "not a program handle (use progOpenPinned)");
		return NULL;
	}
	struct tw_prog *prog = data;
	if (prog->fd < 0 && !closed_ok) {
		tw_throw_code(env, "EBADF", "program %s: the handle is closed", prog->path);
		return NULL;
	}
	return prog;
}

/* progOpenPinned(path) -> handle */
static napi_value prog_open_pinned(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1], result;
	char path[PATH_MAX];
	if (!tw_args(env, cbinfo, 1, argv) || !tw_arg_string(env, argv[0], "path", path, sizeof(path)))
		return NULL;
	int fd = open_pinned_prog(env, "progOpenPinned", path);
	if (fd < 0)
		return NULL;
	struct tw_prog *prog = calloc(1, sizeof(*prog));
	char *saved = strdup(path);
	if (!prog || !saved) {
		close(fd);
		free(prog);
		free(saved);
		return tw_throw_errno(env, ENOMEM, "progOpenPinned(%s)", path);
	}
	prog->fd = fd;
	prog->path = saved;
	if (napi_create_external(env, prog, prog_finalize, NULL, &result) != napi_ok) {
		prog_finalize(env, prog, NULL);
		return tw_throw_errno(env, ENOMEM, "progOpenPinned(%s)", path);
	}
	if (napi_type_tag_object(env, result, &PROG_TAG) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "progOpenPinned(%s): tagging the handle", path);
	return result;
}

/* progClose(handle): idempotent. */
static napi_value prog_close(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1];
	if (!tw_args(env, cbinfo, 1, argv))
		return NULL;
	struct tw_prog *prog = get_prog(env, argv[0], true);
	if (!prog)
		return NULL;
	if (prog->fd >= 0) {
		close(prog->fd);
		prog->fd = -1;
	}
	return tw_undefined(env);
}

/*
 * The (handle, frame) arguments of a test run: the open program, and a frame of at least an
 * Ethernet header and at most `max_len` bytes. NULL with an exception pending otherwise.
 */
static struct tw_prog *test_run_args(napi_env env, napi_callback_info cbinfo, const char *op,
				     size_t max_len, void **frame, size_t *len)
{
	napi_value argv[2];
	if (!tw_args(env, cbinfo, 2, argv))
		return NULL;
	struct tw_prog *prog = get_prog(env, argv[0], false);
	if (!prog || !tw_arg_buffer(env, argv[1], "frame", frame, len))
		return NULL;
	if (*len < ETH_HLEN || *len > max_len) {
		tw_throw_code(env, "EINVAL", "%s(%s): a frame of %zu bytes", op, prog->path, *len);
		return NULL;
	}
	return prog;
}

/*
 * progTestRun(handle, frame) -> the program's return value: one run through BPF_PROG_TEST_RUN,
 * for a program that is never attached (the Service LB's conntrack collector, whose "frame"
 * carries the keys it is to judge). Nothing of the frame comes back.
 */
static napi_value prog_test_run(napi_env env, napi_callback_info cbinfo)
{
	napi_value result;
	void *frame;
	size_t len;
	struct tw_prog *prog = test_run_args(env, cbinfo, "progTestRun", UINT32_MAX, &frame, &len);
	if (!prog)
		return NULL;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .repeat = 1);
	if (bpf_prog_test_run_opts(prog->fd, &opts))
		return tw_throw_errno(env, errno, "progTestRun(%s)", prog->path);
	if (napi_create_uint32(env, opts.retval, &result) != napi_ok)
		return tw_throw_code(env, "EINVAL", "progTestRun(%s): cannot return the result",
				     prog->path);
	return result;
}

/* Room for what a program may add to a frame: a reply it builds (an ICMP error quotes the packet). */
#define TW_TEST_RUN_GROWTH 512

/*
 * progTestRunFrame(handle, frame) -> {retval, frame}: one run through BPF_PROG_TEST_RUN, and the
 * frame as the program left it (rewritten, or turned into a reply), for tests that check what the
 * tc programs do to a packet without a network to send it over.
 */
static napi_value prog_test_run_frame(napi_env env, napi_callback_info cbinfo)
{
	napi_value result, out;
	void *frame;
	size_t len;
	struct tw_prog *prog =
		test_run_args(env, cbinfo, "progTestRunFrame", UINT16_MAX, &frame, &len);
	if (!prog)
		return NULL;
	__u32 room = (__u32)len + TW_TEST_RUN_GROWTH;
	unsigned char *written = malloc(room);
	if (!written)
		return tw_throw_errno(env, ENOMEM, "progTestRunFrame(%s)", prog->path);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .data_out = written, .data_size_out = room, .repeat = 1);
	if (bpf_prog_test_run_opts(prog->fd, &opts)) {
		int err = errno;
		free(written);
		return tw_throw_errno(env, err, "progTestRunFrame(%s)", prog->path);
	}
	napi_status status = napi_create_object(env, &result);
	if (status == napi_ok)
		status = napi_create_buffer_copy(env, opts.data_size_out, written, NULL, &out);
	free(written);
	if (status != napi_ok)
		return tw_throw_code(env, "EINVAL", "progTestRunFrame(%s): cannot return the result",
				     prog->path);
	tw_set_u32(env, result, "retval", opts.retval);
	tw_set_value(env, result, "frame", out);
	return result;
}

/*
 * Our program among those tcx runs on the device: 1, with its id and an fd the caller closes; 0
 * when none is ours; or -errno, -EINVAL meaning the kernel has no tcx.
 */
static int tcx_find_ours(unsigned int ifindex, enum bpf_attach_type type, __u32 *id, int *fd)
{
	__u32 ids[TW_TCX_MAX_PROGS], count = TW_TCX_MAX_PROGS;
	int err = bpf_prog_query((int)ifindex, type, 0, NULL, ids, &count);
	if (err)
		return err;
	for (__u32 i = 0; i < count; i++) {
		struct bpf_prog_info info;
		int prog_fd = bpf_prog_get_fd_by_id(ids[i]);
		if (prog_fd < 0)
			continue; /* detached since the query */
		if (read_prog_info(prog_fd, &info) == 0 &&
		    strncmp(info.name, TW_PROG_PREFIX, strlen(TW_PROG_PREFIX)) == 0) {
			*id = ids[i];
			*fd = prog_fd;
			return 1;
		}
		close(prog_fd);
	}
	return 0;
}

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info;
	return read_prog_info(fd, &info) == 0 ? info.id : 0;
}

/* {progId, hook} */
static napi_value attachment_object(napi_env env, const char *op, __u32 prog_id, const char *hook)
{
	napi_value obj;
	if (napi_create_object(env, &obj) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "%s", op);
	tw_set_u32(env, obj, "progId", prog_id);
	tw_set_str(env, obj, "hook", hook);
	return obj;
}

/* {progId, name, tag, mapIds, loadData, hook} of the program behind fd. */
static napi_value query_object(napi_env env, const char *op, const char *ifname, int fd,
			       __u32 prog_id, const char *hook)
{
	napi_value info = prog_info_object(env, fd, op, ifname);
	if (!info)
		return NULL;
	napi_value result = attachment_object(env, op, prog_id, hook);
	if (!result)
		return NULL;
	napi_value name, tag, map_ids, load_data;
	napi_get_named_property(env, info, "name", &name);
	napi_get_named_property(env, info, "tag", &tag);
	napi_get_named_property(env, info, "mapIds", &map_ids);
	napi_get_named_property(env, info, "loadData", &load_data);
	tw_set_value(env, result, "name", name);
	tw_set_value(env, result, "tag", tag);
	tw_set_value(env, result, "mapIds", map_ids);
	tw_set_value(env, result, "loadData", load_data);
	return result;
}

enum tc_op { TC_ATTACH, TC_QUERY, TC_DETACH };
static const char *const tc_op_names[] = {"tcAttach", "tcQuery", "tcDetach"};

struct tc_target {
	const char *op;
	const char *netns;
	const char *ifname;
	const char *dir;
	unsigned int ifindex;
	enum bpf_attach_type tcx_type;
};

/*
 * The tcx half of an operation on a kernel that has tcx: true when it produced the result (or
 * threw), false when the clsact half must run. *stale_tcx asks the caller to detach our tcx
 * program after the clsact half (an attach that prefers clsact, or a detach); *idle_filter, after
 * a tcx attach, to remove our clsact filter.
 */
static bool tcx_op(napi_env env, enum tc_op op, enum tw_hook hook, const struct tc_target *t,
		   int found, __u32 ours_id, int ours_fd, int prog_fd, const char *prog_path,
		   napi_value *result, bool *idle_filter, bool *stale_tcx)
{
	switch (op) {
	case TC_ATTACH: {
		if (hook != HOOK_TCX) {
			*stale_tcx = found == 1;
			return false;
		}
		__u32 new_id = prog_id_of(prog_fd);
		if (!found || ours_id != new_id) {
			LIBBPF_OPTS(bpf_prog_attach_opts, opts, .flags = found ? BPF_F_REPLACE : 0,
				    .replace_prog_fd = found ? ours_fd : 0);
			int err = bpf_prog_attach_opts(prog_fd, (int)t->ifindex, t->tcx_type, &opts);
			if (err) {
				tw_throw_errno(env, -err, "%s: tcx attach %s to %s %s in netns %s", t->op,
					       prog_path, t->ifname, t->dir, t->netns);
				return true;
			}
		}
		*idle_filter = true;
		*result = attachment_object(env, t->op, new_id, "tcx");
		return true;
	}
	case TC_QUERY:
		if (!found)
			return false; /* maybe a clsact filter */
		*result = query_object(env, t->op, t->ifname, ours_fd, ours_id, "tcx");
		return true;
	case TC_DETACH:
		*stale_tcx = found == 1;
		return false; /* the clsact filter goes too */
	}
	return false;
}

/*
 * The three operations share argument parsing and the netns round trip:
 *   tcAttach(netnsPath, ifname, progPinnedPath, direction, hook) -> {progId, hook}
 *   tcQuery(netnsPath, ifname, direction) -> {progId, name, tag, mapIds, loadData, hook} | null
 *   tcDetach(netnsPath, ifname, direction) -> boolean (false: nothing was attached)
 * hook, the attach's preference: "tcx" (where the kernel has it, else clsact) or "clsact"; our
 * program on the other hook is removed once the new one is in. Query and detach look at both.
 */
static napi_value tc_common(napi_env env, napi_callback_info cbinfo, enum tc_op op)
{
	const char *opname = tc_op_names[op];
	napi_value argv[5], result = NULL;
	char netns[PATH_MAX], ifname[IF_NAMESIZE], prog_path[PATH_MAX];
	enum bpf_tc_attach_point point;
	enum tw_hook hook = HOOK_CLSACT;
	size_t argc = op == TC_ATTACH ? 5 : 3;
	if (!tw_args(env, cbinfo, argc, argv) ||
	    !tw_arg_string(env, argv[0], "netnsPath", netns, sizeof(netns)) ||
	    !tw_arg_string(env, argv[1], "ifname", ifname, sizeof(ifname)) ||
	    (op == TC_ATTACH &&
	     (!tw_arg_string(env, argv[2], "progPinnedPath", prog_path, sizeof(prog_path)) ||
	      !arg_hook(env, argv[4], &hook))) ||
	    !arg_direction(env, argv[op == TC_ATTACH ? 3 : 2], &point))
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

	int err = 0, found = -EINVAL, ours_fd = -1;
	__u32 ours_id = 0;
	bool idle_filter = false, stale_tcx = false;
	unsigned int ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		tw_throw_errno(env, errno, "%s: interface %s in netns %s", opname, ifname, netns);
		goto leave;
	}
	LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = (int)ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIORITY);
	struct tc_target target = {
		.op = opname,
		.netns = netns,
		.ifname = ifname,
		.dir = dir,
		.ifindex = ifindex,
		.tcx_type = point == BPF_TC_INGRESS ? TW_TCX_INGRESS : TW_TCX_EGRESS,
	};
	/* Whatever the preference, a tcx program of ours is found: queried, replaced or removed. */
	found = tcx_find_ours(ifindex, target.tcx_type, &ours_id, &ours_fd);
	if (found < 0 && found != -EINVAL) { /* -EINVAL: this kernel has no tcx */
		tw_throw_errno(env, -found, "%s: tcx query of %s %s in netns %s", opname, ifname, dir,
			       netns);
		goto leave;
	}
	if (found >= 0 && tcx_op(env, op, hook, &target, found, ours_id, ours_fd, prog_fd,
				 prog_path, &result, &idle_filter, &stale_tcx)) {
		if (idle_filter) {
			/* Only after the tcx attach: until then the filter kept translating. */
			err = bpf_tc_detach(&tc_hook, &opts);
			if (err && err != -ENOENT && err != -EINVAL) {
				result = NULL;
				tw_throw_errno(env, -err, "%s: remove the clsact filter from %s %s in netns %s",
					       opname, ifname, dir, netns);
			}
		}
		goto leave;
	}
	switch (op) {
	case TC_ATTACH:
		err = bpf_tc_hook_create(&tc_hook);
		if (err && err != -EEXIST) {
			tw_throw_errno(env, -err, "%s: create clsact qdisc on %s in netns %s", opname,
				       ifname, netns);
			goto leave;
		}
		opts.prog_fd = prog_fd;
		opts.flags = BPF_TC_F_REPLACE;
		err = bpf_tc_attach(&tc_hook, &opts);
		if (err) {
			tw_throw_errno(env, -err, "%s: attach %s to %s %s in netns %s", opname, prog_path,
				       ifname, dir, netns);
			goto leave;
		}
		result = attachment_object(env, opname, opts.prog_id, "clsact");
		break;
	case TC_QUERY: {
		err = bpf_tc_query(&tc_hook, &opts);
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
		result = query_object(env, opname, ifname, fd, opts.prog_id, "clsact");
		close(fd);
		break;
	}
	case TC_DETACH:
		err = bpf_tc_detach(&tc_hook, &opts);
		if (err && err != -ENOENT && err != -EINVAL) {
			tw_throw_errno(env, -err, "%s: %s %s in netns %s", opname, ifname, dir, netns);
			goto leave;
		}
		napi_get_boolean(env, err == 0 || stale_tcx, &result);
		break;
	}
	if (stale_tcx) {
		/* After the clsact attach: until now the tcx program kept translating, ahead of it. */
		err = bpf_prog_detach2(ours_fd, (int)ifindex, target.tcx_type);
		if (err && err != -ENOENT) {
			result = NULL;
			tw_throw_errno(env, -err, "%s: tcx detach from %s %s in netns %s", opname, ifname,
				       dir, netns);
		}
	}
leave:
	tw_netns_leave(&sw);
	if (ours_fd >= 0)
		close(ours_fd);
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
		{"progOpenPinned", NULL, prog_open_pinned, NULL, NULL, NULL, napi_enumerable, NULL},
		{"progTestRun", NULL, prog_test_run, NULL, NULL, NULL, napi_enumerable, NULL},
		{"progTestRunFrame", NULL, prog_test_run_frame, NULL, NULL, NULL, napi_enumerable,
		 NULL},
		{"progClose", NULL, prog_close, NULL, NULL, NULL, napi_enumerable, NULL},
	};
	return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
