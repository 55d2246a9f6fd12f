# The terway_bpf N-API addon (plain C over libbpf). Built by scripts/build-native.sh with npm's
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
        "src/tc.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["-lbpf"]
    }
  ]
}
