#!/usr/bin/env bash
# Runs one command inside a throwaway VM with a Debian kernel (ipvlan, dummy, ...), in the host's
# own file system: the guest chroots into the host's root, shared read-only over 9p, so the
# command uses the host's node, ip, tc and the repo exactly as built on the host.
#
# Usage: scripts/vm/run.sh [options] <workdir> -- <command> [args...]
#   <workdir>        host directory shared writable; inside the VM it has the same path. Created
#                    if missing. Everything else of the host is read-only in the VM, except fresh
#                    tmpfs on /tmp, /run and /root.
#   --cwd DIR        where the command starts (default: the current directory)
#   --env KEY=VALUE  extra environment for the command (repeatable)
#   --timeout SECS   wall-clock limit for the whole VM, boot included (default 600)
#   --mem SIZE       guest memory (default 1G; QEMU's RSS is 0.6-1.4 GB at that)
#   --smp N          guest vCPUs (default 2)
#
# stdout is the guest's serial console: boot noise, then "@@terway-vm command-start@@", the
# command's stdout and stderr, and "@@terway-vm command-exit=N@@". run.sh's own messages, timings
# included, go to stderr prefixed "vm:". The exit code is the command's; 124 means the VM timed
# out, 125 that the VM stopped without reporting one (a guest or QEMU failure).
#
# Needs scripts/vm/prepare.sh to have run (or TERWAY_VM_KERNEL and TERWAY_VM_INITRD set).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"

usage() {
  sed -n '6,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

cwd=$PWD
timeout_s=600
mem=${TERWAY_VM_MEM:-1G}
smp=${TERWAY_VM_SMP:-2}
extra_env=()
workdir=
# Options may come before or after <workdir>; everything after "--" is the command.
while (($# > 0)) && [[ $1 != -- ]]; do
  case $1 in
  --cwd) cwd=$2 && shift 2 ;;
  --env) extra_env+=("$2") && shift 2 ;;
  --timeout) timeout_s=$2 && shift 2 ;;
  --mem) mem=$2 && shift 2 ;;
  --smp) smp=$2 && shift 2 ;;
  -h | --help) usage ;;
  -*) vm_die "unknown option $1" ;;
  *)
    [[ -z $workdir ]] || vm_die "one <workdir> only (got $workdir and $1)"
    workdir=$1 && shift
    ;;
  esac
done
if [[ -z $workdir || ${1:-} != -- || $# -lt 2 ]]; then usage; fi
shift

# --- The kernel and initramfs prepare.sh proved bootable ------------------------------------
KERNEL=${TERWAY_VM_KERNEL:-}
INITRD=${TERWAY_VM_INITRD:-}
if [[ -z $KERNEL || -z $INITRD ]]; then
  env_file=$(vm_cache_dir)/current.env
  [[ -f $env_file ]] || vm_die "the VM tier is not prepared: run scripts/vm/prepare.sh first"
  KERNEL=$(sed -n 's/^KERNEL=//p' "$env_file")
  INITRD=$(sed -n 's/^INITRD=//p' "$env_file")
fi
[[ -f $KERNEL && -f $INITRD ]] ||
  vm_die "kernel $KERNEL or initramfs $INITRD is missing: run scripts/vm/prepare.sh"
command -v qemu-system-x86_64 >/dev/null || vm_die "qemu-system-x86_64 is missing: run scripts/vm/prepare.sh"

# --- Paths ----------------------------------------------------------------------------------
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd -P)
cwd=$(cd "$cwd" && pwd -P) || vm_die "--cwd $cwd does not exist"
# vm.env is sourced by busybox sh with single quotes; keep the quoting trivial.
for p in "$workdir" "$cwd"; do
  [[ $p != *"'"* && $p != *$'\n'* ]] || vm_die "paths with quotes or newlines are not supported: $p"
done
[[ $workdir != / ]] || vm_die "the work directory cannot be /"

# The ctl share carries the command in and the exit code out; it is this run's alone.
ctl=$(mktemp -d "${TMPDIR:-/tmp}/terway-vm-run.XXXXXX")
qemu_pid=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  if [[ -n $qemu_pid ]]; then
    kill "$qemu_pid" 2>/dev/null # timeout(1) passes it on to QEMU
    wait "$qemu_pid" 2>/dev/null
  fi
  rm -rf "$ctl"
}
trap cleanup EXIT
# A test runner that gives up on us sends SIGTERM to run.sh only: take QEMU down with us.
trap 'exit 143' TERM
trap 'exit 130' INT

