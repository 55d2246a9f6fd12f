#!/usr/bin/env bash
# Compiles the Service LB's tc programs (bpf/lb.c, which includes the map contract bpf/lb_maps.h)
# into dist/bpf/lb.o, for Linux 6.3 and later (it reads the skb's checksum state through the
# bpf_cast_to_kern_ctx kfunc), and dist/bpf/lb-compat.o, the same programs without that kfunc for
# Linux 5.10 to 6.2 (one more helper call per translated packet). terwayd picks the one the running
# kernel can load (src/dataplane/bpf/lb-object.ts). Both have the same maps. Each object keeps its BTF (-g): the loader needs it for the .maps section, and
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
build() {
  local target=$1
  shift
  # -mcpu=v3: 32-bit jumps and ALU (every kernel since 5.1 has them, so Debian 12's 6.1 too).
  clang -O2 -g -Wall -Werror -target bpf -mcpu="${BPF_CPU:-v3}" -I"$multiarch" -I"$root/bpf" \
    "$@" -c "$root/bpf/lb.c" -o "$tmp"
  # Replaced in one rename: a concurrent reader never sees a half-written object.
  mv -f "$tmp" "$out/$target"
}
build lb.o -DTW_KERN_CTX
build lb-compat.o
trap - EXIT
