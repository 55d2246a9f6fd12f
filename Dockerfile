# terway-node: terwayd, terway-cli and the CNI shim in one image.
#
#   docker build -t terway-node .
#
# The Helm chart (charts/terway-node) runs it on every node: bin/install-cni puts the CNI plugin
# (dist/bundle/) and this Node.js on the node, then terwayd runs with the node's network, its
# /sys/fs/bpf and its state directories (README: "The container image").
#
# NODE_IMAGE is the official Node.js 20 image on Debian 12, the platform the project builds and
# tests on. Any image with Node 20 (its headers under <prefix>/include/node, as the official
# images have them), npm and apt on Debian 12 will do.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# What scripts/build-bpf.sh and scripts/build-native.sh need: clang for the BPF object and the
# addons, libbpf's headers, and make + python3 for npm's bundled node-gyp.
RUN apt-get update \
  && apt-get install -y --no-install-recommends clang libbpf-dev libc6-dev make python3 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The dependencies first, in a layer of their own: a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts scripts
COPY proto proto
COPY bpf bpf
COPY native native
COPY src src
COPY cmd cmd
COPY bench bench
# The benchmarks are compiled with the rest (tsconfig.build.json) but not shipped.
RUN npm run build \
  && rm -rf dist/bench \
  && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# iproute2 for `ip` (the daemon programs links, addresses and routes through it) and libbpf1,
# which the terway_bpf addon links against.
RUN apt-get update \
  && apt-get install -y --no-install-recommends iproute2 libbpf1 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/terway-node
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
# The chart's init container: installs the CNI plugin (and this Node.js, which it runs under) on
# the node.
COPY --from=build /src/scripts/install-cni.sh bin/install-cni
# terwayd's runtime settings (src/daemon/runtime-settings.ts, TERWAYD_ENV and TERWAYD_NODE_FLAGS):
# what the lab and the benchmarks run and measure. A unit test keeps the two in step. The chart
# sets NODE_OPTIONS (the V8 heap ceiling) from its daemon.heapLimitMiB.
ENV MALLOC_ARENA_MAX=2 \
  MALLOC_MMAP_THRESHOLD_=65536 \
  MALLOC_TRIM_THRESHOLD_=65536 \
  NODE_OPTIONS=--max-old-space-size=192
# `terway-cli show factory` in the daemon's container (kubectl exec) finds the socket by default.
RUN ln -s /opt/terway-node/dist/cmd/terway-cli.js /usr/local/bin/terway-cli
ENTRYPOINT ["node", "--max-semi-space-size=1", "--expose-gc", "/opt/terway-node/dist/cmd/terwayd.js"]