printf "WORKDIR='%s'\nCWD='%s'\nHOST_CACHE='%s'\n" "$workdir" "$cwd" "${TERWAY_VM_HOST_CACHE:-loose}" >"$ctl/vm.env"
{
  echo '#!/bin/bash'
  echo '# Written by scripts/vm/run.sh; runs inside the VM, chrooted into the host root.'
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  echo 'export HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8 TMPDIR=/tmp'
  # Lets a test tell it is inside the VM tier.
  echo 'export TERWAY_VM=1'
  [[ -n ${CI:-} ]] && printf 'export CI=%q\n' "$CI"
  for kv in ${extra_env[@]+"${extra_env[@]}"}; do
    [[ $kv == [A-Za-z_]*=* ]] || vm_die "--env wants KEY=VALUE, got: $kv"
    printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
  done
  printf 'cd -- %q || exit 125\n' "$cwd"
  printf 'exec'
  printf ' %q' "$@"
  echo
} >"$ctl/cmd.sh"

# -virtfs takes a comma-separated option list; a comma inside a path is written twice.
esc() { echo "${1//,/,,}"; }

# Why each flag (see /work/shared/VM.md):
#  -M pc: microvm hung silently in 2 of 8 boots. -accel tcg: no usable KVM on these machines.
#  qboot: about 1 s faster than SeaBIOS. romfile=: skip the iPXE option ROM.
#  multidevs=remap: without it, inode numbers collide across host mounts (/proc showed sysfs).
#  restrict=on: the guest gets an eth0 (an ipvlan parent) with no way out.
#  -no-reboot + panic=-1: any guest failure ends QEMU instead of looping.
# shellcheck disable=SC2054  # the commas are QEMU's
qemu=(
  qemu-system-x86_64 -M pc -accel tcg -cpu max -smp "$smp" -m "$mem"
  -bios "$VM_QBOOT_ROM" -nographic -no-reboot -nodefaults -serial stdio
  -kernel "$KERNEL" -initrd "$INITRD"
  -append "console=ttyS0 ${TERWAY_VM_APPEND:-quiet} panic=-1 rdinit=/init"
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$(esc "$ctl"),mount_tag=ctl,security_model=none,multidevs=remap"
  -virtfs "local,path=$(esc "$workdir"),mount_tag=work,security_model=none,multidevs=remap"
  -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,romfile=
)

t0=$(vm_now_ms)
# In the background so the TERM trap can run; stdin from /dev/null so QEMU neither reads the
# caller's terminal nor switches it to raw mode.
timeout --kill-after=10 "$timeout_s" "${qemu[@]}" </dev/null &
qemu_pid=$!
set +e
wait "$qemu_pid"
qemu_rc=$?
set -e
qemu_pid=
t1=$(vm_now_ms)

boot_ms=
if [[ -f $ctl/started ]]; then
  started_ms=$(stat -c %.3Y "$ctl/started" | tr -d .)
  boot_ms=$((started_ms - t0))
fi
if [[ -f $ctl/exit-code ]]; then
  rc=$(<"$ctl/exit-code")
  ended_ms=$(stat -c %.3Y "$ctl/exit-code" | tr -d .)
  echo "vm: timings boot_to_command_ms=${boot_ms:-?} command_ms=$((ended_ms - ${started_ms:-$t0})) total_ms=$((t1 - t0))" >&2
  echo "vm: command exited $rc" >&2
  exit "$rc"
fi
if [[ $qemu_rc -eq 124 || $qemu_rc -eq 137 ]]; then
  echo "vm: TIMEOUT: the VM ran for more than ${timeout_s}s (boot_to_command_ms=${boot_ms:-never})" >&2
  exit 124
fi
echo "vm: ERROR: the VM stopped without reporting an exit code (QEMU exit $qemu_rc after $((t1 - t0)) ms; boot_to_command_ms=${boot_ms:-never})" >&2
exit 125
