/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Map access. A map is handed to JavaScript as an opaque, type-tagged External that owns the fd
 * and the map's info, rather than as a bare fd number:
 *  - sizes come from the kernel (bpf_obj_get_info_by_fd at open), never from the caller, so a
 *    buffer is checked against the real key/value size and the kernel never reads past its end;
 *  - close() marks the handle closed, so a second close (or a use after close) cannot hit an
 *    unrelated fd that reused the number; a handle that is dropped without close() is closed by
 *    its finalizer.
 *
 * Keys and values are opaque bytes here: the daemon's codecs encode the structs of bpf/lb_maps.h.
 * Buffers hold `count` entries back to back: keySize bytes per key, valueStride bytes per value.
 * valueStride is valueSize, except for per-CPU maps, whose values are one slot per possible CPU,
 * each rounded up to 8 bytes (the kernel's layout for user-space copies of per-CPU values).
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct tw_map {
	int fd;
	uint32_t value_stride;
	struct bpf_map_info info;
	char *path; /* for messages */
};

/*
 * Batch syscalls on (the default) or off. Off forces the per-element paths that kernels or map
 * types without batch ops take, so tests can run them on a kernel that has batch ops everywhere.
 */
static bool g_batch_ops = true;

static const napi_type_tag MAP_TAG = {0x74657277617962ULL, 0x6d61702d68616e64ULL};

static void map_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	struct tw_map *map = data;
	if (map->fd >= 0)
		close(map->fd);
	free(map->path);
	free(map);
}

static struct tw_map *get_map(napi_env env, napi_value value)
{
	bool tagged = false;
	void *data = NULL;
	if (napi_check_object_type_tag(env, value, &MAP_TAG, &tagged) != napi_ok || !tagged ||
	    napi_get_value_external(env, value, &data) != napi_ok || !data) {
		tw_throw_code(env, "EINVAL", "not a map handle (use mapOpenPinned)");
		return NULL;
	}
	struct tw_map *map = data;
	if (map->fd < 0) {
		tw_throw_code(env, "EBADF", "map %s: the handle is closed", map->path);
		return NULL;
	}
	return map;
}

static bool is_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/*
 * The types whose values are plain data that user space may read and write. Others (program
 * arrays, maps of maps, ring buffers, socket maps...) take or return fds/ids, or have no elements:
 * rejected explicitly rather than half-working.
 */
static bool is_data_map(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_LPM_TRIE:
		return true;
	default:
		return false;
	}
}

static const char *type_name(uint32_t type)
{
	const char *name = libbpf_bpf_map_type_str((enum bpf_map_type)type);
	return name ? name : "unknown";
}

static struct tw_map *get_data_map(napi_env env, napi_value value, const char *op)
{
	struct tw_map *map = get_map(env, value);
	if (map && !is_data_map(map->info.type)) {
		tw_throw_code(env, "EOPNOTSUPP", "%s(%s): map type %s is not supported", op, map->path,
			      type_name(map->info.type));
		return NULL;
	}
	return map;
}

/* Checks that a buffer holds exactly `count` entries of `stride` bytes. */
static bool check_len(napi_env env, const char *op, struct tw_map *map, const char *what,
		      size_t len, uint32_t count, uint32_t stride)
{
	if ((uint64_t)count * stride != len) {
		tw_throw_code(env, "EINVAL",
			      "%s(%s): %s buffer is %zu bytes, expected %u entries x %u bytes = %llu",
			      op, map->path, what, len, count, stride,
			      (unsigned long long)count * stride);
		return false;
	}
	return true;
}

/* Batch ops that the kernel or map type lacks, or rejects for the given flags. */
static bool batch_unsupported(int err)
{
	return err == EINVAL || err == ENOTSUPP || err == EOPNOTSUPP;
}

/*
 * On failure the kernel reports in `count` how many entries it processed, except when it fails
 * before starting (flags rejected, op missing), where it leaves the input value: every processed
 * entry precedes the failing one, so a count equal to the request means "none".
 */
