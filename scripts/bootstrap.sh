#!/usr/bin/env bash
# Brings a fresh Debian machine to the point where the project builds and every suite runs:
# Debian packages only when missing (apt is slow even when there is nothing to do), then npm ci
# only when the lockfile changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

# iproute2: the privileged suites' namespaces. clang/llvm/libbpf-dev/bpftool: the eBPF program.
# make, python3: node-gyp builds the N-API addon (native/) that programs the maps and attaches it.
# iptables: the kube-proxy-style DNAT baseline of the Service LB benchmarks. tcpdump: the LB
# tests capture on the node and the backends to prove the ClusterIP never leaves the client pod.
# hyperfine, containernetworking-plugins (host-local, portmap, ...): benchmarks and chaining tests. util-linux: nsenter.
# iputils-ping, iperf3, sockperf: datapath tests and the pod-to-pod benchmark.
# qemu-system-x86, busybox-static: the vm suite (scripts/vm/prepare.sh; it fetches the kernel itself).
# openssl: the Kubernetes TLS tests make a throwaway CA and apiserver certificate per run.
# ethtool: an LB test turns checksum offload off on a node veth, so the kernel checks the sums.
# golang-go, golang-github-masterminds-sprig-dev, golang-k8s-sigs-yaml-dev: the Helm chart's test
# renders it with Go's text/template and Helm's sprig functions (test/support/chart-render).
APT_PACKAGES=(iproute2 iptables tcpdump clang llvm libbpf-dev bpftool make python3 hyperfine containernetworking-plugins util-linux qemu-system-x86 busybox-static iputils-ping iperf3 sockperf openssl ethtool golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: need root for apt-get (missing: ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "bootstrap: Node.js >= 20 is required (found $(node --version))" >&2
  exit 1
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "bootstrap: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
