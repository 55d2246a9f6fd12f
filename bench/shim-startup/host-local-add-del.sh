#!/bin/sh
# The baseline: the Go reference IPAM plugin host-local, ADD then DEL, driven the same way as
# terway-add-del.sh (fresh container id per run). Needs HOST_LOCAL and HOST_LOCAL_NETCONF.
set -eu
read -r uuid </proc/sys/kernel/random/uuid
export CNI_CONTAINERID="$uuid" CNI_NETNS="/var/run/netns/cni-$uuid" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
CNI_COMMAND=ADD "$HOST_LOCAL" <"$HOST_LOCAL_NETCONF" >"${ADD_RESULT:-/dev/null}"
CNI_COMMAND=DEL "$HOST_LOCAL" <"$HOST_LOCAL_NETCONF" >/dev/null
