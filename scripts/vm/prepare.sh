#!/usr/bin/env bash
# Prepares the VM tier: a Debian kernel that has ipvlan (this machine's kernel has none), a
# busybox initramfs that mounts the host's root over 9p, and QEMU to boot them. See
# /work/shared/VM.md for the recipe and why each choice was made.
#
# Idempotent and cached (scripts/vm/common.sh says where): a second run checks and exits in well
# under a second. Every step prints what it did. Exit codes:
#   0  ready: run.sh can boot the VM;
#   1  something could not be prepared (no root for apt, a download failed, ...);
#   2  everything was prepared, but QEMU could not boot the VM on this machine.
#
# Usage: scripts/vm/prepare.sh [--force]   (--force rebuilds the initramfs and re-tests the boot)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"

force=
[[ ${1:-} == --force ]] && force=1

t_start=$(vm_now_ms)
CACHE=$(vm_cache_dir)
mkdir -p "$CACHE"
# Two test runs (or two engineers) preparing at once would step on each other's files.
exec 9>"$CACHE/.lock"
if ! flock -w 900 9; then vm_die "another prepare.sh holds $CACHE/.lock for over 15 minutes"; fi

step() { echo "vm-prepare: $*" >&2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/terway-vm-prepare.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

[[ $(uname -m) == x86_64 ]] || vm_die "the VM tier needs an x86_64 host (found $(uname -m))"
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  vm_die "the VM tier needs Debian's apt-get and dpkg-deb (kernel and QEMU come from Debian)"
fi

apt_updated=
apt_update() {
  if [[ -z $apt_updated ]]; then
    step "apt-get update"
    apt-get update -qq || vm_die "apt-get update failed"
    apt_updated=1
  fi
}

# --- 1. Host packages -----------------------------------------------------------------------
missing=()
for pkg in "${VM_APT_PACKAGES[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == *"install ok installed"* ]] || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  [[ $(id -u) -eq 0 ]] || vm_die "need root to install ${missing[*]} (or install them yourself)"
  apt_update
  step "installing ${missing[*]} (--no-install-recommends)"
  t=$(vm_now_ms)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"$TMP/apt.log" 2>&1 || {
    tail -n 20 "$TMP/apt.log" >&2
    vm_die "apt-get install ${missing[*]} failed"
  }
  step "installed ${missing[*]} in $(($(vm_now_ms) - t)) ms"
else
  step "packages present: ${VM_APT_PACKAGES[*]}"
fi
command -v qemu-system-x86_64 >/dev/null || vm_die "qemu-system-x86_64 is missing after install"
[[ -r $VM_QBOOT_ROM ]] || vm_die "$VM_QBOOT_ROM is missing (it comes with qemu-system-data)"
BUSYBOX=/bin/busybox
# (Not "busybox --list | grep -q": under pipefail, grep quitting at the first match can SIGPIPE
# busybox and fail the test at random.)
if [[ ! -x $BUSYBOX ]] || [[ $'\n'$("$BUSYBOX" --list)$'\n' != *$'\n'depmod$'\n'* ]]; then
  vm_die "$BUSYBOX (from busybox-static) is missing or has no depmod applet"
fi

# --- 2. Which kernel ------------------------------------------------------------------------
# TERWAY_VM_SUITE boots another Debian release's kernel: bullseye's is 5.10, the base of Alibaba
# Cloud Linux 3, the oldest kernel terway-node supports. Its package lists come from the Debian
# mirror this machine's apt already uses (or, if that one lacks the release, deb.debian.org), into
# the cache, through apt options: this machine's own sources and lists are never touched, and apt
# checks the release's signature with Debian's keyring as it does for its own.
SUITE=${TERWAY_VM_SUITE:-}
APT_OPTS=()
SUITE_MIRRORS=()
if [[ -n $SUITE ]]; then
  [[ $SUITE =~ ^[a-z]+(-[a-z]+)?$ ]] || vm_die "TERWAY_VM_SUITE=$SUITE is not a Debian suite name"
  mapfile -t SUITE_MIRRORS < <(
    {
      apt-get indextargets --format '$(REPO_URI)' 2>/dev/null | grep -v security | head -n1
      echo http://deb.debian.org/debian/
    } | awk '!seen[$0]++'
  )
  mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial"
  # The mirror of the last update, until another update picks one.
  [[ -f $CACHE/apt/sources.list ]] || echo "deb ${SUITE_MIRRORS[0]} $SUITE main" >"$CACHE/apt/sources.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$CACHE/apt/sources.list" -o Dir::Etc::SourceParts=-
    -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache")
fi
# linux-image-amd64 is the metapackage; its dependency names the current ABI's package. Never
# apt-get install it: that would pull in udev and initramfs-tools and upgrade systemd here.
# (Empty, not a failure, when apt knows no such package yet: the lists may still be missing.)
kernel_pkg() {
  apt-cache "${APT_OPTS[@]}" depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }' || true
}
# The lists that tell whether apt may know a newer kernel than the one current.env names.
APT_LISTS=/var/lib/apt/lists
[[ -z $SUITE ]] || APT_LISTS=$CACHE/apt/lists
# apt-cache takes 1-2 s here (it decompresses the package lists), so a warm run reuses the last
# answer unless apt's lists changed since (an apt-get update may have brought a new kernel ABI).
KPKG=
if [[ -f $CACHE/current.env && -z $force ]] &&
  [[ -z $(find "$APT_LISTS" -maxdepth 1 -name '*Packages*' -newer "$CACHE/current.env" | head -n1) ]]; then
  KPKG=$(sed -n 's/^KPKG=//p' "$CACHE/current.env")
