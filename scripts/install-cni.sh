#!/bin/sh
# Installs the terway CNI plugin on a node from the terway-node image: what the Helm chart's init
# container runs before terwayd starts (charts/terway-node). Every path is the node's, seen under
# HOST_ROOT (where the chart mounts the node's directories; empty when run on the node itself).
#
#   TERWAY_RUNTIME_DIR  /opt/terway-node      the node's copy of this image's Node.js (bin/node)
#   CNI_BIN_DIR         /opt/cni/bin          terway (the launcher), terway-main.cjs, terway_uds.node
#   CNI_CONF_DIR        /etc/cni/net.d        where CNI_CONFLIST is installed as CNI_CONF_NAME
#   CNI_CONF_NAME       10-terway.conflist
#   CNI_CONFLIST        (unset: none)         the network configuration to install
#   TERWAY_BUNDLE_DIR   /opt/terway-node/dist/bundle   the shim's files in the image
#   MOUNT_BPFFS         0                     1: mount a bpffs at the node's /sys/fs/bpf when none
#                                             is (needs the host PID namespace and privileges)
#   HOST_MOUNT_NS       /proc/1/ns/mnt        the node's mount namespace, for that mount
#
# The runtime execs the plugin once per pod, any time: every file is written beside its target
# and renamed over it, so an exec sees the old file or the new one, never half of one. The
# network configuration goes last: the runtime takes the node's network as ready once it is
# there, and by then the plugin is.
set -eu

host_root=${HOST_ROOT-/host}
runtime_dir=${TERWAY_RUNTIME_DIR:-/opt/terway-node}
cni_bin_dir=${CNI_BIN_DIR:-/opt/cni/bin}
cni_conf_dir=${CNI_CONF_DIR:-/etc/cni/net.d}
cni_conf_name=${CNI_CONF_NAME:-10-terway.conflist}
bundle_dir=${TERWAY_BUNDLE_DIR:-/opt/terway-node/dist/bundle}

say() { echo "install-cni: $*"; }
die() {
  echo "install-cni: $*" >&2
  exit 1
}

for path in "$runtime_dir" "$cni_bin_dir" "$cni_conf_dir"; do
  case $path in
  /*) ;;
  *) die "not an absolute path: $path" ;;
  esac
done
for file in terway.cjs terway-main.cjs terway_uds.node; do
  [ -f "$bundle_dir/$file" ] || die "the shim's $file is missing from $bundle_dir"
done
node_bin=$(command -v node) || die "no node on PATH: the shim needs this image's Node.js"

# install_file <source> <target> <mode>: a copy beside the target, renamed over it.
install_file() {
  tmp="$2.install.$$"
  cp "$1" "$tmp"
  chmod "$3" "$tmp"
  mv -f "$tmp" "$2"
}

mkdir -p "$host_root$runtime_dir/bin" "$host_root$cni_bin_dir" "$host_root$cni_conf_dir"

# The shim is a Node.js program; the node needs no Node.js of its own, it gets this one. Copied
# only when it differs: it is about 100 MB, and this runs at every start of the pod.
if cmp -s "$node_bin" "$host_root$runtime_dir/bin/node"; then
  say "Node.js $("$node_bin" --version) already in $runtime_dir/bin/node"
else
  install_file "$node_bin" "$host_root$runtime_dir/bin/node" 0755
  say "Node.js $("$node_bin" --version) in $runtime_dir/bin/node"
fi

install_file "$bundle_dir/terway-main.cjs" "$host_root$cni_bin_dir/terway-main.cjs" 0644
install_file "$bundle_dir/terway_uds.node" "$host_root$cni_bin_dir/terway_uds.node" 0644
# The launcher runs under that Node.js: its first line names it instead of `env node`.
launcher="$host_root$cni_bin_dir/terway.install.$$"
{
  echo "#!$runtime_dir/bin/node"
  tail -n +2 "$bundle_dir/terway.cjs"
} >"$launcher"
chmod 0755 "$launcher"
mv -f "$launcher" "$host_root$cni_bin_dir/terway"
say "the terway plugin in $cni_bin_dir"

if [ -n "${CNI_CONFLIST:-}" ]; then
  [ -f "$CNI_CONFLIST" ] || die "CNI_CONFLIST names no file: $CNI_CONFLIST"
  install_file "$CNI_CONFLIST" "$host_root$cni_conf_dir/$cni_conf_name" 0644
  say "network configuration $cni_conf_dir/$cni_conf_name"
fi

if [ "${MOUNT_BPFFS:-0}" = 1 ]; then
  # In the node's mount namespace (PID 1's): a bpffs mounted in this container's would vanish
  # with it, and terwayd pins the Service LB's maps there.
  nsenter --mount="${HOST_MOUNT_NS:-/proc/1/ns/mnt}" -- sh -c \
    'stat -f -c %T /sys/fs/bpf | grep -qx bpf_fs || mount -t bpf -o mode=0700 bpf /sys/fs/bpf' ||
    die "cannot mount a bpffs at the node's /sys/fs/bpf"
  say "/sys/fs/bpf is a bpffs on the node"
fi