static uint32_t processed(uint32_t reported, uint32_t requested)
{
	return reported < requested ? reported : 0;
}

/* mapOpenPinned(path) -> handle */
static napi_value map_open_pinned(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1], result;
	char path[4096];
	if (!tw_args(env, cbinfo, 1, argv) || !tw_arg_string(env, argv[0], "path", path, sizeof(path)))
		return NULL;
	tw_log_reset();
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return tw_throw_errno(env, -fd, "mapOpenPinned(%s): bpf_obj_get", path);
	if (!tw_fd_is(fd, "bpf-map")) {
		close(fd);
		return tw_throw_code(env, "EINVAL", "mapOpenPinned(%s): the pinned object is not a map",
				     path);
	}
	struct tw_map *map = calloc(1, sizeof(*map));
	char *saved = strdup(path);
	if (!map || !saved) {
		close(fd);
		free(map);
		free(saved);
		return tw_throw_errno(env, ENOMEM, "mapOpenPinned(%s)", path);
	}
	map->fd = fd;
	map->path = saved;
	__u32 len = sizeof(map->info);
	int err = bpf_obj_get_info_by_fd(fd, &map->info, &len);
	if (err) {
		map_finalize(env, map, NULL);
		return tw_throw_errno(env, -err, "mapOpenPinned(%s): bpf_obj_get_info_by_fd", path);
	}
	map->value_stride = map->info.value_size;
	if (is_percpu(map->info.type)) {
		int cpus = libbpf_num_possible_cpus();
		if (cpus <= 0) {
			map_finalize(env, map, NULL);
			return tw_throw_errno(env, cpus < 0 ? -cpus : EINVAL,
					      "mapOpenPinned(%s): counting possible CPUs", path);
		}
		map->value_stride = ((map->info.value_size + 7) & ~7U) * (uint32_t)cpus;
	}
	if (napi_create_external(env, map, map_finalize, NULL, &result) != napi_ok) {
		map_finalize(env, map, NULL);
		return tw_throw_errno(env, ENOMEM, "mapOpenPinned(%s)", path);
	}
	if (napi_type_tag_object(env, result, &MAP_TAG) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "mapOpenPinned(%s): tagging the handle", path);
	return result;
}

/* mapInfo(handle) -> {id, name, type, keySize, valueSize, valueStride, maxEntries, flags, percpu} */
static napi_value map_info(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1], obj;
	if (!tw_args(env, cbinfo, 1, argv))
		return NULL;
	struct tw_map *map = get_map(env, argv[0]);
	if (!map)
		return NULL;
	if (napi_create_object(env, &obj) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "mapInfo(%s)", map->path);
	tw_set_u32(env, obj, "id", map->info.id);
	tw_set_str(env, obj, "name", map->info.name);
	tw_set_str(env, obj, "type", type_name(map->info.type));
	tw_set_u32(env, obj, "keySize", map->info.key_size);
	tw_set_u32(env, obj, "valueSize", map->info.value_size);
	tw_set_u32(env, obj, "valueStride", map->value_stride);
	tw_set_u32(env, obj, "maxEntries", map->info.max_entries);
	tw_set_u32(env, obj, "flags", map->info.map_flags);
	tw_set_bool(env, obj, "percpu", is_percpu(map->info.type));
	return obj;
}

/* mapClose(handle): idempotent. */
static napi_value map_close(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1];
	if (!tw_args(env, cbinfo, 1, argv))
		return NULL;
	bool tagged = false;
	void *data = NULL;
	if (napi_check_object_type_tag(env, argv[0], &MAP_TAG, &tagged) != napi_ok || !tagged ||
	    napi_get_value_external(env, argv[0], &data) != napi_ok || !data)
		return tw_throw_code(env, "EINVAL", "not a map handle (use mapOpenPinned)");
	struct tw_map *map = data;
	if (map->fd >= 0) {
		close(map->fd);
		map->fd = -1;
	}
	return tw_undefined(env);
}

