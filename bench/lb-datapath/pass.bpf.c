// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Two tc programs that let every packet through untouched: the "empty tc programs" control of the
 * LB datapath benchmark (bench/lb-datapath/run.ts). Attached where the LB's programs go, on the
 * same hook, they cost a pod's traffic what the hook costs by itself: the floor under any tc
 * program on eth0, the Service LB's or anyone's. Two names, so the check can tell the directions
 * apart (kernel names keep 15 characters), both with the LB's "tw_" prefix: on tcx the attacher
 * knows a program as its own by that prefix (native/src/tc.c), and would neither find these nor
 * replace them otherwise.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int tw_pass_egress(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tc")
int tw_pass_ingress(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
