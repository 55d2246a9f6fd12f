/* SPDX-License-Identifier: Apache-2.0 */
/*
 * terway_bpf: the daemon's N-API addon over libbpf. Programming the Service LB's maps through
 * batch syscalls takes milliseconds where one bpftool process per entry takes minutes, and tc
 * attach happens in the pod's netns without a process (see tc.c). Plain C on node_api.h: no C++
 * toolchain features, ABI-stable across Node versions.
 */
#include "common.h"

NAPI_MODULE_INIT()
{
	tw_log_install();
	if (tw_maps_init(env, exports) != napi_ok || tw_object_init(env, exports) != napi_ok ||
	    tw_tc_init(env, exports) != napi_ok ||
	    tw_rtnl_init(env, exports) != napi_ok) {
		napi_throw_error(env, NULL, "terway_bpf: cannot register functions");
		return NULL;
	}
	return exports;
}
