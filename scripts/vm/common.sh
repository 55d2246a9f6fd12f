# shellcheck shell=bash disable=SC2034  # sourced; the variables are used by the scripts
# Shared by scripts/vm/*.sh (sourced, not run): where the VM tier keeps its cache, and how it
# logs. Everything here is a plain function or variable, so sourcing it has no side effects.

# The cache survives between runs (the kernel .deb is 70 MB and extracting it takes seconds).
# Root gets a system-wide cache; anyone else a per-user one. TERWAY_VM_CACHE overrides both.
# TERWAY_VM_SUITE (a Debian release whose kernel the VM boots, see prepare.sh) gets a cache of its
# own inside that one, so that the two kernels' runs never take each other's current.env.
vm_cache_dir() {
  local base
  if [[ -n ${TERWAY_VM_CACHE:-} ]]; then
    base=$TERWAY_VM_CACHE
  elif [[ $(id -u) -eq 0 ]]; then
    base=/var/cache/terway-node-vm
  else
    base=${XDG_CACHE_HOME:-$HOME/.cache}/terway-node-vm
  fi
  if [[ -n ${TERWAY_VM_SUITE:-} ]]; then
    echo "$base/suite-$TERWAY_VM_SUITE"
  else
    echo "$base"
  fi
}

# The packages the VM tier needs on the host. qemu-system-x86 is installed without recommends
# (it would otherwise pull in a desktop's worth of display libraries).
VM_APT_PACKAGES=(qemu-system-x86 busybox-static)

# qboot boots a Linux kernel about 1 s faster than SeaBIOS; Debian ships it in qemu-system-data.
VM_QBOOT_ROM=/usr/share/qemu/qboot.rom

# The modules the guest loads at boot, in the order the brief asks for. Their dependencies are
# added from modules.dep, so only the modules a test needs by name are listed.
#  - virtio PCI + virtio_net: the guest's eth0 (an ipvlan parent, like an ENI on a real node);
#  - 9p over virtio: the host's root file system and the writable shares;
#  - ipvlan, veth, dummy, macvlan, bridge: the datapath devices the tests create;
#  - sch_ingress (clsact), cls_bpf, act_bpf, act_gact: tc attachment points for the eBPF
#    programs, and the plain ok/drop actions.
# Modules that newer kernels split out (virtio_pci_modern_dev and virtio_pci_legacy_dev, netfs and
# fscache) are not named: they come in as dependencies where the kernel has them, and 5.10 (the
# kernel of TERWAY_VM_SUITE=bullseye) has none of them as modules.
VM_MODULES=(
  virtio_ring virtio virtio_pci
  failover net_failover virtio_net
  9pnet 9pnet_virtio 9p
  ipvlan veth dummy macvlan bridge
  sch_ingress cls_bpf act_bpf act_gact
)

vm_log() { echo "vm: $*" >&2; }
vm_die() {
  echo "vm: ERROR: $*" >&2
  exit 1
}

# Milliseconds since the epoch, for the timings the scripts print.
vm_now_ms() { date +%s%3N; }