static napi_value make_u32(napi_env env, uint32_t v)
{
	napi_value out = NULL;
	napi_create_uint32(env, v, &out);
	return out;
}

/*
 * mapUpdateBatch(handle, keys, values, count, flags) -> count
 * flags: BPF_ANY (0), BPF_NOEXIST (1), BPF_EXIST (2), optionally | BPF_F_LOCK (4).
 * Entries are written in order; a failure leaves the entries before it written and says how many.
 */
static napi_value map_update_batch(napi_env env, napi_callback_info cbinfo)
{
	static const char op[] = "mapUpdateBatch";
	napi_value argv[5];
	void *keys, *values;
	size_t klen, vlen;
	uint32_t count, flags;
	if (!tw_args(env, cbinfo, 5, argv))
		return NULL;
	struct tw_map *map = get_data_map(env, argv[0], op);
	if (!map || !tw_arg_buffer(env, argv[1], "keys", &keys, &klen) ||
	    !tw_arg_buffer(env, argv[2], "values", &values, &vlen) ||
	    !tw_arg_u32(env, argv[3], "count", &count) || !tw_arg_u32(env, argv[4], "flags", &flags) ||
	    !check_len(env, op, map, "keys", klen, count, map->info.key_size) ||
	    !check_len(env, op, map, "values", vlen, count, map->value_stride))
		return NULL;
	const uint8_t *k = keys, *v = values;
	const uint32_t ks = map->info.key_size, vs = map->value_stride;
	uint32_t done = 0;
	tw_log_reset();

	/*
	 * The kernel's batch update takes no element flags but BPF_F_LOCK (NOEXIST/EXIST are
	 * EINVAL), so those go element by element from the start instead of costing a failed call.
	 */
	if (g_batch_ops && (flags & ~(uint32_t)BPF_F_LOCK) == BPF_ANY && count > 0) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
		uint32_t n = count;
		int err = bpf_map_update_batch(map->fd, k, v, &n, &opts);
		if (!err)
			return make_u32(env, count);
		done = processed(n, count);
		if (!batch_unsupported(-err) || done > 0)
			return tw_throw_errno(env, -err, "%s(%s): entry %u of %u (the %u before it were written)",
					      op, map->path, done, count, done);
	}
	/* Per element: kernels or map types without the batch op, and NOEXIST/EXIST. */
	for (; done < count; done++) {
		int err = bpf_map_update_elem(map->fd, k + (size_t)done * ks, v + (size_t)done * vs,
					      flags);
		if (err)
			return tw_throw_errno(env, -err, "%s(%s): entry %u of %u (the %u before it were written)",
					      op, map->path, done, count, done);
	}
	return make_u32(env, count);
}

/*
 * mapDeleteBatch(handle, keys, count) -> number deleted. A key that is not in the map is skipped,
 * not an error: deleting is idempotent for the reconciler.
 */
