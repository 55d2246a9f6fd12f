/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadObject(objPath, pinDir, constants, mapSizes): loads a BPF object so its maps outlive the
 * daemon.
 *
 * Every map is pinned at <pinDir>/<mapName>. A pin that already exists is reused: libbpf opens
 * it, checks that type, key/value size, max_entries and flags match the object's definition, and
 * hands the program the existing map. That is what keeps conntrack and service state (and so the
 * established flows) across daemon restarts and upgrades. A mismatch fails the load with libbpf's
 * "couldn't reuse pinned map ... parameter mismatch" in the message: a layout changed without the
 * _v<N> bump that bpf/lb_maps.h requires.
 *
 * Programs are pinned at <pinDir>/progs/<progName>, replacing the previous pin: pinned under a
 * temporary name, then rename(2)d over the old one (bpffs supports rename; checked on 6.x), so a reader of the
 * path always finds a program, old or new. Links that tc already holds keep the old program until
 * the daemon re-attaches.
 */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

/*
 * The verifier gives up with EAGAIN whenever a signal is pending for the loading thread, and
 * libbpf retries only five times. Node's CPU profiler (--cpu-prof) sends the main thread a SIGPROF
 * every sampling interval, far more often than lb.o takes to verify, so under the profiler every
 * load failed. Asynchronous signals are held back during the load instead: they stay pending and
 * are delivered when the mask is restored, tens of milliseconds later. The faults a thread raises
 * itself cannot be blocked, and are left alone.
 */
static void block_async_signals(sigset_t *previous)
{
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, previous);
}

/*
 * Reading the kernel's BTF (for a kfunc, here and in the load) makes libbpf allocate about 25 MB
 * in small pieces and free it all before returning. Freed below live allocations, glibc keeps
 * those pages: the daemon's RSS with no Services at all varied from 106 to 131 MB between
 * identical starts, by how much of that parse the main heap's top had locked in. malloc_trim()
 * returns every free page in the heap, not just its top. It costs about a millisecond, after
 * calls that take tens.
 */
static void release_freed_heap(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/*
 * The pin directory must be on bpffs. Outside it (bpffs not mounted, or a process that entered
 * the pod with `ip netns exec`, which remounts /sys) bpf_obj_pin fails with a bare EPERM, or the
 * pins land in a private throwaway bpffs: say so plainly instead. The nearest existing ancestor
 * decides, since the directory itself may not exist yet.
 */
static napi_value check_bpffs(napi_env env, const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		struct statfs st;
		if (statfs(path, &st) == 0) {
			if ((unsigned long)st.f_type == BPF_FS_MAGIC)
				return tw_undefined(env);
			return tw_throw_code(env, "ENOTBPFFS",
					     "loadObject: pin directory %s is not on a bpffs (%s is not bpf; "
					     "mount one with `mount -t bpf bpf /sys/fs/bpf`)",
					     dir, path);
		}
		if (errno != ENOENT)
			return tw_throw_errno(env, errno, "loadObject: statfs(%s)", path);
		char *slash = strrchr(path, '/');
		if (!slash || slash == path)
			return tw_throw_code(env, "ENOTBPFFS", "loadObject: %s is not under a bpffs", dir);
		*slash = '\0';
	}
}

/* mkdir -p, mode 0700: pins give whoever can open them full access to the maps. */
static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(path, 0700) != 0 && errno != EEXIST)
				return -errno;
			*p = saved;
			if (saved == '\0')
				return 0;
		}
	}
}

