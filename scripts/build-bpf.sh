#!/usr/bin/env bash
# Compiles the Service LB's tc programs (bpf/lb.c, which includes the map contract bpf/lb_maps.h)
# into dist/bpf/lb.o. The object keeps its BTF (-g): the loader needs it for the .maps section, and
# a test compares the struct layouts in it with the daemon's codecs.
# Needs clang (14 on Debian 12) and libbpf-dev (bpf/bpf_helpers.h); run from anywhere.
# BPF_OUT_DIR overrides the output directory (the VM tier, where the repo is read-only).
# BPF_CPU overrides -mcpu: the upgrade tests build a second object from the same source with v2,
# whose instructions (and so its programs' tags) differ, as an older or newer build's would.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="${BPF_OUT_DIR:-$root/dist/bpf}"
# The multiarch include dir holds asm/types.h, which the uapi headers need under -target bpf.
multiarch="/usr/include/$(uname -m)-linux-gnu"

mkdir -p "$out"
tmp=$(mktemp "$out/.lb.o.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# -mcpu=v3: 32-bit jumps and ALU (every kernel since 5.1 has them, so Debian 12's 6.1 too).
clang -O2 -g -Wall -Werror -target bpf -mcpu="${BPF_CPU:-v3}" -I"$multiarch" -I"$root/bpf" \
  -c "$root/bpf/lb.c" -o "$tmp"
# Replaced in one rename: a concurrent reader never sees a half-written object.
mv -f "$tmp" "$out/lb.o"
trap - EXIT
