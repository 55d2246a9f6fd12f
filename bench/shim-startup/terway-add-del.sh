#!/bin/sh
# One CNI ADD then DEL through the terway shim, exactly as a container runtime runs a plugin:
# CNI_* environment, network configuration on stdin, one process per verb. Each run uses a fresh
# pod name and container id, so every ADD is a real allocation (with its durable write) and every
# DEL a real release. Needs NODE, TERWAY (the bundled shim) and TERWAY_NETCONF.
set -eu
read -r uuid </proc/sys/kernel/random/uuid
export CNI_CONTAINERID="$uuid" CNI_NETNS="/var/run/netns/cni-$uuid" CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin
export CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=shim-$uuid;K8S_POD_INFRA_CONTAINER_ID=$uuid"
CNI_COMMAND=ADD "$NODE" "$TERWAY" <"$TERWAY_NETCONF" >"${ADD_RESULT:-/dev/null}"
CNI_COMMAND=DEL "$NODE" "$TERWAY" <"$TERWAY_NETCONF" >/dev/null