/* Pins a program at `path`, replacing what is there (see the top comment). */
static int pin_replace(struct bpf_program *prog, const char *dir, const char *path)
{
	char tmp[PATH_MAX];
	/* No dots: bpffs reserves them (EPERM). A '-' cannot occur in a program (C function) name. */
	if (snprintf(tmp, sizeof(tmp), "%s/%s-tmp-%d", dir, bpf_program__name(prog), getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp); /* left behind by a crash between pin and rename */
	int err = bpf_program__pin(prog, tmp);
	if (err)
		return err;
	if (rename(tmp, path) != 0) {
		err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}

/* The own property names of a JS object argument (`what`, for the error), and how many. */
static bool property_names(napi_env env, napi_value object, const char *what, napi_value *names,
			   uint32_t *count)
{
	if (napi_get_property_names(env, object, names) != napi_ok ||
	    napi_get_array_length(env, *names, count) != napi_ok) {
		tw_throw_code(env, "EINVAL", "loadObject: %s must be an object", what);
		return false;
	}
	return true;
}

/* Writes each constant of `constants` at its variable's offset in `values` (a copy of .rodata). */
static bool fill_constants(napi_env env, const struct btf *btf, const struct btf_type *sec,
			   napi_value constants, napi_value names, uint32_t count, char *values,
			   size_t rodata_size, const char *obj_path)
{
	for (uint32_t i = 0; i < count; i++) {
		napi_value name_v, value_v;
		char name[128];
		uint64_t value = 0;
		bool lossless = false;
		if (napi_get_element(env, names, i, &name_v) != napi_ok ||
		    !tw_arg_string(env, name_v, "constant name", name, sizeof(name)))
			return false;
		if (napi_get_named_property(env, constants, name, &value_v) != napi_ok ||
		    napi_get_value_bigint_uint64(env, value_v, &value, &lossless) != napi_ok ||
		    !lossless) {
			tw_throw_code(env, "EINVAL", "loadObject: constant %s must be a u64 bigint", name);
			return false;
		}
		const struct btf_var_secinfo *var = btf_var_secinfos(sec);
		uint16_t n = btf_vlen(sec), k = 0;
		for (; k < n; k++, var++) {
			const struct btf_type *t = btf__type_by_id(btf, var->type);
			if (t && strcmp(btf__name_by_offset(btf, t->name_off), name) == 0)
				break;
		}
		if (k == n) {
			tw_throw_code(env, "EINVAL", "loadObject(%s): no constant named %s", obj_path,
				      name);
			return false;
		}
		if (var->offset + var->size > rodata_size ||
		    (var->size == 4 && value > UINT32_MAX) || (var->size != 4 && var->size != 8)) {
			tw_throw_code(env, "EINVAL",
				      "loadObject(%s): constant %s (%u bytes) cannot hold %llu", obj_path,
				      name, var->size, (unsigned long long)value);
			return false;
		}
		if (var->size == 4) {
			uint32_t v32 = (uint32_t)value;
			memcpy(values + var->offset, &v32, sizeof(v32));
		} else {
			memcpy(values + var->offset, &value, sizeof(value));
		}
	}
	return true;
}

/*
 * Sets the object's load-time constants (`volatile const` globals in .rodata) from a JS object of
 * name -> bigint, before the verifier sees them: it then treats each as the constant it is, and
 * prunes the branches that depend on it. An unknown name, or a value that does not fit the
 * variable, is refused rather than ignored: a typo would silently load the default.
 */
static bool set_constants(napi_env env, struct bpf_object *obj, napi_value constants,
			  const char *obj_path)
{
	napi_value names;
	uint32_t count = 0;
	if (!property_names(env, constants, "constants", &names, &count))
		return false;
	if (count == 0)
		return true;
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	int sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	size_t rodata_size = 0;
	const void *initial = rodata ? bpf_map__initial_value(rodata, &rodata_size) : NULL;
	if (sec_id < 0 || !initial) {
		tw_throw_code(env, "EINVAL", "loadObject(%s): the object has no constants to set",
			      obj_path);
		return false;
	}
	char *values = malloc(rodata_size);
	if (!values) {
		tw_throw_errno(env, ENOMEM, "loadObject(%s): constants", obj_path);
		return false;
	}
	memcpy(values, initial, rodata_size);
	bool ok = fill_constants(env, btf, btf__type_by_id(btf, sec_id), constants, names, count,
				 values, rodata_size, obj_path);
	if (ok) {
		int err = bpf_map__set_initial_value(rodata, values, rodata_size);
		if (err) {
			tw_throw_errno(env, -err, "loadObject(%s): set constants", obj_path);
			ok = false;
		}
	}
	free(values);
	return ok;
}

/*
 * Sets max_entries of the maps named in `sizes` (a JS object of map name -> entries) before the
 * load creates them. A map that is already pinned is reused only if its size matches, so the
 * caller passes the pinned size for those (see src/lb/flow-table-size.ts). An unknown
 * name is refused, like an unknown constant.
 */
static bool set_map_sizes(napi_env env, struct bpf_object *obj, napi_value sizes,
			  const char *obj_path)
{
	napi_value names;
	uint32_t count = 0;
	if (!property_names(env, sizes, "mapSizes", &names, &count))
		return false;
	for (uint32_t i = 0; i < count; i++) {
		napi_value name_v, size_v;
		char name[128];
		uint32_t entries = 0;
		if (napi_get_element(env, names, i, &name_v) != napi_ok ||
		    !tw_arg_string(env, name_v, "map name", name, sizeof(name)) ||
		    napi_get_named_property(env, sizes, name, &size_v) != napi_ok ||
		    !tw_arg_u32(env, size_v, "map size", &entries))
			return false;
		struct bpf_map *map = bpf_object__find_map_by_name(obj, name);
		if (!map || bpf_map__is_internal(map)) {
			tw_throw_code(env, "EINVAL", "loadObject(%s): no map named %s to size", obj_path,
				      name);
			return false;
		}
		int err = entries == 0 ? -EINVAL : bpf_map__set_max_entries(map, entries);
		if (err) {
			tw_throw_errno(env, -err, "loadObject(%s): size map %s to %u entries", obj_path,
				       name, entries);
			return false;
		}
	}
	return true;
}

/*
 * loadObject(objPath, pinDir, constants, mapSizes)
 *   -> {programs: {name: path}, maps: {name: path}, reusedMaps: [name]}
 */
static napi_value load_object(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[4];
	char obj_path[PATH_MAX], pin_dir[PATH_MAX], prog_dir[PATH_MAX], path[PATH_MAX];
	if (!tw_args(env, cbinfo, 4, argv) ||
	    !tw_arg_string(env, argv[0], "objPath", obj_path, sizeof(obj_path)) ||
	    !tw_arg_string(env, argv[1], "pinDir", pin_dir, sizeof(pin_dir)))
		return NULL;
	size_t len = strlen(pin_dir);
	while (len > 1 && pin_dir[len - 1] == '/')
		pin_dir[--len] = '\0';
	if (pin_dir[0] != '/')
		return tw_throw_code(env, "EINVAL", "loadObject: pinDir must be absolute, got %s",
				     pin_dir);
	if (snprintf(prog_dir, sizeof(prog_dir), "%s/progs", pin_dir) >= (int)sizeof(prog_dir))
		return tw_throw_errno(env, ENAMETOOLONG, "loadObject(%s)", pin_dir);
	if (!check_bpffs(env, pin_dir))
		return NULL;
	int err = mkdir_p(prog_dir);
	if (err)
		return tw_throw_errno(env, -err, "loadObject: mkdir %s", prog_dir);

	tw_log_reset();
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (!obj)
		return tw_throw_errno(env, errno, "loadObject(%s): open", obj_path);

	napi_value result = NULL, maps_v, progs_v, reused_v;
	uint32_t reused = 0;
	if (!set_constants(env, obj, argv[2], obj_path) ||
	    !set_map_sizes(env, obj, argv[3], obj_path))
		goto out;
	if (napi_create_object(env, &maps_v) != napi_ok ||
	    napi_create_object(env, &progs_v) != napi_ok ||
	    napi_create_array(env, &reused_v) != napi_ok) {
		tw_throw_errno(env, ENOMEM, "loadObject(%s)", obj_path);
		goto out;
	}

	struct bpf_map *map;
	bpf_object__for_each_map(map, obj) {
		/*
		 * .rodata/.data/.bss/.kconfig belong to this build of the program: libbpf fills them
		 * only when it creates them, so reusing an old pin would run new code on old constants.
		 */
		if (bpf_map__is_internal(map))
			continue;
		const char *name = bpf_map__name(map);
		if (snprintf(path, sizeof(path), "%s/%s", pin_dir, name) >= (int)sizeof(path)) {
			tw_throw_errno(env, ENAMETOOLONG, "loadObject(%s): map %s", obj_path, name);
			goto out;
		}
		err = bpf_map__set_pin_path(map, path);
		if (err) {
			tw_throw_errno(env, -err, "loadObject(%s): set pin path of map %s", obj_path, name);
			goto out;
		}
		if (access(path, F_OK) == 0) {
			napi_value name_v;
			if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &name_v) == napi_ok)
				napi_set_element(env, reused_v, reused++, name_v);
		}
		tw_set_str(env, maps_v, name, path);
	}

	sigset_t signals;
	block_async_signals(&signals);
	err = bpf_object__load(obj);
	pthread_sigmask(SIG_SETMASK, &signals, NULL);
	if (err) {
		tw_throw_errno(env, -err, "loadObject(%s): load with maps pinned in %s", obj_path,
			       pin_dir);
		goto out;
	}

	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		if (snprintf(path, sizeof(path), "%s/%s", prog_dir, name) >= (int)sizeof(path)) {
			tw_throw_errno(env, ENAMETOOLONG, "loadObject(%s): program %s", obj_path, name);
			goto out;
		}
		err = pin_replace(prog, prog_dir, path);
		if (err) {
			tw_throw_errno(env, -err, "loadObject(%s): pin program %s at %s", obj_path, name,
				       path);
			goto out;
		}
		tw_set_str(env, progs_v, name, path);
	}

	if (napi_create_object(env, &result) != napi_ok) {
		result = NULL;
		tw_throw_errno(env, ENOMEM, "loadObject(%s)", obj_path);
		goto out;
	}
	tw_set_value(env, result, "programs", progs_v);
	tw_set_value(env, result, "maps", maps_v);
	tw_set_value(env, result, "reusedMaps", reused_v);