static napi_value map_delete_batch(napi_env env, napi_callback_info cbinfo)
{
	static const char op[] = "mapDeleteBatch";
	napi_value argv[3];
	void *keys;
	size_t klen;
	uint32_t count;
	if (!tw_args(env, cbinfo, 3, argv))
		return NULL;
	struct tw_map *map = get_data_map(env, argv[0], op);
	if (!map || !tw_arg_buffer(env, argv[1], "keys", &keys, &klen) ||
	    !tw_arg_u32(env, argv[2], "count", &count) ||
	    !check_len(env, op, map, "keys", klen, count, map->info.key_size))
		return NULL;
	const uint8_t *k = keys;
	const uint32_t ks = map->info.key_size;
	uint32_t i = 0, deleted = 0;
	bool batch = g_batch_ops;
	tw_log_reset();
	while (i < count) {
		if (batch) {
			LIBBPF_OPTS(bpf_map_batch_opts, opts);
			uint32_t want = count - i, n = want;
			int err = bpf_map_delete_batch(map->fd, k + (size_t)i * ks, &n, &opts);
			if (!err) {
				deleted += want;
				break;
			}
			n = processed(n, want);
			deleted += n;
			i += n;
			if (-err == ENOENT) {
				/* The batch stops at the first missing key: skip it and go on. */
				i++;
				continue;
			}
			if (batch_unsupported(-err) && n == 0) {
				batch = false;
				continue;
			}
			return tw_throw_errno(env, -err, "%s(%s): entry %u of %u (%u deleted before it)", op,
					      map->path, i, count, deleted);
		}
		int err = bpf_map_delete_elem(map->fd, k + (size_t)i * ks);
		if (!err)
			deleted++;
		else if (-err != ENOENT)
			return tw_throw_errno(env, -err, "%s(%s): entry %u of %u (%u deleted before it)", op,
					      map->path, i, count, deleted);
		i++;
	}
	return make_u32(env, deleted);
}

/* mapLookup(handle, key) -> Buffer (valueStride bytes) | null */
static napi_value map_lookup(napi_env env, napi_callback_info cbinfo)
{
	static const char op[] = "mapLookup";
	napi_value argv[2], result;
	void *key, *value;
	size_t klen;
	if (!tw_args(env, cbinfo, 2, argv))
		return NULL;
	struct tw_map *map = get_data_map(env, argv[0], op);
	if (!map || !tw_arg_buffer(env, argv[1], "key", &key, &klen) ||
	    !check_len(env, op, map, "key", klen, 1, map->info.key_size))
		return NULL;
	if (napi_create_buffer(env, map->value_stride, &value, &result) != napi_ok)
		return tw_throw_errno(env, ENOMEM, "%s(%s)", op, map->path);
	tw_log_reset();
	int err = bpf_map_lookup_elem(map->fd, key, value);
	if (err == -ENOENT)
		return tw_null(env);
	if (err)
		return tw_throw_errno(env, -err, "%s(%s)", op, map->path);
	return result;
}

/* A growable pair of key/value arrays for dumps. */
struct dump_buf {
	uint8_t *keys, *values;
	uint32_t len, cap, ks, vs;
};

static bool dump_reserve(struct dump_buf *d, uint32_t cap)
{
	if (cap <= d->cap)
		return true;
	/* Both strides are >= 1: the kernel refuses maps with a zero key or value size here. */
	uint8_t *k = realloc(d->keys, (size_t)cap * d->ks);
	if (!k)
		return false;
	d->keys = k;
	uint8_t *v = realloc(d->values, (size_t)cap * d->vs);
	if (!v)
		return false;
	d->values = v;
	d->cap = cap;
	return true;
}

/* Walks the map with get_next_key + lookup: for maps without the batch op (LPM trie, old kernels). */
static int dump_iterate(int fd, struct dump_buf *d)
{
	uint8_t *prev = NULL;
	uint8_t *next = malloc(d->ks);
	uint8_t *cur = malloc(d->ks);
	int err = 0;
	if (!next || !cur) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		err = bpf_map_get_next_key(fd, prev, next);
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err)
			break;
		memcpy(cur, next, d->ks);
		prev = cur;
		if (d->len == d->cap && !dump_reserve(d, d->cap ? d->cap * 2 : 64)) {
			err = -ENOMEM;
			break;
		}
		err = bpf_map_lookup_elem(fd, cur, d->values + (size_t)d->len * d->vs);
		if (err == -ENOENT) /* deleted meanwhile */
			continue;
		if (err)
			break;
		memcpy(d->keys + (size_t)d->len * d->ks, cur, d->ks);
		d->len++;
	}
out:
	free(next);
	free(cur);
	return err;
}

/*
 * Batched dump. Hash maps page by bucket and return ENOSPC when one bucket does not fit in the
 * room offered (the buffer then grows); ENOENT marks the end, with the last page's entries.
 * The resume token is a bucket index for hash maps and a key for arrays: sized for either.
 */
