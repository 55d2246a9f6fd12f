#!/bin/sh
# PID 1 of the VM tier's guest (busybox sh, copied into the initramfs as /init by prepare.sh).
#
# It loads the module closure, mounts the host's root file system read-only over 9p, gives it
# fresh kernel file systems and writable scratch space, chroots into it and runs the command that
# run.sh left in the "ctl" share. The exit code goes back through that share, then the VM powers
# off (QEMU runs with -no-reboot, and panic=-1 turns an init crash into an exit too).
#
# The protocol with run.sh:
#   ctl/vm.env    WORKDIR and CWD (host paths), sourced here;
#   ctl/cmd.sh    the command (env, cd, exec), run with the host's bash inside the chroot;
#   ctl/started   written when the command starts (its host mtime is the boot-to-command time);
#   ctl/exit-code written when it ends.
# Console markers let readers cut the command's own output out of the boot noise.

export PATH=/bin:/sbin

fail() {
  echo "terway-vm init: FAILED: $*"
  poweroff -f
  sleep 5
  reboot -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# "terway_vm_debug" on the kernel command line (TERWAY_VM_APPEND) times each phase of boot.
case " $(cat /proc/cmdline) " in
*" terway_vm_debug "*) stamp() { echo "terway-vm init: $(cut -d' ' -f1 /proc/uptime)s $*"; } ;;
*) stamp() { :; } ;;
esac
stamp "init started"
# The serial line would turn every \n into \r\n; readers on the host want plain lines.
stty -onlcr 2>/dev/null

# The closure in load order, dependencies first (prepare.sh resolved it from modules.dep).
while read -r mod; do
  insmod "/lib/modules/$mod" || fail "insmod $mod"
done </etc/terway-vm/modules.order
stamp "modules loaded"

NINEP=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /host /ctl
mount -t 9p -o "$NINEP" ctl /ctl || fail "mount the ctl share"
. /ctl/vm.env
# Without a page cache every page an executable touches is one 9p round trip through emulated
# virtio: node took 6-20 s to start. The host root is read-only to us and does not change under
# a test, so caching it (HOST_CACHE=loose, from run.sh) is safe.
mount -t 9p -o "$NINEP,ro,cache=${HOST_CACHE:-loose}" hostroot /host ||
  fail "mount the host root (9p tag hostroot)"
stamp "9p mounted"

# /tmp, /run and /root get fresh tmpfs below; a working directory under one of them would vanish,
# so park it on a bind mount first and move it back afterwards.
keep_cwd=
case "$CWD" in
/tmp | /tmp/* | /run | /run/* | /root | /root/*)
  mkdir -p /keep
  mount -o bind "/host$CWD" /keep && keep_cwd=1
  ;;
esac

H=/host
mount -t proc proc $H/proc
mount -t sysfs sysfs $H/sys
mount -t devtmpfs devtmpfs $H/dev
mkdir -p $H/dev/pts $H/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $H/dev/pts
mount -t tmpfs tmpfs $H/dev/shm
ln -sf /proc/self/fd $H/dev/fd
ln -sf /proc/self/fd/0 $H/dev/stdin
ln -sf /proc/self/fd/1 $H/dev/stdout
ln -sf /proc/self/fd/2 $H/dev/stderr
for d in /tmp /run /root; do mount -t tmpfs -o mode=1777 tmpfs "$H$d"; done
chmod 0700 $H/root
mount -t bpf bpf $H/sys/fs/bpf
mount -t cgroup2 cgroup2 $H/sys/fs/cgroup

if [ -n "$keep_cwd" ]; then
  mkdir -p "$H$CWD"
  mount -o move /keep "$H$CWD" || fail "restore $CWD"
fi
# The writable work share appears at the same path as on the host.
mkdir -p "$H$WORKDIR" || fail "mkdir $WORKDIR"
mount -t 9p -o "$NINEP" work "$H$WORKDIR" || fail "mount the work share at $WORKDIR"
mkdir -p $H/run/terway-vm
mount -o bind /ctl $H/run/terway-vm

hostname terway-vm
ip link set lo up
stamp "file systems ready"

cat /proc/uptime >/ctl/started
echo "@@terway-vm command-start@@"
chroot $H /bin/bash /run/terway-vm/cmd.sh </dev/null
rc=$?
echo "@@terway-vm command-exit=$rc@@"
echo "$rc" >/ctl/exit-code
sync
poweroff -f
# Only reached if ACPI power-off did not work: with -no-reboot, a reboot also ends QEMU.
sleep 5
reboot -f