out:
	/* The pins hold the maps and programs; the object's own fds are no longer needed. */
	bpf_object__close(obj);
	release_freed_heap();
	return result;
}

/*
 * kernelHasFunction(name) -> boolean: whether the running kernel's BTF (/sys/kernel/btf/vmlinux)
 * describes a function of that name. A kfunc can be called from a program only if it is there, so
 * this tells which build of an object the kernel can load before trying.
 */
static napi_value kernel_has_function(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1], result;
	char name[128];
	if (!tw_args(env, cbinfo, 1, argv) ||
	    !tw_arg_string(env, argv[0], "name", name, sizeof(name)))
		return NULL;
	tw_log_reset();
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int err = libbpf_get_error(vmlinux);
	if (err)
		return tw_throw_errno(env, -err, "kernelHasFunction(%s): read the kernel's BTF", name);
	bool found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) >= 0;
	btf__free(vmlinux);
	release_freed_heap();
	if (napi_get_boolean(env, found, &result) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "kernelHasFunction(%s)", name);
	return result;
}

/*
 * releaseFreedHeap(): the same, for the daemon's own bursts outside this file (a worker thread's
 * heap torn down after it parsed a services file of tens of megabytes).
 */
static napi_value release_freed_heap_js(napi_env env, napi_callback_info cbinfo)
{
	release_freed_heap();
	return NULL;
}

/*
 * mountBpffs(dir): mounts a bpffs on dir, mode 0700 like the pin directories under it. The
 * caller decides whether a mount there is shared with the pods (src/dataplane/bpf/bpffs.ts).
 */
static napi_value mount_bpffs(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1];
	char dir[PATH_MAX];
	if (!tw_args(env, cbinfo, 1, argv) || !tw_arg_string(env, argv[0], "dir", dir, sizeof(dir)))
		return NULL;
	if (mount("bpf", dir, "bpf", 0, "mode=0700") != 0)
		return tw_throw_errno(env, errno, "mountBpffs: mount -t bpf bpf %s", dir);
	return tw_undefined(env);
}

napi_status tw_object_init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{"loadObject", NULL, load_object, NULL, NULL, NULL, napi_enumerable, NULL},
		{"kernelHasFunction", NULL, kernel_has_function, NULL, NULL, NULL, napi_enumerable,
		 NULL},
		{"releaseFreedHeap", NULL, release_freed_heap_js, NULL, NULL, NULL, napi_enumerable,
		 NULL},
		{"mountBpffs", NULL, mount_bpffs, NULL, NULL, NULL, napi_enumerable, NULL},
	};
	return napi_define_properties(env, exports, 4, props);
}