static int dump_batch(int fd, struct dump_buf *d, uint32_t max_entries)
{
	size_t token_size = d->ks > 8 ? d->ks : 8;
	uint8_t *in = calloc(1, token_size), *out = calloc(1, token_size);
	bool first = true;
	int err = 0;
	if (!in || !out || !dump_reserve(d, max_entries < 4096 ? (max_entries ? max_entries : 1) : 4096)) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (d->cap - d->len < 64 && !dump_reserve(d, d->cap * 2)) {
			err = -ENOMEM;
			break;
		}
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t want = d->cap - d->len, n = want;
		err = bpf_map_lookup_batch(fd, first ? NULL : in, out, d->keys + (size_t)d->len * d->ks,
					   d->values + (size_t)d->len * d->vs, &n, &opts);
		if (err == -ENOSPC) {
			if (d->cap > UINT32_MAX / 2 || !dump_reserve(d, d->cap * 2)) {
				err = -ENOMEM;
				break;
			}
			continue;
		}
		if (err && err != -ENOENT)
			break;
		d->len += n <= want ? n : 0;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		memcpy(in, out, token_size);
		first = false;
	}
out:
	free(in);
	free(out);
	return err;
}

/* The whole map: the batched walk, or get_next_key + lookup where batch ops are missing. */
static int dump_all(int fd, struct dump_buf *d, uint32_t max_entries)
{
	int err = g_batch_ops ? dump_batch(fd, d, max_entries) : -ENOTSUPP;
	if (err && d->len == 0 && batch_unsupported(-err))
		err = dump_iterate(fd, d);
	return err;
}

/*
 * One page of a batched walk, into d (empty): room for `want` entries, more only when one hash
 * bucket needs it; resumed after token `in` (NULL: from the start). `out` receives the token to
 * resume from, and *done tells that the walk is over. A map or kernel without the batch op is
 * walked whole, in one page: get_next_key from a key deleted since the last page would start the
 * walk over, and the caller deletes as it goes.
 */
static int dump_page(int fd, struct dump_buf *d, uint32_t want, uint8_t *in, uint8_t *out,
		     bool *done)
{
	if (!dump_reserve(d, want ? want : 1))
		return -ENOMEM;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t n = d->cap;
		int err = g_batch_ops ? bpf_map_lookup_batch(fd, in, out, d->keys, d->values, &n, &opts) :
					-ENOTSUPP;
		if (err == -ENOSPC) {
			/* Nothing fit: the next bucket holds more than the page. */
			if (d->cap > UINT32_MAX / 2 || !dump_reserve(d, d->cap * 2))
				return -ENOMEM;
			continue;
		}
		if (err && err != -ENOENT) {
			if (in || !batch_unsupported(-err))
				return err;
			*done = true;
			return dump_iterate(fd, d);
		}
		d->len = n <= d->cap ? n : 0;
		*done = err == -ENOENT;
		return 0;
	}
}

static void free_bytes(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	free(data);
}

/* The bytes as a Buffer that owns them, or a copy where external buffers are not allowed. */
static bool hand_over(napi_env env, uint8_t **bytes, size_t len, napi_value *out)
{
	if (len > 0 && napi_create_external_buffer(env, len, *bytes, free_bytes, NULL, out) == napi_ok) {
		*bytes = NULL;
		return true;
	}
	return napi_create_buffer_copy(env, len, *bytes, NULL, out) == napi_ok;
}

/* {keys, values, count} from a finished walk; the buffers it hands over are no longer d's. */
static bool dump_object(napi_env env, struct dump_buf *d, napi_value *out)
{
	napi_value keys_v, values_v;
	if (!hand_over(env, &d->keys, (size_t)d->len * d->ks, &keys_v) ||
	    !hand_over(env, &d->values, (size_t)d->len * d->vs, &values_v) ||
	    napi_create_object(env, out) != napi_ok)
		return false;
	tw_set_value(env, *out, "keys", keys_v);
	tw_set_value(env, *out, "values", values_v);
	tw_set_u32(env, *out, "count", d->len);
	return true;
}

