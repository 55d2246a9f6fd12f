#!/usr/bin/env bash
# Builds the N-API addons (native/) and installs them: dist/native/terway_bpf.node (terwayd's) and
# dist/bundle/terway_uds.node (beside the bundled CNI shim, which loads it from its own directory).
#
# Offline by construction: npm's bundled node-gyp, the Node headers of the installed node
# (--nodedir), Debian's libbpf-dev. Needs, on Debian 12: clang (the compiler; gcc works too with
# CC=gcc CXX=g++), make, python3 (node-gyp; nodejs depends on it), libbpf-dev, flock (util-linux).
#
# Incremental: node-gyp configures native/build/ once (again only when the Node headers, the
# compiler or binding.gyp change); after that plain make rebuilds only what changed, so a build
# with nothing to do takes a few milliseconds. dist/ is wiped by every full build, so the copy
# into it always happens.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
native="$root/native"
build="$native/build"
out="$root/dist/native/terway_bpf.node"

die() {
  echo "build-native: $*" >&2
  exit 1
}

# Two builds at once (two terminals, a build during a test run) would share native/build/.
exec 9<"$native"
flock 9

export CC="${CC:-clang}" CXX="${CXX:-clang++}"
command -v "$CC" >/dev/null || die "no C compiler '$CC' (apt-get install clang, or set CC/CXX)"
command -v make >/dev/null || die "make is missing (apt-get install make)"
command -v python3 >/dev/null || die "python3 is missing (node-gyp needs it)"

node_bin=$(readlink -f "$(command -v node)")
nodedir="${TERWAY_NODEDIR:-$(dirname "$(dirname "$node_bin")")}"
[[ -f "$nodedir/include/node/node_api.h" ]] ||
  die "no Node headers in $nodedir/include/node (set TERWAY_NODEDIR to the prefix that has them)"

stamp_want="node=$(node -p process.version) nodedir=$nodedir cc=$CC cxx=$CXX"
stamp_file="$build/.configured"
if [[ ! -f "$build/Makefile" || ! -f "$stamp_file" || "$(cat "$stamp_file")" != "$stamp_want" ||
  "$native/binding.gyp" -nt "$build/Makefile" ]]; then
  echo '#include <bpf/libbpf.h>' | "$CC" -E -x c - -o /dev/null 2>/dev/null ||
    die "libbpf headers are missing (apt-get install libbpf-dev)"
  # npm's own node-gyp, found next to the npm that is installed; NODE_GYP overrides.
  node_gyp="${NODE_GYP:-}"
  if [[ -z "$node_gyp" ]]; then
    npm_cli=$(readlink -f "$(command -v npm)")
    node_gyp="$(dirname "$(dirname "$npm_cli")")/node_modules/node-gyp/bin/node-gyp.js"
    [[ -f "$node_gyp" ]] || node_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  fi
  [[ -f "$node_gyp" ]] || die "cannot find npm's bundled node-gyp (set NODE_GYP)"
  rm -rf "$build"
  (cd "$native" && node "$node_gyp" configure --nodedir="$nodedir" --loglevel=warn)
  echo "$stamp_want" >"$stamp_file"
fi

make -s -C "$build" BUILDTYPE=Release -j"$(nproc)" >/dev/null

# Replace, never overwrite in place: a running daemon has the old file mapped, and truncating a
# mapped shared object crashes it.
install_addon() {
  local from=$1 to=$2 tmp
  mkdir -p "$(dirname "$to")"
  tmp="$to.tmp.$$"
  cp "$from" "$tmp"
  mv -f "$tmp" "$to"
}
install_addon "$build/Release/terway_bpf.node" "$out"
# The shim's addon sits beside the bundled shim, where the shim looks for it.
install_addon "$build/Release/terway_uds.node" "$root/dist/bundle/terway_uds.node"
