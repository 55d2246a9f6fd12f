/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Service LB's programs, one path at a time, under BPF_PROG_TEST_RUN: this object includes
 * bpf/lb.c itself (its maps and code, built with the same flags), and wraps its egress and ingress
 * code in programs that first put the frame back as the benchmark wrote it. The programs rewrite
 * the frame in place, and the kernel's test run hands every repetition the same buffer: without
 * the restore, every run after the first would see the backend's address and take the
 * not-a-Service path. bench_floor does the restore alone, and bench_empty nothing: they are what
 * each run costs besides the LB's own code.
 *
 * The frame comes from bench_frame_v1, which run.ts writes before each path. `vary` makes every
 * run a new connection: 1 changes the client's port, and its address (to one in 10.128/9, which
 * no fixed frame uses) every 32,768 runs, so that no (address, port) comes back: a flow table
 * that fills and evicts; 2 changes the port only, so that ports come back while their flows
 * still exist (a client reusing the port of a closed connection). The counter runs on across
 * runs and rounds: run.ts keeps it when it writes a frame.
 */
#include "lb.c"

#define BENCH_FRAME_MAX 64
#define BENCH_PORTS 0x7fff

struct bench_frame {
	__u8 bytes[BENCH_FRAME_MAX];
	__u32 len; /* bytes restored: the Ethernet, IPv4 and L4 headers */
	__u32 vary;
	__u32 counter;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct bench_frame);
	__uint(max_entries, 1);
} bench_frame_v1 SEC(".maps");

#define BENCH_SADDR_OFF (ETH_HLEN + offsetof(struct iphdr, saddr))
#define BENCH_SPORT_OFF (ETH_HLEN + sizeof(struct iphdr))

static __always_inline int restore_frame(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 zero = 0, n;
	struct bench_frame *f = bpf_map_lookup_elem(&bench_frame_v1, &zero);

	if (!f || data + BENCH_FRAME_MAX > end)
		return -1;
	/* A constant size: the verifier checks one bound, and clang copies in words. */
	__builtin_memcpy(data, f->bytes, BENCH_FRAME_MAX);
	if (f->vary) {
		n = ++f->counter;
		if (f->vary == 1)
			*(__be32 *)(data + BENCH_SADDR_OFF) =
				bpf_htonl(0x0a800000 | ((n >> 15) & 0x7fff) << 8 | 10);
		*(__be16 *)(data + BENCH_SPORT_OFF) = bpf_htons(1024 + (n & BENCH_PORTS));
	}
	return 0;
}

SEC("tc")
int bench_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tc")
int bench_floor(struct __sk_buff *skb)
{
	return restore_frame(skb) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int bench_egress(struct __sk_buff *skb)
{
	return restore_frame(skb) ? TC_ACT_SHOT : lb_egress(skb, false);
}

SEC("tc")
int bench_ingress(struct __sk_buff *skb)
{
	return restore_frame(skb) ? TC_ACT_SHOT : lb_ingress(skb);
}