/* mapDump(handle) -> {keys, values, count} */
static napi_value map_dump(napi_env env, napi_callback_info cbinfo)
{
	static const char op[] = "mapDump";
	napi_value argv[1], obj;
	if (!tw_args(env, cbinfo, 1, argv))
		return NULL;
	struct tw_map *map = get_data_map(env, argv[0], op);
	if (!map)
		return NULL;
	struct dump_buf d = {.ks = map->info.key_size, .vs = map->value_stride};
	tw_log_reset();
	int err = dump_all(map->fd, &d, map->info.max_entries);
	napi_value result = NULL;
	if (err)
		tw_throw_errno(env, -err, "%s(%s)", op, map->path);
	else if (!dump_object(env, &d, &obj))
		tw_throw_errno(env, ENOMEM, "%s(%s)", op, map->path);
	else
		result = obj;
	free(d.keys);
	free(d.values);
	return result;
}

/*
 * mapDumpAsync(handle) -> Promise<{keys, values, count}>: mapDump on a thread of libuv's pool. A
 * full 262,144-entry flow map takes the kernel 0.1-0.3 s to walk, which on the main thread would
 * hold up every other call of the daemon (CNI ADDs among them) for as long. The work uses its own
 * dup of the fd, so the handle may be closed meanwhile without the walk reading an fd number that
 * was reused.
 */
struct dump_work {
	napi_async_work work;
	napi_deferred deferred;
	int fd;
	uint32_t max_entries;
	struct dump_buf d;
	int err;
	char *path;
	const char *op;
	/* A page (mapDumpPageAsync): its size, the tokens it resumes after and ends at. */
	bool paged, has_in, done;
	uint32_t want;
	size_t token_size;
	uint8_t *in, *out;
};

static void dump_work_execute(napi_env env, void *data)
{
	(void)env;
	struct dump_work *w = data;
	if (w->paged)
		w->err = dump_page(w->fd, &w->d, w->want, w->has_in ? w->in : NULL, w->out, &w->done);
	else
		w->err = dump_all(w->fd, &w->d, w->max_entries);
}

/* A page's result: the walk's, plus the token to resume from (null once the walk is over). */
static bool page_object(napi_env env, struct dump_work *w, napi_value *out)
{
	napi_value token;
	if (!dump_object(env, &w->d, out))
		return false;
	if (w->done)
		token = tw_null(env);
	else if (napi_create_buffer_copy(env, w->token_size, w->out, NULL, &token) != napi_ok)
		return false;
	tw_set_value(env, *out, "token", token);
	return true;
}

static void dump_work_free(struct dump_work *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->d.keys);
	free(w->d.values);
	free(w->path);
	free(w->in);
	free(w->out);
	free(w);
}

static void dump_work_complete(napi_env env, napi_status status, void *data)
{
	struct dump_work *w = data;
	napi_value obj, error;
	int err = status == napi_ok ? -w->err : ECANCELED;
	if (err == 0 && !(w->paged ? page_object(env, w, &obj) : dump_object(env, &w->d, &obj)))
		err = ENOMEM;
	if (err == 0) {
		napi_resolve_deferred(env, w->deferred, obj);
	} else {
		/* The message and code mapDump would throw, taken back as a value to reject with. */
		tw_log_reset();
		tw_throw_errno(env, err, "%s(%s)", w->op, w->path);
		if (napi_get_and_clear_last_exception(env, &error) == napi_ok)
			napi_reject_deferred(env, w->deferred, error);
	}
	napi_delete_async_work(env, w->work);
	dump_work_free(w);
}

