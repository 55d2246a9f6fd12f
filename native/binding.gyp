# Two N-API addons in plain C: terway_bpf (the daemon's, over libbpf: BPF maps and programs, tc,
# route netlink in pods' namespaces) and terway_uds (the CNI shim's blocking unix-socket I/O; no
# libraries, so the shim loads it anywhere). Built by scripts/build-native.sh with npm's
# bundled node-gyp against the installed Node headers (--nodedir=/usr), so it never downloads.
# libbpf is linked dynamically: libbpf1 is already on every node (iproute2 depends on it), and its
# headers come from libbpf-dev; no pkg-config needed, the flags are fixed.
{
  "targets": [
    {
      "target_name": "terway_bpf",
      "sources": [
        "src/addon.c",
        "src/common.c",
        "src/maps.c",
        "src/object.c",
        "src/rtnl.c",
        "src/tc.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["-lbpf"]
    },
    {
      "target_name": "terway_uds",
      "sources": ["src/uds.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