fi
[[ -n $KPKG ]] || KPKG=$(kernel_pkg)
if [[ -z $KPKG && -n $SUITE ]]; then
  for mirror in "${SUITE_MIRRORS[@]}"; do
    echo "deb $mirror $SUITE main" >"$CACHE/apt/sources.list"
    step "apt-get update for $SUITE from $mirror (lists in $CACHE/apt)"
    if apt-get "${APT_OPTS[@]}" update -qq >"$TMP/suite-update.log" 2>&1; then
      KPKG=$(kernel_pkg)
      [[ -z $KPKG ]] || break
    else
      tail -n 5 "$TMP/suite-update.log" | sed 's/^/    /' >&2
    fi
  done
elif [[ -z $KPKG && $(id -u) -eq 0 ]]; then
  apt_update
  KPKG=$(kernel_pkg)
fi
[[ -n $KPKG || -z $SUITE ]] ||
  vm_die "no mirror tried (${SUITE_MIRRORS[*]}) has a kernel package for $SUITE (see above)"
[[ -n $KPKG ]] || vm_die "apt-cache depends linux-image-amd64 names no kernel package (run apt-get update)"
KVER=${KPKG#linux-image-}
# The -cloud flavour has no 9p, and the guest cannot mount the host without it.
[[ $KVER != *-cloud-amd64 ]] || vm_die "$KPKG is the cloud flavour, which has no 9p"
KDIR=$CACHE/$KVER
KROOT=$KDIR/root
MODDIR=$KROOT/lib/modules/$KVER
step "kernel: $KPKG"

# --- 3. Download and unpack it (never install) ----------------------------------------------
if [[ ! -f $KDIR/.unpacked ]]; then
  rm -rf "$KDIR"
  mkdir -p "$KDIR/download"
  t=$(vm_now_ms)
  step "apt-get download $KPKG"
  # apt-get download writes into the current directory. As root it warns that the _apt user
  # cannot write there; that is harmless, so its chatter goes to a log shown only on failure.
  (cd "$KDIR/download" && apt-get "${APT_OPTS[@]}" download -q "$KPKG" >"$TMP/download.log" 2>&1) || {
    tail -n 20 "$TMP/download.log" >&2
    vm_die "apt-get download $KPKG failed"
  }
  deb=$(echo "$KDIR"/download/*.deb)
  step "downloaded $(basename "$deb") ($(du -m "$deb" | cut -f1) MB) in $(($(vm_now_ms) - t)) ms"
  t=$(vm_now_ms)
  dpkg-deb -x "$deb" "$KROOT"
  rm -rf "$KDIR/download"
  [[ -f $KROOT/boot/vmlinuz-$KVER && -d $MODDIR ]] || vm_die "$KPKG has no vmlinuz or modules for $KVER"
  # Debian generates modules.dep at install time, which we skip; busybox has a depmod.
  "$BUSYBOX" depmod -b "$KROOT" "$KVER"
  basename "$deb" >"$KDIR/.unpacked"
  step "unpacked into $KROOT and ran depmod in $(($(vm_now_ms) - t)) ms"
else
  step "kernel unpacked already: $(cat "$KDIR/.unpacked") in $KROOT"
fi
[[ -f $MODDIR/modules.dep ]] || vm_die "$MODDIR/modules.dep is missing (delete $KDIR and retry)"

# --- 4. The module closure, in load order ---------------------------------------------------
# modules.dep: "kernel/path/name.ko[.xz]: dep1 dep2 ..." with every transitive dependency listed.
# A depth-first walk that emits a module after its dependencies gives a valid insmod order.
closure() {
  awk -v want="${VM_MODULES[*]}" '
    function norm(p, b) { b = p; sub(/.*\//, "", b); sub(/\.ko.*/, "", b); gsub(/-/, "_", b); return b }
    FILENAME ~ /modules\.builtin$/ { builtin[norm($0)] = 1; next }
    {
      k = $1; sub(/:$/, "", k); n = norm(k); path[n] = k; ndeps[n] = NF - 1
      for (i = 2; i <= NF; i++) dep[n, i - 1] = norm($i)
    }
    # modprobe loads the last-listed dependency first; keep its order.
    function visit(m, i) {
      if (m in done) return
      done[m] = 1
      if (!(m in path)) { if (!(m in builtin)) print "MISSING " m; return }
      for (i = ndeps[m]; i >= 1; i--) visit(dep[m, i])
      print path[m]
    }
    END { n = split(want, w, " "); for (j = 1; j <= n; j++) visit(w[j]) }
  ' "$builtin" "$MODDIR/modules.dep"
}
builtin=$MODDIR/modules.builtin
[[ -f $builtin ]] || builtin=/dev/null
mapfile -t ORDER < <(closure)
((${#ORDER[@]} > 0)) || vm_die "could not resolve the module closure from $MODDIR/modules.dep"
for rel in "${ORDER[@]}"; do
  [[ $rel != MISSING* ]] || vm_die "module ${rel#MISSING } is neither in $MODDIR/modules.dep nor built in"
done

# --- 5. The initramfs -----------------------------------------------------------------------
# Keyed by everything that goes into it, so a changed module list or init rebuilds it.
KEY=$({
  echo "$KVER"
  printf '%s\n' "${ORDER[@]}"
  cat "$HERE/guest-init.sh"
  sha256sum "$BUSYBOX"
} | sha256sum | cut -c1-12)
INITRD=$KDIR/initrd-$KEY.cpio.gz
if [[ ! -f $INITRD || -n $force ]]; then
  t=$(vm_now_ms)
  S=$TMP/initramfs
  mkdir -p "$S"/{bin,sbin,dev,proc,sys,etc/terway-vm,lib/modules/"$KVER"}
  cp "$BUSYBOX" "$S/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$S/bin/$applet"
  done
  # The kernel's on-demand module loader runs /sbin/modprobe in the initramfs's root.
  ln -sf ../bin/busybox "$S/sbin/modprobe"
  # The kernel opens /dev/console for init before anything is mounted.
  mknod -m 600 "$S/dev/console" c 5 1 2>/dev/null || true
  : >"$S/etc/terway-vm/modules.order"
  for rel in "${ORDER[@]}"; do
    out=$S/lib/modules/$KVER/${rel%.ko*}.ko
    mkdir -p "$(dirname "$out")"
    case $rel in # insmod wants them plain; compressing the whole cpio is smaller anyway
    *.ko.xz) xz -dc "$MODDIR/$rel" >"$out" ;;
    *.ko.zst) zstd -qdc "$MODDIR/$rel" >"$out" ;;
    *.ko.gz) gzip -dc "$MODDIR/$rel" >"$out" ;;
    *) cp "$MODDIR/$rel" "$out" ;;
    esac
    echo "$KVER/${rel%.ko*}.ko" >>"$S/etc/terway-vm/modules.order"
  done
  cp "$MODDIR"/modules.{order,builtin} "$S/lib/modules/$KVER/" 2>/dev/null || true
  "$BUSYBOX" depmod -b "$S" "$KVER"
  install -m 755 "$HERE/guest-init.sh" "$S/init"
  (cd "$S" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -6 >"$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  # Older initramfs images of this kernel are dead weight now.
  find "$KDIR" -maxdepth 1 -name 'initrd-*.cpio.gz' ! -name "$(basename "$INITRD")" -delete
  step "built $(basename "$INITRD") ($(du -k "$INITRD" | cut -f1) KB, ${#ORDER[@]} modules) in $(($(vm_now_ms) - t)) ms"
else
  step "initramfs cached: $INITRD (${#ORDER[@]} modules)"
fi

# --- 6. The PVH-bootable vmlinux ------------------------------------------------------------
# The bzImage decompresses itself inside the guest, slowly under TCG. qboot can boot the ELF
# vmlinux directly through its PVH note, which saves about 2 s per boot. The payload is one xz
# stream; --single-stream stops at its end and ignores what follows it.
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
VMLINUX=$KDIR/vmlinux
if [[ ! -f $VMLINUX && ! -f $KDIR/.no-vmlinux ]] && ! command -v xz >/dev/null; then
  step "no xz on this machine (Debian: xz-utils); booting the bzImage (about 2 s slower)"
elif [[ ! -f $VMLINUX && ! -f $KDIR/.no-vmlinux ]]; then
  t=$(vm_now_ms)
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | head -n1 | cut -d: -f1 || true)
  # (xz reads from a process substitution: in a pipe, tail's SIGPIPE would fail the pipeline.)
  if [[ -n $off ]] && xz -dc --single-stream <(tail -c +$((off + 1)) "$VMLINUZ") >"$VMLINUX.tmp" 2>/dev/null &&
    [[ $(head -c4 "$VMLINUX.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
    mv "$VMLINUX.tmp" "$VMLINUX"
    step "extracted the ELF vmlinux ($(du -m --apparent-size "$VMLINUX" | cut -f1) MB) in $(($(vm_now_ms) - t)) ms"
  else
    rm -f "$VMLINUX.tmp"
    touch "$KDIR/.no-vmlinux"
    step "no xz-compressed ELF inside $VMLINUZ; booting the bzImage (about 2 s slower)"
  fi
fi

# --- 7. Prove it boots ----------------------------------------------------------------------
# A boot that prints the guest's kernel release checks QEMU, qboot, the modules, 9p and the
# chroot in one go. Only a proven pair is written to current.env, which run.sh reads.
boot_check() { # kernel-file -> 0 if the guest ran the Debian kernel and reported back
  local kernel=$1 work=$TMP/boot-check out rc
  mkdir -p "$work"
  set +e
  out=$(TERWAY_VM_KERNEL=$kernel TERWAY_VM_INITRD=$INITRD \
    "$HERE/run.sh" --timeout 120 "$work" -- uname -r 2>"$TMP/boot-check.err")
  rc=$?
  set -e
  if [[ $rc -eq 0 && $out == *"$KVER"* ]]; then
    sed -n 's/^vm: timings /vm-prepare: boot check timings: /p' "$TMP/boot-check.err" >&2
    return 0
  fi
  step "boot check with $(basename "$kernel") FAILED (run.sh exit $rc); the last console lines:"
  { echo "$out" | tail -n 20; tail -n 10 "$TMP/boot-check.err"; } | sed 's/^/    /' >&2
  return 1
}
KERNEL=
for candidate in "$VMLINUX" "$VMLINUZ"; do
  [[ -f $candidate ]] || continue
  stamp=$KDIR/.booted-$KEY-$(basename "$candidate")
  if [[ -f $stamp && -z $force ]]; then
    KERNEL=$candidate
    step "boot check passed before for $(basename "$candidate") + $(basename "$INITRD")"
    break
  fi
  t=$(vm_now_ms)
  step "boot check: $(basename "$candidate") + $(basename "$INITRD") under QEMU (TCG)"
  if boot_check "$candidate"; then
    touch "$stamp"
    KERNEL=$candidate
    step "boot check passed in $(($(vm_now_ms) - t)) ms"
    break
  fi
done
if [[ -z $KERNEL ]]; then
  echo "vm: ERROR: QEMU could not boot the VM on this machine (see above)" >&2
  exit 2
fi

cat >"$CACHE/current.env.tmp" <<EOF
# Written by scripts/vm/prepare.sh; read by scripts/vm/run.sh.
KPKG=$KPKG
KVER=$KVER
KERNEL=$KERNEL
INITRD=$INITRD
EOF
mv "$CACHE/current.env.tmp" "$CACHE/current.env"
step "ready in $(($(vm_now_ms) - t_start)) ms: kernel $KVER, $(basename "$KERNEL"), cache $CACHE"