/* A walk of `map` for a thread of libuv's pool, with its own dup of the fd; NULL (thrown) on failure. */
static struct dump_work *dump_work_new(napi_env env, struct tw_map *map, const char *op)
{
	struct dump_work *w = calloc(1, sizeof(*w));
	if (!w) {
		tw_throw_errno(env, ENOMEM, "%s(%s)", op, map->path);
		return NULL;
	}
	w->op = op;
	w->d.ks = map->info.key_size;
	w->d.vs = map->value_stride;
	w->max_entries = map->info.max_entries;
	/* The resume token is a bucket index for hash maps and a key for arrays: sized for either. */
	w->token_size = map->info.key_size > 8 ? map->info.key_size : 8;
	w->path = strdup(map->path);
	w->fd = fcntl(map->fd, F_DUPFD_CLOEXEC, 0);
	if (w->fd < 0 || !w->path) {
		int err = w->fd < 0 ? errno : ENOMEM;
		dump_work_free(w);
		tw_throw_errno(env, err, "%s(%s): dup of the map fd", op, map->path);
		return NULL;
	}
	return w;
}

/* Queues the walk; its promise, or NULL (thrown, and the work freed). */
static napi_value dump_work_queue(napi_env env, struct dump_work *w)
{
	napi_value promise, name;
	if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
	    napi_create_string_utf8(env, w->op, NAPI_AUTO_LENGTH, &name) != napi_ok ||
	    napi_create_async_work(env, NULL, name, dump_work_execute, dump_work_complete, w,
				   &w->work) != napi_ok ||
	    napi_queue_async_work(env, w->work) != napi_ok) {
		tw_throw_errno(env, ENOMEM, "%s(%s): queueing the walk", w->op, w->path);
		dump_work_free(w);
		return NULL;
	}
	return promise;
}

static napi_value map_dump_async(napi_env env, napi_callback_info cbinfo)
{
	static const char op[] = "mapDumpAsync";
	napi_value argv[1];
	if (!tw_args(env, cbinfo, 1, argv))
		return NULL;
	struct tw_map *map = get_data_map(env, argv[0], op);
	if (!map)
		return NULL;
	struct dump_work *w = dump_work_new(env, map, op);
	return w ? dump_work_queue(env, w) : NULL;
}

/*
 * mapDumpPageAsync(handle, token, pageEntries) -> Promise<{keys, values, count, token}>: one page
 * of a walk on a thread of libuv's pool, from the start (token null) or after the page that
 * returned `token`; the result's token is null once the walk is over. A walk in pages holds one
 * page at a time where mapDumpAsync holds the whole map (a full flow map: 19 MB), and the caller
 * may delete entries between pages: the kernel resumes at the next bucket.
 */
static napi_value map_dump_page_async(napi_env env, napi_callback_info cbinfo)
{
	static const char op[] = "mapDumpPageAsync";
	napi_value argv[3];
	napi_valuetype token_type;
	uint32_t want;
	void *token = NULL;
	size_t token_len = 0;
	if (!tw_args(env, cbinfo, 3, argv) || !tw_arg_u32(env, argv[2], "pageEntries", &want))
		return NULL;
	if (napi_typeof(env, argv[1], &token_type) != napi_ok)
		return tw_throw_code(env, "EINVAL", "%s: unreadable token", op);
	if (token_type != napi_null && !tw_arg_buffer(env, argv[1], "token", &token, &token_len))
		return NULL;
	struct tw_map *map = get_data_map(env, argv[0], op);
	if (!map)
		return NULL;
	if (want == 0)
		return tw_throw_code(env, "EINVAL", "%s(%s): a page of 0 entries", op, map->path);
	struct dump_work *w = dump_work_new(env, map, op);
	if (!w)
		return NULL;
	if (token && token_len != w->token_size) {
		size_t expected = w->token_size;
		dump_work_free(w);
		return tw_throw_code(env, "EINVAL", "%s(%s): a token of %zu bytes, not %zu", op,
				     map->path, token_len, expected);
	}
	w->paged = true;
	w->want = want;
	w->has_in = token != NULL;
	w->in = calloc(1, w->token_size);
	w->out = calloc(1, w->token_size);
	if (!w->in || !w->out) {
		dump_work_free(w);
		return tw_throw_errno(env, ENOMEM, "%s(%s)", op, map->path);
	}
	if (token)
		memcpy(w->in, token, w->token_size);
	return dump_work_queue(env, w);
}

