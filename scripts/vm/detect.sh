#!/usr/bin/env bash
# Tells whether the VM tier can run on this machine, cheaply (well under a second), without
# installing anything. Prints one line and exits:
#   0  "vm-tier: available: <how>"     QEMU is here (and starts), or prepare.sh can install it;
#   1  "vm-tier: unavailable: <why>"   the tier must be skipped here, for the reason given.
# /dev/kvm is not needed: the tier always uses TCG (software emulation).
# TERWAY_VM=off makes it report unavailable, for a machine where the tier is not wanted.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"

no() {
  echo "vm-tier: unavailable: $*"
  exit 1
}

[[ ${TERWAY_VM:-} != off ]] || no "disabled by TERWAY_VM=off"
[[ $(uname -s) == Linux ]] || no "not Linux ($(uname -s))"
[[ $(uname -m) == x86_64 ]] || no "the guest kernel and QEMU package are amd64; this is $(uname -m)"

# QEMU's RSS is 0.6-1.4 GB at -m 1G; leave the rest of the machine some room.
need_mb=1536
avail_mb=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
((avail_mb >= need_mb)) || no "only ${avail_mb} MB of memory available, the VM needs ${need_mb} MB"

is_root=$([[ $(id -u) -eq 0 ]] && echo 1 || echo)
have_apt=$(command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null && echo 1 || echo)
prepared=$([[ -f $(vm_cache_dir)/current.env ]] && echo 1 || echo)

if command -v qemu-system-x86_64 >/dev/null; then
  [[ -r $VM_QBOOT_ROM ]] || no "$VM_QBOOT_ROM is missing (reinstall qemu-system-data)"
  # Start QEMU for real, with the machine and memory the tier uses, and quit at once: this
  # catches missing libraries, a sandbox that forbids it, or memory it cannot map.
  if ! out=$(echo quit | timeout 20 qemu-system-x86_64 -M pc -accel tcg -m 1G -nodefaults \
    -display none -S -monitor stdio 2>&1 >/dev/null); then
    no "qemu-system-x86_64 does not start here: $(echo "$out" | tail -n1)"
  fi
  if [[ -n $prepared ]]; then
    echo "vm-tier: available: QEMU starts, and the kernel and initramfs are prepared"
  elif [[ -n $is_root && -n $have_apt ]]; then
    echo "vm-tier: available: QEMU starts; prepare.sh will fetch the kernel with apt"
  else
    no "QEMU is installed but the tier is not prepared, and preparing needs root and apt (run scripts/vm/prepare.sh as root)"
  fi
  exit 0
fi

[[ -n $have_apt ]] || no "qemu-system-x86_64 is not installed and there is no apt-get to install it"
[[ -n $is_root ]] || no "qemu-system-x86_64 is not installed and installing it needs root"
# apt-cache only reads the local lists: it says whether apt knows the package, not that the
# mirror answers; prepare.sh finds that out and fails loudly if not.
candidate=$(apt-cache policy qemu-system-x86 2>/dev/null | awk '/Candidate:/ { print $2 }')
[[ -n $candidate && $candidate != "(none)" ]] ||
  no "qemu-system-x86_64 is not installed and apt knows no qemu-system-x86 package (apt-get update?)"
echo "vm-tier: available: prepare.sh will install qemu-system-x86 $candidate with apt"