struct tw_mapping {
	void *addr;
	size_t len;
};

static void mapping_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)data;
	struct tw_mapping *mapping = hint;
	munmap(mapping->addr, mapping->len);
	free(mapping);
}

/*
 * mapMmap(handle) -> ArrayBuffer over the map's values. Only for arrays created with
 * BPF_F_MMAPABLE: writing a value is then a store to shared memory the program reads directly,
 * with no syscall. A 100,000-backend initial sync costs microseconds instead of the tens of
 * milliseconds even a batch update spends copying each element in. Values sit every
 * round_up(valueSize, 8) bytes (the kernel's array element size). The mapping holds its own
 * reference on the map, so it stays valid after the handle is closed; it is unmapped when the
 * ArrayBuffer is garbage-collected.
 */
static napi_value map_mmap(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1], result;
	if (!tw_args(env, cbinfo, 1, argv))
		return NULL;
	struct tw_map *map = get_map(env, argv[0]);
	if (!map)
		return NULL;
	if (map->info.type != BPF_MAP_TYPE_ARRAY || !(map->info.map_flags & BPF_F_MMAPABLE))
		return tw_throw_code(env, "EOPNOTSUPP",
				     "mapMmap(%s): only arrays created with BPF_F_MMAPABLE can be mapped",
				     map->path);
	long page = sysconf(_SC_PAGESIZE);
	size_t elem = ((size_t)map->info.value_size + 7) & ~(size_t)7;
	size_t len = elem * map->info.max_entries;
	len = (len + (size_t)page - 1) & ~((size_t)page - 1);
	struct tw_mapping *mapping = calloc(1, sizeof(*mapping));
	if (!mapping)
		return tw_throw_errno(env, ENOMEM, "mapMmap(%s)", map->path);
	void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, map->fd, 0);
	if (addr == MAP_FAILED) {
		int err = errno;
		free(mapping);
		return tw_throw_errno(env, err, "mapMmap(%s): mmap of %zu bytes", map->path, len);
	}
	mapping->addr = addr;
	mapping->len = len;
	if (napi_create_external_arraybuffer(env, addr, len, mapping_finalize, mapping, &result) !=
	    napi_ok) {
		munmap(addr, len);
		free(mapping);
		return tw_throw_errno(env, ENOMEM, "mapMmap(%s): wrapping the mapping", map->path);
	}
	return result;
}

/* setBatchOps(enabled): see g_batch_ops. Test-only. */
static napi_value set_batch_ops(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1];
	bool enabled;
	if (!tw_args(env, cbinfo, 1, argv))
		return NULL;
	if (napi_get_value_bool(env, argv[0], &enabled) != napi_ok)
		return tw_throw_code(env, "EINVAL", "setBatchOps: expected a boolean");
	g_batch_ops = enabled;
	return tw_undefined(env);
}

napi_status tw_maps_init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{"mapOpenPinned", NULL, map_open_pinned, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapInfo", NULL, map_info, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapClose", NULL, map_close, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapUpdateBatch", NULL, map_update_batch, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapDeleteBatch", NULL, map_delete_batch, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapLookup", NULL, map_lookup, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapDump", NULL, map_dump, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapDumpPageAsync", NULL, map_dump_page_async, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapDumpAsync", NULL, map_dump_async, NULL, NULL, NULL, napi_enumerable, NULL},
		{"mapMmap", NULL, map_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
		{"setBatchOps", NULL, set_batch_ops, NULL, NULL, NULL, napi_enumerable, NULL},
	};
	return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
