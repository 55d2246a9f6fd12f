/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Service load balancer: tc (clsact, direct-action) programs attached to the CLIENT pod's eth0
 * inside the pod's netns, one egress program and the ingress program.
 *
 *   tw_lb_egress     a packet to a frontend (ClusterIP/externalIP/LB IP : port / proto) is DNATed
 *                    to one backend, and the choice is remembered in a conntrack entry (tw_flow_v1)
 *                    plus a reverse entry (tw_rev_v1) for the replies; then the frame is re-addressed
 *                    to the backend's next hop (L2 devices need it, trap 6);
 *   tw_lb_egress_gw  the same without the re-addressing, for pods whose every route goes through one
 *                    gateway (veth mode), where it is useless and costs a second pass;
 *   tw_lb_ingress    a reply from that backend is SNATed back to the frontend; ICMP errors about a
 *                    translated flow get their embedded header translated back;
 *   tw_lb_collect    never attached: terwayd runs it (BPF_PROG_TEST_RUN) to delete ended flows.
 *
 * Everything else passes untouched, on egress after one array read (the frontend gate,
 * tw_fe_gate_v1; a TCP packet reads the direct gate too, tw_direct_gate_v1), on ingress after one
 * array read (the backend gate, tw_be_gate_v1), plus a hash lookup when a bit is shared. The one
 * exception is a direct TCP connection whose client port a flow to a frontend held when it opened:
 * its port is moved too (move_direct()). Map layouts and names are the contract in lb_maps.h.
 *
 * Design notes, each tied to a trap in shared/EBPF.md:
 *
 *  - No direct packet writes anywhere. A program that writes packet memory directly makes the
 *    verifier add a prologue that un-clones every skb it sees; TCP transmits clones, so that would
 *    cost a copy of every TCP packet the pod sends, service or not. All writes go through
 *    bpf_skb_store_bytes / bpf_lN_csum_replace, which make the skb writable only when called.
 *  - Trap 3 (stale reverse NAT): a reply is translated only if the reverse entry points to a forward
 *    flow that still names this backend and has not expired; a SYN-ACK only for a flow in state NEW;
 *    and a non-service TCP SYN deletes the reverse entry its 4-tuple would match.
 *  - Trap 4 (stale conntrack): every packet of a flow re-checks its backend id against tw_be_v1
 *    (same address and port). A deleted backend ends the flow: the next packet picks afresh. A
 *    backend merely removed from the slots (draining) keeps its flows.
 *  - Trap 6 (L2 drivers): see l2_redirect() below.
 *
 * Two builds (scripts/build-bpf.sh): lb.o, with TW_KERN_CTX, reads the skb's checksum state
 * through the bpf_cast_to_kern_ctx kfunc (Linux 6.3; see rewrite_known_csum()); lb-compat.o, without
 * it, runs on Linux 5.10 (Debian 11's, the base of Alibaba Cloud Linux 3) and later. What sets that
 * floor: redirect_neigh 5.10, jiffies64 5.5, bounded loops 5.3, the rest older; and what keeps it
 * there: no atomic but add (others came in 5.12: tw_gate_lock; lb.o's claims, TW_CAS_CLAIMS), no
 * pointer but the context into a global function (5.12: tuple_owner()), and the coarse clock's
 * helper (5.11) only in lb.o.
 * terwayd loads the one the running kernel supports. The flow records do not name
 * the client's netns (bpf_get_netns_cookie() is not callable from tc before 6.15): the daemon
 * knows which pod a client address belongs to.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stdbool.h>
#include <stddef.h>

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lb_maps.h"

_Static_assert(sizeof(struct tw_backend) == sizeof(__u64), "tw_backend is read in one load");

/* linux/icmp.h pulls in glibc's socket headers, which do not build for -target bpf. */
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 unused; /* id/sequence, gateway, or next-hop MTU, depending on the type */
};

#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_TIME_EXCEEDED 11

/* -------------------------------------------------------------------------------------------- */
/* Maps: the contract (lb_maps.h), plus one private map for IP fragments.                       */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TW_MAX_FRONTENDS);
	/* Written by the daemon only: allocate on insert instead of preallocating every entry. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tw_frontend_key);
	__type(value, struct tw_frontend);
} tw_fe_v1 SEC(".maps");

/*
 * The arrays (slots, backends, counters) are BPF_F_MMAPABLE: the daemon writes them with plain
 * stores through a shared mapping. tw_slot_v1[slot_base + i] is a backend id (0: none);
 * tw_be_v1[id] a backend (addr 0: none).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_MAX_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
} tw_slot_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_MAX_BACKENDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tw_backend);
} tw_be_v1 SEC(".maps");

/*
 * The flow and reverse tables keep the common LRU list. With BPF_F_NO_COMMON_LRU each CPU evicts
 * within its own share of the table (half of it on 2 CPUs): measured with BPF_PROG_TEST_RUN on
 * one CPU, a new flow that evicts took 1,531 ns against 1,058 ns.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_MAX_FLOWS);
	__type(key, struct tw_flow_key);
	__type(value, struct tw_flow);
} tw_flow_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_MAX_FLOWS);
	__type(key, struct tw_reverse_key);
	__type(value, struct tw_flow_key);
} tw_rev_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_MAX_AFFINITY);
	__type(key, struct tw_affinity_key);
	__type(value, struct tw_affinity);
} tw_aff_v1 SEC(".maps");

/* Moved client ports (see struct tw_moved_port); an entry is read only while its flow is flagged. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_MAX_MOVED);
	__type(key, struct tw_flow_key);
	__type(value, struct tw_moved_port);
} tw_moved_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_MAX_FRONTENDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tw_counters);
} tw_fe_stat_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_MAX_BACKENDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tw_counters);
} tw_be_stat_v1 SEC(".maps");

/* Per CPU: each new flow adds to its own CPU's slot, so no cache line moves between CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_node_counters);
} tw_node_stat_v5 SEC(".maps");

/* The frontend, backend and direct gates (see lb_maps.h): one definition, three maps. */
struct tw_gate_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_GATE_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
};

struct tw_gate_map tw_fe_gate_v1 SEC(".maps");
struct tw_gate_map tw_be_gate_v1 SEC(".maps");
struct tw_gate_map tw_direct_gate_v1 SEC(".maps");

/*
 * The lock under which the programs set a bit of tw_direct_gate (private, like tw_frag below; the
 * daemon only pins it). An atomic OR would need Linux 5.12, and two CPUs setting bits of one word
 * without either would lose one; the lock is taken only for a word's first direct flow to a
 * backend, which is rare (each needs a port clash).
 */
struct tw_gate_lock {
	struct bpf_spin_lock lock;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_gate_lock);
} tw_gate_lock_v1 SEC(".maps");

/*
 * IP fragments (private to this program, not part of the daemon's contract; the daemon only has to
 * pin it like the others). Only the first fragment carries the ports, so it alone can be matched
 * against a frontend or a reverse entry. When a first fragment is translated, the translated-to
 * address is remembered under (src, dst, IP id, proto) as the fragment carried them before the
 * rewrite, and the later fragments of the same datagram get the same address rewrite; otherwise
 * the receiver could never reassemble the datagram (its fragments would differ in address).
 * Fragments arriving before their first fragment are not translated.
 */
struct lb_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 pad;
};

struct lb_frag_nat {
	__be32 addr; /* the new destination (egress) or the new source (ingress) */
	__u32 pad;
};

#define LB_MAX_FRAGS 8192

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_MAX_FRAGS);
	__type(key, struct lb_frag_key);
	__type(value, struct lb_frag_nat);
} tw_frag_v1 SEC(".maps");

/*
 * Claims on 4-tuples (private, like tw_frag). A new flow's check that its 4-tuple on the wire is
 * free (tuple_owner()) and its write of the reverse entry that makes it its own are two steps;
 * two CPUs opening flows that translate onto one tuple (one client port towards two Services that
 * share a backend, at the same instant) could both pass the check and both send a SYN on it. The
 * check therefore runs under a claim on the tuple: an entry here, inserted with BPF_NOEXIST (the
 * map's bucket lock makes that atomic) and deleted once the reverse entry is written. A flow that
 * cannot claim its tuple treats it as taken. Deleting a reverse entry that looks stale takes the
 * claim too (delete_reverse_of()), so that it never deletes one a new flow has just written. A
 * bpf_spin_lock cannot do this: no map helper may run while one is held. A program run holds two
 * claims here at most (its tuple, and the old tuple of a flow moving off it), so the map holds a
 * few entries per CPU; the value is when a claim was taken, for whoever inspects the pin.
 */
#define TW_MAX_CLAIMS 4096

/*
 * lb.o takes its claims with a compare-and-exchange on a slot of tw_claim_slot instead (the
 * instruction came in Linux 5.12; lb.o needs 6.3 anyway): an insert and a delete in a hash each take
 * its bucket's lock with interrupts off, and cost a new flow 100-200 ns (README, "Two CPUs, one
 * 4-tuple"). lb-compat.o keeps the hashes above; both builds have every map, so that they load
 * alike.
 */
#ifdef TW_KERN_CTX
#define TW_CAS_CLAIMS 1
#endif

/*
 * A slot per key's hash, in two halves: 4-tuples in the first, flow keys in the second, so that
 * the claims one program run holds together (a tuple and its flow key) never share a slot. Two
 * keys of one kind that share a slot exclude each other only while both are claimed, a few hundred
 * nanoseconds, and the loser does what it does in a real race: a new flow takes its tuple as taken
 * and draws again, a SYN writing over an ended flow is dropped for its retransmission, a stale
 * reverse entry is left to a later delete (also when a flow moving off its old tuple finds that
 * tuple's slot is its new one's). A held slot is non-zero: when it was taken (odd).
 */
#define TW_CLAIM_SLOT_BITS 13
#define TW_CLAIM_SLOTS (1U << TW_CLAIM_SLOT_BITS)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * TW_CLAIM_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} tw_claim_slot_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TW_MAX_CLAIMS);
	__type(key, struct tw_reverse_key);
	__type(value, __u64);
} tw_claim_v1 SEC(".maps");

/*
 * Claims on flow keys, the same way: the collector's check and delete of an ended flow, and a new
 * flow's write over that entry, exclude each other. Without them the collector could delete the
 * entry a SYN had just restarted or replaced, whose next packet would start another flow, maybe on
 * another backend. A map of their own, so that no flow key is ever taken for a tuple.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TW_MAX_CLAIMS);
	__type(key, struct tw_flow_key);
	__type(value, __u64);
} tw_flow_claim_v1 SEC(".maps");

/* -------------------------------------------------------------------------------------------- */
/* Constants                                                                                     */

#define NS_PER_S 1000000000ULL

/*
 * The clock of every timestamp (first_seen_ns, last_seen_ns, affinity last_used_ns, the next hop's
 * stamp): CLOCK_MONOTONIC at the last tick, in ns. Every lifetime here is counted in seconds, so a
 * tick's resolution is plenty.
 *
 * It is read from jiffies when the loader knows the kernel's tick: the verifier turns
 * bpf_jiffies64() into one load, where bpf_ktime_get_coarse_ns() is a helper call (about 27 ns of
 * each translated packet's program time on this project's test hosts). Jiffies count ticks from
 * INITIAL_JIFFIES, which the kernel puts 300 s before 2^32 so that the 32-bit count wraps early,
 * and the first tick comes a little after CLOCK_MONOTONIC's 0. So (jiffies - INITIAL_JIFFIES) *
 * the tick's length is the monotonic clock less that first tick's delay (a fraction of a second,
 * the same for the node's whole uptime). Entries stamped by the coarse clock (by an older program,
 * or by a load that did not know the tick) can read a little in the future: every comparison of
 * two timestamps is signed, and a future stamp counts as recent.
 *
 * Set by the loader, before verification (terwayd: src/dataplane/bpf/kernel-clock.ts):
 * tw_jiffy_ns is 10^9 / CONFIG_HZ, tw_initial_jiffies is INITIAL_JIFFIES. With tw_jiffy_ns 0 (the
 * default, for a loader that does not set it), the programs read the coarse clock.
 */
volatile const __u64 tw_jiffy_ns = 0;
volatile const __u64 tw_initial_jiffies = 0;

static __always_inline __u64 lb_now(void)
{
	if (tw_jiffy_ns)
		return (bpf_jiffies64() - tw_initial_jiffies) * tw_jiffy_ns;
#ifdef TW_KERN_CTX
	return bpf_ktime_get_coarse_ns();
#else
	/* The coarse clock's helper came in Linux 5.11, and this build runs on 5.10. */
	return bpf_ktime_get_ns();
#endif
}

/*
 * Conntrack lifetimes, counted from the flow's last_seen_ns:
 *  - TCP NEW (SYN sent, nothing back yet): 60 s. The client's SYN retransmits (1, 3, 7, 15, 31 s)
 *    stay on the backend chosen first.
 *  - TCP ESTABLISHED, and half-closed (a FIN from one side only): 6 h of silence. Long-lived idle
 *    connections (databases, watches) keep their backend, and so does a client that has sent its
 *    FIN and waits for the answer; the LRU map evicts the oldest entries if it fills up before
 *    that. (Linux's conntrack gives a half-closed connection 1-2 min; Cilium, like this, keeps the
 *    established lifetime until both sides have closed.)
 *  - TCP CLOSING (FINs from both sides, or a RST either way): 10 s, enough for the last ACK and
 *    stragglers. A SYN never reuses an entry past NEW anyway (it starts a new flow).
 *  - UDP: 30 s of silence, until the flow is a stream (TW_FLOW_STREAM: a reply was seen, and a
 *    packet came 2 s or more after the first); a stream, 60 s. A request and its answer (a DNS
 *    query, one flow each) are over in well under 2 s, and holding them 60 s would fill the table
 *    at half the rate of new flows. Linux's conntrack draws the same line (30 s, and 120 s for a
 *    stream).
 */
#define TCP_SYN_TIMEOUT_NS (60 * NS_PER_S)
#define TCP_ESTABLISHED_TIMEOUT_NS (6 * 3600 * NS_PER_S)
#define TCP_CLOSING_TIMEOUT_NS (10 * NS_PER_S)
#define UDP_TIMEOUT_NS (30 * NS_PER_S)
#define UDP_STREAM_TIMEOUT_NS (60 * NS_PER_S)
/* How long after its first packet a UDP flow with a reply becomes a stream. */
#define UDP_STREAM_AFTER_NS (2 * NS_PER_S)

/* last_seen_ns is refreshed at most this often (a plain store, never a map update). */
#define LAST_SEEN_GRANULARITY_NS NS_PER_S

/*
 * Bit of skb->mark that tags a packet these programs put back into the pod's own path: one the
 * egress program handed to bpf_redirect_neigh(), which sends it through eth0's egress hook once
 * more (trap 6), and a refusal (a TCP reset or an ICMP error the egress program made of a packet)
 * bounced into eth0's ingress. The hook it comes back through leaves it alone and clears the bit:
 * the second egress pass would take the rewritten SYN for a direct one, and a refusal of a direct
 * connection would be reverse-translated as a reply of the ClusterIP flow holding its port.
 * Nothing else in a pod netns should use it.
 */
#define TW_MARK_OWN_PASS 0x20000000U

/* How many slots an affinity hit may scan when its remembered slot no longer holds its backend. */
#define AFFINITY_SLOT_SCAN 64

#define IP_MF_BIT 0x2000
#define IP_OFFSET_MASK 0x1fff
#define IP_DF_BIT 0x4000

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define IP_SRC_OFF (ETH_HLEN + offsetof(struct iphdr, saddr))
#define IP_DST_OFF (ETH_HLEN + offsetof(struct iphdr, daddr))
#define MAX_L4_OFF (ETH_HLEN + 60)

enum frag_kind { FRAG_NONE, FRAG_FIRST, FRAG_LATER };

/* What the programs need of a packet's headers, read once. */
struct pkt {
	__u32 l4_off; /* from the start of the Ethernet header */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__be16 ip_id;
	__sum16 ip_check;
	__u8 proto;
	__u8 tcp_flags;
	__u8 frag; /* enum frag_kind */
};

/* -------------------------------------------------------------------------------------------- */
/* Parsing (direct packet reads only)                                                           */

static __always_inline int ensure_linear(struct __sk_buff *skb, __u32 len)
{
	if ((void *)(long)skb->data + len <= (void *)(long)skb->data_end)
		return 0;
	if (len > skb->len)
		return -1;
	return bpf_skb_pull_data(skb, len) ? -1 : 0;
}

/* IPv4 header; 0 on success. The caller has checked skb->protocol. */
static __always_inline int parse_ipv4(struct __sk_buff *skb, struct pkt *p)
{
	void *data, *end;
	struct iphdr *ip;
	__u32 ihl;

	if (ensure_linear(skb, ETH_HLEN + sizeof(struct iphdr)))
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	ip = data + ETH_HLEN;
	if ((void *)(ip + 1) > end)
		return -1;
	ihl = ip->ihl;
	if (ip->version != 4 || ihl < 5)
		return -1;
	p->l4_off = ETH_HLEN + ihl * 4;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->ip_id = ip->id;
	p->ip_check = ip->check;
	p->frag = FRAG_NONE;
	if (ip->frag_off & bpf_htons(IP_OFFSET_MASK))
		p->frag = FRAG_LATER;
	else if (ip->frag_off & bpf_htons(IP_MF_BIT))
		p->frag = FRAG_FIRST;
	p->sport = 0;
	p->dport = 0;
	p->tcp_flags = 0;
	return 0;
}

/* Ports (and TCP flags) of a TCP or UDP packet that is not a later fragment. */
static __always_inline int parse_ports(struct __sk_buff *skb, struct pkt *p)
{
	void *data, *end;
	__u8 *l4;
	__u32 off = p->l4_off;
	__u32 need = p->proto == IPPROTO_TCP ? 14 : 4;

	if (off > MAX_L4_OFF)
		return -1;
	if (ensure_linear(skb, off + need))
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	l4 = data + off;
	if ((void *)(l4 + 14) > end) {
		/* Short UDP packet: only the ports are needed. */
		if (p->proto == IPPROTO_TCP || (void *)(l4 + 4) > end)
			return -1;
		p->sport = *(__be16 *)l4;
		p->dport = *(__be16 *)(l4 + 2);
		return 0;
	}
	p->sport = *(__be16 *)l4;
	p->dport = *(__be16 *)(l4 + 2);
	if (p->proto == IPPROTO_TCP)
		p->tcp_flags = l4[13];
	return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* Rewrites                                                                                      */

static __always_inline __u32 l4_csum_off(__u8 proto)
{
	return proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) : offsetof(struct udphdr, check);
}

/* RFC 1624 incremental update of a ones'-complement checksum for one 32-bit word. */
static __always_inline __sum16 csum_replace4(__sum16 check, __be32 from, __be32 to)
{
	__u32 sum = (__u16)~check;

	sum += (~from & 0xffff) + (~from >> 16);
	sum += (to & 0xffff) + (to >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

/* The IPv4 header from its checksum to the destination address, rewritten with one store. */
struct ip_check_addrs {
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
} __attribute__((packed));

/* Folds a 32-bit ones'-complement sum to 16 bits, with 0xffff (negative zero) taken as 0. */
static __always_inline __u32 csum16_norm(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff ? 0 : sum;
}

/*
 * The ones'-complement change (unfolded) that replacing old by new makes to a sum covering the
 * address: what the pseudo-header moves the L4 checksum by.
 */
static __always_inline __u32 addr_csum_delta(__be32 old_addr, __be32 new_addr)
{
	return (~old_addr & 0xffff) + (~old_addr >> 16) + (new_addr & 0xffff) + (new_addr >> 16);
}

/*
 * Copies bytes [from, to) between the frame and buf, at the same offsets in both, in 16- and
 * 32-bit words. A memcpy to or from the packet, whose alignment clang cannot know, is a load and
 * a store per byte: about 60 instructions for a TCP header's translated span. buf sits 2 bytes
 * past an 8-byte boundary (see rewrite_fast()), so buf + k is 4-byte aligned where k is 2 mod 4,
 * as the verifier wants of the stack. The packet side may be unaligned, which the verifier allows
 * wherever the CPU handles it (x86-64 and arm64 do). from and to are even constants.
 *
 * The words are may_alias types: buf is also written as __be16, __be32 and __sum16 fields, and
 * with plain __u32 copies clang's type-based alias analysis may move a copy's load before such a
 * store (it did: the translated port never reached the packet).
 */
typedef __u16 __attribute__((may_alias)) tw_any_u16;
typedef __u32 __attribute__((may_alias)) tw_any_u32;

static __always_inline void copy_frame_span(void *to_base, const void *from_base, const __u32 from,
					    const __u32 to)
{
	__u32 k = from;

	if (k % 4 == 0 && k < to) {
		*(tw_any_u16 *)(to_base + k) = *(const tw_any_u16 *)(from_base + k);
		k += 2;
	}
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (k + 4 > to)
			break;
		*(tw_any_u32 *)(to_base + k) = *(const tw_any_u32 *)(from_base + k);
		k += 4;
	}
	if (k < to)
		*(tw_any_u16 *)(to_base + k) = *(const tw_any_u16 *)(from_base + k);
}

/*
 * The frame's bytes the translation writes, read into buf at their own offsets: from the IPv4
 * checksum to the end of the L4 checksum, and from the first byte when the egress program also
 * writes a destination MAC (store_translation() then writes the whole span in one store).
 */
static __always_inline void load_translation_span(__u8 *buf, const void *data, bool dst,
						  const void *mac, const __u32 span)
{
	if (dst && mac)
		copy_frame_span(buf, data, 0, IP_CSUM_OFF + span);
	else
		copy_frame_span(buf, data, IP_CSUM_OFF, IP_CSUM_OFF + span);
}

/*
 * The common end of rewrite_fast() and rewrite_known_csum(): buf (see load_translation_span(), the
 * L4 checksum already final) gets the new IPv4 checksum, address and port, and goes back into the
 * packet, with the destination MAC when given. 0, or -1 if the write failed.
 *
 * The ingress program writes with plain stores, the egress program with bpf_skb_store_bytes().
 * The helper call is the largest part of a translated packet's program time (about 35 ns of 120
 * measured with BPF_PROG_TEST_RUN on this project's test hosts, where every call and return pays
 * the CPU's speculation mitigations), but a program that writes to the packet directly starts
 * with the verifier's unclone check, for every packet it sees: a cloned skb first goes through
 * bpf_skb_pull_data(skb, 0). Received skbs are rarely clones (only while a packet socket, such as
 * tcpdump's, holds a copy), so ingress pays three instructions for it. On egress every TCP segment
 * is a clone (TCP keeps the original for retransmission): the call would cost each TCP packet of
 * the pod, Service or not, about 25 ns (measured on a pod's non-Service ping-pong), more than it
 * saves a translated one.
 */
static __always_inline int store_translation(struct __sk_buff *skb, const struct pkt *p, __u8 *buf,
					     bool dst, __be32 old_addr, __be32 new_addr,
					     __u32 port_field, __be16 new_port, const __u32 span,
					     const void *mac)
{
	__u8 *l4 = buf + IP_CSUM_OFF + 10;
	void *data, *end;

	*(__sum16 *)(buf + IP_CSUM_OFF) = csum_replace4(p->ip_check, old_addr, new_addr);
	if (dst)
		*(__be32 *)(buf + IP_CSUM_OFF + 6) = new_addr;
	else
		*(__be32 *)(buf + IP_CSUM_OFF + 2) = new_addr;
	*(__be16 *)(l4 + port_field) = new_port;
	if (dst && mac) {
		__builtin_memcpy(buf, mac, ETH_ALEN);
		return bpf_skb_store_bytes(skb, 0, buf, IP_CSUM_OFF + span, 0) ? -1 : 0;
	}
	if (dst)
		return bpf_skb_store_bytes(skb, IP_CSUM_OFF, buf + IP_CSUM_OFF, span, 0) ? -1 : 0;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + IP_CSUM_OFF + span > end)
		return -1;
	copy_frame_span(data, buf, IP_CSUM_OFF, IP_CSUM_OFF + span);
	return 0;
}

/*
 * The common case of rewrite_addr_port() (an option-less IPv4 header whose address changes; the
 * port may or may not) in at most two helper calls (this one and the egress program's store)
 * instead of up to four; the helper calls are most of a translated packet's cost (tens of ns each
 * measured). bpf_l4_csum_replace() moves the address into the L4 checksum (only the kernel knows
 * the skb's checksum state, see below), and the checksum it left tells that state: with
 * CHECKSUM_PARTIAL the field holds the pseudo-header sum, which moved by +d (d = the address change
 * in ones'-complement arithmetic); otherwise it holds the complement of a full sum, which moved by
 * -d. Only in the second case does the port change enter the field (the kernel's rule for a
 * non-pseudo-header change), computed here. Then store_translation() writes the IPv4 checksum, both
 * addresses, the ports and the L4 checksum (with the bytes between them as they were), and, given a
 * destination MAC, the frame's first bytes: an L2 pod's learned next hop costs no call of its own.
 * If the two cases cannot be told apart (d is zero in ones' complement, or a UDP checksum of 0 that
 * the helper leaves alone) or the span is not linear, 1 is returned after the address part and the
 * caller finishes the slow way. span: from the IPv4 checksum to the end of the L4 checksum; coff:
 * the L4 checksum's offset in the L4 header.
 */
static __always_inline int rewrite_fast(struct __sk_buff *skb, const struct pkt *p, bool dst,
					__be32 old_addr, __be32 new_addr, __u32 port_field,
					__be16 old_port, __be16 new_port, const __u32 span,
					const __u32 coff, __u64 mangled, const void *mac)
{
	/*
	 * The frame's bytes at their own offsets (only those from the IPv4 checksum on are used).
	 * buf = raw + 2 puts both addresses on 4-byte boundaries (the verifier wants aligned stack).
	 */
	__u8 raw[IP_CSUM_OFF + 32] __attribute__((aligned(8)));
	__u8 *buf = raw + 2;
	__u8 *l4 = buf + IP_CSUM_OFF + 10;
	void *data, *end;
	__u32 d, f0, f1, pos_ok, neg_ok;
	__u16 check;

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + IP_CSUM_OFF + span > end)
		return 2;
	f0 = *(__u16 *)(data + IP_CSUM_OFF + 10 + coff);
	if (bpf_l4_csum_replace(skb, IP_CSUM_OFF + 10 + coff, old_addr, new_addr,
				BPF_F_PSEUDO_HDR | mangled | sizeof(new_addr)))
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + IP_CSUM_OFF + span > end)
		return 1;
	load_translation_span(buf, data, dst, mac, span);
	f1 = *(__u16 *)(l4 + coff);
	d = csum16_norm(addr_csum_delta(old_addr, new_addr));
	pos_ok = csum16_norm(f0 + d) == csum16_norm(f1);
	neg_ok = csum16_norm(f0 + (~d & 0xffff)) == csum16_norm(f1);
	if (pos_ok == neg_ok)
		return 1;
	if (neg_ok) {
		/* A full checksum: the port enters it, as bpf_l4_csum_replace() would do it. */
		check = ~csum16_norm((~f1 & 0xffff) + (~old_port & 0xffff) + new_port);
		if (mangled && check == 0)
			check = 0xffff;
		*(__u16 *)(l4 + coff) = check;
	}
	return store_translation(skb, p, buf, dst, old_addr, new_addr, port_field, new_port, span,
				 mac);
}

#ifdef TW_KERN_CTX
/*
 * The kernel's own view of the skb, for the one field __sk_buff does not show: how its L4
 * checksum stands (ip_summed). bpf_cast_to_kern_ctx() (Linux 6.3) is a kfunc the verifier turns
 * into a plain register move, and the field's place comes from the kernel's BTF at load (CO-RE).
 * Built only into the object for kernels that have it (see scripts/build-bpf.sh).
 */
struct sk_buff {
	__u8 ip_summed : 2;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;

#define TW_CHECKSUM_COMPLETE 2 /* include/linux/skbuff.h */
#define TW_CHECKSUM_PARTIAL 3

/* Folds a 32-bit ones'-complement sum to 16 bits. */
static __always_inline __u32 csum16_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	return (sum & 0xffff) + (sum >> 16);
}

/*
 * rewrite_fast() without bpf_l4_csum_replace(): with the skb's checksum state known, the L4
 * checksum is computed here as the helper would compute it (inet_proto_csum_replace4/2), and
 * store_translation() writes it with everything else (the ingress program then makes no helper
 * call at all). CHECKSUM_PARTIAL: the field holds the
 * pseudo-header sum, which the address moves and the port does not. Otherwise the field is the
 * complement of the full sum, which both move. A UDP checksum of 0 (none) stays 0, and a computed
 * 0 is sent as 0xffff (BPF_F_MARK_MANGLED_0). CHECKSUM_COMPLETE (a receive-side skb->csum that the
 * change must also move) returns 1, and the caller takes the helpers, which keep skb->csum right;
 * so does a span that is not linear.
 */
static __always_inline int rewrite_known_csum(struct __sk_buff *skb, const struct pkt *p, bool dst,
					      __be32 old_addr, __be32 new_addr, __u32 port_field,
					      __be16 old_port, __be16 new_port, const __u32 span,
					      const __u32 coff, bool udp, const void *mac)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	__u8 raw[IP_CSUM_OFF + 32] __attribute__((aligned(8)));
	__u8 *buf = raw + 2; /* as in rewrite_fast() */
	__u8 *l4 = buf + IP_CSUM_OFF + 10;
	__u8 summed = BPF_CORE_READ_BITFIELD(kskb, ip_summed);
	void *data, *end;
	__u32 addr_delta, sum;
	__u16 check;

	if (summed == TW_CHECKSUM_COMPLETE)
		return 1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + IP_CSUM_OFF + span > end)
		return 1;
	load_translation_span(buf, data, dst, mac, span);
	check = *(__u16 *)(l4 + coff);
	if (!(udp && check == 0)) {
		addr_delta = addr_csum_delta(old_addr, new_addr);
		if (summed == TW_CHECKSUM_PARTIAL) {
			check = csum16_fold(check + addr_delta);
		} else {
			sum = (__u16)~check + addr_delta + (__u16)~old_port + new_port;
			check = ~csum16_fold(sum);
		}
		if (udp && check == 0)
			check = 0xffff;
		*(__u16 *)(l4 + coff) = check;
	}
	return store_translation(skb, p, buf, dst, old_addr, new_addr, port_field, new_port, span,
				 mac);
}
#endif

/*
 * Replaces one port of the TCP/UDP header (at l4_off + port_field) and moves the L4 checksum with
 * it, as rewrite_addr_port() does its port.
 */
static __always_inline int rewrite_port(struct __sk_buff *skb, const struct pkt *p,
					__u32 port_field, __be16 old_port, __be16 new_port)
{
	__u32 csum_off = p->l4_off + l4_csum_off(p->proto);
	__u64 mangled = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | sizeof(new_port)))
		return -1;
	if (bpf_skb_store_bytes(skb, p->l4_off + port_field, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

/*
 * Replaces the source or destination address and, when the L4 header is present, the matching
 * port (at l4_off + port_field), fixing the IPv4 header checksum and the TCP/UDP checksum, whose
 * pseudo-header covers the address. A UDP checksum of 0 (none) stays 0 (BPF_F_MARK_MANGLED_0).
 *
 * Each helper call costs tens of nanoseconds, so the calls are few: the IPv4 header checksum is
 * computed here and written with the address in one store (the header checksum has no offload
 * state to respect, and a correctly updated header keeps its sum, so a CHECKSUM_COMPLETE skb->csum
 * stays valid). The L4 checksum is left to bpf_l4_csum_replace(): only the kernel knows whether
 * the skb is CHECKSUM_PARTIAL (the field then holds the pseudo-header sum only, and a port change
 * must not touch it) or carries a full checksum. mac, when given, is written as the frame's
 * destination MAC (with the rest, on the fast paths).
 */
static __always_inline int rewrite_addr_port(struct __sk_buff *skb, const struct pkt *p, bool dst,
					     __be32 new_addr, __u32 port_field, __be16 old_port,
					     __be16 new_port, bool has_l4, const void *mac)
{
	__u32 csum_off = p->l4_off + l4_csum_off(p->proto);
	__u64 mangled = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__be32 old_addr = dst ? p->daddr : p->saddr;
	bool addr_done = false;

	/*
	 * A port that stays the same (a Service whose port is its target port, which is common)
	 * takes the fast path too: the checksum arithmetic then adds ~old + new, a ones'-complement
	 * zero, exactly as the kernel's inet_proto_csum_replace2() would.
	 */
	if (has_l4 && old_addr != new_addr && p->l4_off == ETH_HLEN + sizeof(struct iphdr)) {
		int r;

#ifdef TW_KERN_CTX
		if (p->proto == IPPROTO_TCP)
			r = rewrite_known_csum(skb, p, dst, old_addr, new_addr, port_field, old_port,
					       new_port, 28, offsetof(struct tcphdr, check), false,
					       mac);
		else
			r = rewrite_known_csum(skb, p, dst, old_addr, new_addr, port_field, old_port,
					       new_port, 18, offsetof(struct udphdr, check), true,
					       mac);
		if (r <= 0)
			return r;
#endif
		if (p->proto == IPPROTO_TCP)
			r = rewrite_fast(skb, p, dst, old_addr, new_addr, port_field, old_port,
					 new_port, 28, offsetof(struct tcphdr, check), 0, mac);
		else
			r = rewrite_fast(skb, p, dst, old_addr, new_addr, port_field, old_port,
					 new_port, 18, offsetof(struct udphdr, check),
					 BPF_F_MARK_MANGLED_0, mac);
		if (r <= 0)
			return r;
		addr_done = r == 1; /* the L4 checksum has the address already */
	}
	if (old_addr != new_addr) {
		struct ip_check_addrs h = {
			.check = csum_replace4(p->ip_check, old_addr, new_addr),
			.saddr = dst ? p->saddr : new_addr,
			.daddr = dst ? new_addr : p->daddr,
		};

		if (has_l4 && !addr_done && bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr,
						  BPF_F_PSEUDO_HDR | mangled | sizeof(new_addr)))
			return -1;
		if (bpf_skb_store_bytes(skb, IP_CSUM_OFF, &h, sizeof(h), 0))
			return -1;
	}
	if (has_l4 && old_port != new_port && rewrite_port(skb, p, port_field, old_port, new_port))
		return -1;
	if (mac && bpf_skb_store_bytes(skb, 0, mac, ETH_ALEN, 0))
		return -1;
	return 0;
}

/*
 * Trap 6: after DNAT the frame is still addressed to the MAC the kernel resolved for the
 * ClusterIP's next hop (the gateway). On an L2 device (ipvlan L2 in production, macvlan in the
 * benchmarks) an on-link backend has another MAC, so the frame must be re-addressed.
 *
 * Done with bpf_redirect_neigh(): the kernel routes the rewritten packet in the pod's netns and
 * sends it through the regular neighbour output (ARP resolution when needed, the NUD state
 * machine revalidating stale entries), out of eth0 again. That transmit runs this egress hook a
 * second time; the skb->mark bit TW_MARK_OWN_PASS makes the second pass return at once. Without it
 * the second pass would take the rewritten SYN for a non-service SYN and delete the reverse entry
 * just created (trap 3 handling), breaking every connect.
 *
 * Why not bpf_fib_lookup() and a MAC rewrite in place: (1) the kernel answers it only when
 * forwarding is on for eth0 (net.ipv4.conf.eth0.forwarding=1 in the pod, otherwise
 * FWD_DISABLED), which makes every pod a router for whatever reaches its eth0; (2) it only reads
 * the neighbour table: it cannot resolve a missing neighbour (a redirect is needed anyway) and it
 * keeps using a STALE entry without ever revalidating it, so a pod IP reused by a pod with another
 * MAC would be blackholed; (3) measured on this kernel (veth pod, TCP request/response), it was the
 * slower of the two: about 1.0 us of egress program time per packet against 0.8 us for the
 * redirect including the second pass, and a longer round trip.
 *
 * Why a new flow's first packets take the redirect rather than the next hop the last flow between
 * the same client and backend learned (a cache keyed by the pair): measured on the macvlan
 * topology, such a cache spared every SYN the redirect (5 egress runs per connection instead of
 * 6), and connections/s did not move (0.925x direct with it and without, medians of 6 rounds): the
 * cache's two hash lookups per connection cost what the redirect did.
 *
 * Works as well on a veth pod whose every route goes via one static-neighbour gateway: the kernel
 * resolves that gateway again. Such a pod does not need the fix at all, and tw_lb_egress_gw skips
 * it (see there).
 *
 * The redirect costs every packet a route and neighbour lookup and a second run of this program,
 * so an established flow skips it: tw_lb_ingress records in the flow the source MAC of the
 * backend's replies (tw_flow.next_hop), and while the last reply is recent (TW_NEXT_HOP_FRESH) the
 * egress program writes that MAC itself. It is the MAC the neighbour table holds for an on-link
 * backend (on ipvlan L2, a backend on the same ENI answers from the shared MAC, which ipvlan
 * delivers locally), and the gateway's when the replies are routed. A flow's first packets, and a
 * flow whose backend has gone quiet (moved to another MAC, say), take the redirect: the freshness
 * bound keeps a stale MAC from outliving the replies that proved it.
 */
static __always_inline int l2_redirect(struct __sk_buff *skb)
{
	skb->mark |= TW_MARK_OWN_PASS;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

/* Whether a flow's learned next hop may address its packets at time now (see l2_redirect). */
static __always_inline bool next_hop_fresh(__u64 next_hop, __u64 now)
{
	__u16 age = TW_NEXT_HOP_STAMP(now) - (__u16)(next_hop >> 48);

	return next_hop != 0 && age < TW_NEXT_HOP_FRESH;
}

/*
 * Records the source MAC of a live flow's reply as the flow's next hop. One 8-byte store, skipped
 * while the word is unchanged: at most one store per TW_NEXT_HOP_STAMP unit and flow.
 */
static __always_inline void learn_next_hop(struct __sk_buff *skb, struct tw_flow *f, __u64 now)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u64 word = 0;

	if (data + 2 * ETH_ALEN > end)
		return;
	__builtin_memcpy(&word, data + ETH_ALEN, ETH_ALEN);
	word |= (__u64)TW_NEXT_HOP_STAMP(now) << 48;
	if (*(volatile __u64 *)&f->next_hop != word)
		*(volatile __u64 *)&f->next_hop = word;
}

/* -------------------------------------------------------------------------------------------- */
/* Conntrack helpers                                                                             */

static __always_inline __u64 flow_lifetime(__u8 proto, __u8 state)
{
	if (proto != IPPROTO_TCP)
		return state == TW_FLOW_STREAM ? UDP_STREAM_TIMEOUT_NS : UDP_TIMEOUT_NS;
	if (state == TW_FLOW_ESTABLISHED || state == TW_FLOW_CLIENT_FIN ||
	    state == TW_FLOW_BACKEND_FIN)
		return TCP_ESTABLISHED_TIMEOUT_NS;
	if (state == TW_FLOW_CLOSING)
		return TCP_CLOSING_TIMEOUT_NS;
	return TCP_SYN_TIMEOUT_NS;
}

/*
 * The state a flow moves to on a packet from the client (egress) or from the backend (ingress).
 * tcp_flags is 0 for UDP, whose flows go from NEW to ESTABLISHED on a reply here, and to STREAM in
 * flow_advance(). A FIN from the side that has not sent one yet half-closes the flow, or closes it
 * if the other side already had; a RST closes it at once.
 */
static __always_inline __u8 flow_next_state(__u8 state, __u8 tcp_flags, bool from_client)
{
	__u8 own_fin = from_client ? TW_FLOW_CLIENT_FIN : TW_FLOW_BACKEND_FIN;
	__u8 peer_fin = from_client ? TW_FLOW_BACKEND_FIN : TW_FLOW_CLIENT_FIN;

	if (tcp_flags & TCP_RST)
		return TW_FLOW_CLOSING;
	if (tcp_flags & TCP_FIN) {
		if (state == peer_fin || state == TW_FLOW_CLOSING)
			return TW_FLOW_CLOSING;
		return own_fin;
	}
	if (!from_client && state == TW_FLOW_NEW)
		return TW_FLOW_ESTABLISHED;
	return state;
}

/*
 * The state a live flow f moves to on a packet at time now: flow_next_state(), and for UDP, a
 * flow with a reply becomes a stream once a packet comes UDP_STREAM_AFTER_NS after its first.
 */
static __always_inline __u8 flow_advance(const struct tw_flow *f, __u8 proto, __u8 tcp_flags,
					 bool from_client, __u64 now)
{
	__u8 state = flow_next_state(f->state, tcp_flags, from_client);

	if (proto != IPPROTO_TCP && state == TW_FLOW_ESTABLISHED &&
	    (__s64)(now - f->first_seen_ns) >= (__s64)UDP_STREAM_AFTER_NS)
		return TW_FLOW_STREAM;
	return state;
}

static __always_inline bool flow_alive(const struct tw_flow *f, __u8 proto, __u64 now)
{
	/* Signed: another CPU may have stored a last_seen slightly later than our now. */
	return (__s64)(now - f->last_seen_ns) < (__s64)flow_lifetime(proto, f->state);
}

/*
 * Counts a packet of a live flow and moves its state; plain stores, no map update. The flow's
 * packets/bytes are plain (non-atomic) adds: a locked add costs every packet, while a flow's
 * packets rarely run on two CPUs at the same instant (a request and its reply are sequential). The
 * trade-off: when both directions of one flow are counted at the same time on two CPUs, an
 * increment can be lost; these counters are for operators, not for decisions. The per-frontend
 * and per-backend counters (stat_add), shared by every flow and pod, stay atomic.
 */
static __always_inline void flow_touch(struct tw_flow *f, __u64 now, __u64 pkts, __u64 bytes,
				       __u8 state)
{
	f->packets += pkts;
	f->bytes += bytes;
	if (f->state != state) {
		f->state = state;
		f->last_seen_ns = now;
	} else if (now - f->last_seen_ns > LAST_SEEN_GRANULARITY_NS) {
		f->last_seen_ns = now;
	}
}

static __always_inline void stat_add(void *map, __u32 id, __u64 pkts, __u64 bytes, __u64 flows)
{
	struct tw_counters *c = bpf_map_lookup_elem(map, &id);

	if (!c)
		return;
	__sync_fetch_and_add(&c->packets, pkts);
	__sync_fetch_and_add(&c->bytes, bytes);
	if (flows)
		__sync_fetch_and_add(&c->flows, flows);
}

/*
 * The node's totals. Atomic although per CPU: an egress run in softirq (a TCP timer's segment) can
 * interrupt one in process context on the same CPU.
 */
enum node_count {
	COUNT_FLOW,
	COUNT_REJECTED,
	COUNT_CLASH,
	COUNT_MOVED,
	COUNT_MOVED_DIRECT,
	COUNT_REUSED,
};

static __always_inline void count_node(enum node_count what)
{
	__u32 zero = 0;
	struct tw_node_counters *n = bpf_map_lookup_elem(&tw_node_stat_v5, &zero);

	if (!n)
		return;
	if (what == COUNT_REJECTED)
		__sync_fetch_and_add(&n->rejected, 1);
	else if (what == COUNT_CLASH)
		__sync_fetch_and_add(&n->clashes, 1);
	else if (what == COUNT_MOVED)
		__sync_fetch_and_add(&n->moved, 1);
	else if (what == COUNT_MOVED_DIRECT)
		__sync_fetch_and_add(&n->moved_direct, 1);
	else if (what == COUNT_REUSED)
		__sync_fetch_and_add(&n->reused, 1);
	else
		__sync_fetch_and_add(&n->flows, 1);
}

static __always_inline void count_rejected(__u32 fe_id)
{
	struct tw_counters *c = bpf_map_lookup_elem(&tw_fe_stat_v1, &fe_id);

	if (c)
		__sync_fetch_and_add(&c->rejected, 1);
	count_node(COUNT_REJECTED);
}

static __always_inline __u64 skb_packets(struct __sk_buff *skb)
{
	__u32 segs = skb->gso_segs;

	return segs ? segs : 1;
}

/* -------------------------------------------------------------------------------------------- */
/* Reject: a new flow to a frontend without any ready backend                                  */

static __always_inline __u16 csum_fold(__s64 wsum)
{
	__u32 sum = (__u32)wsum;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Swaps the Ethernet addresses and hands the packet, now a reply, to eth0's receive path. */
static __always_inline int bounce_to_ingress(struct __sk_buff *skb, const __u8 *orig_macs)
{
	__u8 macs[ETH_ALEN * 2];

	__builtin_memcpy(macs, orig_macs + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, orig_macs, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), BPF_F_INVALIDATE_HASH))
		return TC_ACT_SHOT;
	skb->mark |= TW_MARK_OWN_PASS;
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

struct rst_reply {
	struct iphdr ip;
	struct tcphdr tcp;
};

struct pseudo_hdr {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/*
 * TCP: the packet becomes a RST from the frontend, fed back into the pod. A SYN_SENT socket takes
 * it as "connection refused" at once. (An ICMP port unreachable would do the same only when the
 * socket is not owned by the user at that instant, and it usually is: the SYN is sent, and the
 * redirected packet processed, inside connect() itself; the ICMP would only set a soft error and
 * the client would wait for its SYN retransmit. A RST is queued to the socket's backlog instead.)
 * Replies per RFC 793: to a segment with ACK, <SEQ=SEG.ACK><RST>; otherwise
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>.
 */
static __noinline int reject_tcp(struct __sk_buff *skb, __be32 saddr, __be32 daddr)
{
	struct rst_reply r = {};
	struct pseudo_hdr ph = {};
	struct tcphdr th;
	struct iphdr ip;
	__u8 macs[ETH_ALEN * 2];
	__u32 seg_len;
	__s64 sum;

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) || ip.ihl != 5 ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(ip), &th, sizeof(th)))
		return TC_ACT_SHOT;
	seg_len = bpf_ntohs(ip.tot_len) - sizeof(ip) - th.doff * 4 + th.syn + th.fin;

	r.ip.version = 4;
	r.ip.ihl = 5;
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.frag_off = bpf_htons(IP_DF_BIT);
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_TCP;
	r.ip.saddr = daddr;
	r.ip.daddr = saddr;
	r.tcp.source = th.dest;
	r.tcp.dest = th.source;
	r.tcp.doff = 5;
	r.tcp.rst = 1;
	if (th.ack) {
		r.tcp.seq = th.ack_seq;
	} else {
		r.tcp.ack = 1;
		r.tcp.ack_seq = bpf_htonl(bpf_ntohl(th.seq) + seg_len);
	}
	ph.saddr = r.ip.saddr;
	ph.daddr = r.ip.daddr;
	ph.proto = IPPROTO_TCP;
	ph.len = bpf_htons(sizeof(r.tcp));
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.tcp, sizeof(r.tcp), (__u32)sum);
	if (sum < 0)
		return TC_ACT_SHOT;
	r.tcp.check = csum_fold(sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	r.ip.check = csum_fold(sum);

	/* change_tail also drops GSO state: the reply is one plain packet. */
	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(r), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &r, sizeof(r), 0))
		return TC_ACT_SHOT;
	return bounce_to_ingress(skb, macs);
}

struct icmp_reply {
	struct iphdr ip;
	struct icmphdr icmp;
	struct iphdr inner;
	struct udphdr inner_udp;
};

/*
 * UDP: the packet becomes an ICMP port unreachable from the frontend quoting the original header,
 * fed back into the pod; a connected UDP socket reports ECONNREFUSED (an unconnected one ignores
 * it, as with any ICMP error on Linux without IP_RECVERR).
 */
static __noinline int reject_udp(struct __sk_buff *skb, __be32 saddr, __be32 daddr)
{
	struct icmp_reply r = {};
	__u8 macs[ETH_ALEN * 2];
	__s64 sum;

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &r.inner, sizeof(r.inner)) || r.inner.ihl != 5 ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(r.inner), &r.inner_udp, sizeof(r.inner_udp)))
		return TC_ACT_SHOT;

	r.ip.version = 4;
	r.ip.ihl = 5;
	r.ip.tos = 0xc0; /* like the kernel's own ICMP errors (precedence internetwork control) */
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_ICMP;
	r.ip.saddr = daddr;
	r.ip.daddr = saddr;
	r.icmp.type = ICMP_DEST_UNREACH;
	r.icmp.code = ICMP_PORT_UNREACH;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.icmp,
			    sizeof(r.icmp) + sizeof(r.inner) + sizeof(r.inner_udp), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	r.icmp.checksum = csum_fold(sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	r.ip.check = csum_fold(sum);

	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(r), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &r, sizeof(r), 0))
		return TC_ACT_SHOT;
	return bounce_to_ingress(skb, macs);
}

/* -------------------------------------------------------------------------------------------- */
/* Backend selection                                                                             */

/*
 * The backend with this id, copied out in one 8-byte load (the daemon may rewrite the entry at
 * any moment through its mapping); false if the id is free (addr 0) or out of range.
 */
static __always_inline bool backend_by_id(__u32 id, struct tw_backend *out)
{
	struct tw_backend *be;
	__u64 raw;

	if (id == 0)
		return false;
	be = bpf_map_lookup_elem(&tw_be_v1, &id);
	if (!be)
		return false;
	raw = *(volatile __u64 *)be; /* array values are 8-byte aligned */
	__builtin_memcpy(out, &raw, sizeof(*out));
	return out->addr != 0;
}

/* The backend id in the frontend's live slot i (0: none). */
static __always_inline __u32 slot_backend(__u32 slot_base, __u32 i)
{
	__u32 index = slot_base + i;
	__u32 *v = bpf_map_lookup_elem(&tw_slot_v1, &index);

	return v ? *v : 0;
}

/*
 * Whether backend id still fills a live slot (< count) of the frontend. tw_affinity.slot_hint holds the
 * slot (relative to slot_base) the backend had when the affinity was recorded: a hint, so the
 * usual check is one lookup; if the daemon has moved it, a bounded scan of the first
 * AFFINITY_SLOT_SCAN slots finds it (beyond those the client simply gets a new backend).
 */
static __always_inline bool slot_holds(__u32 slot_base, __u32 count, __u32 id, __u32 *slot)
{
	__u32 i;

	if (*slot < count && slot_backend(slot_base, *slot) == id)
		return true;
	for (i = 0; i < AFFINITY_SLOT_SCAN; i++) {
		if (i >= count)
			break;
		if (slot_backend(slot_base, i) == id) {
			*slot = i;
			return true;
		}
	}
	return false;
}

struct frontend_info {
	__u32 id;
	__u32 slot_base;
	__u32 count;
	__u32 affinity_s;
};

/*
 * A backend for a new flow: the client's affinity entry if it is fresh and its backend still
 * exists and still fills a slot (a draining backend gets no new flow, affinity or not), else a
 * random slot. False if the maps are mid-update (an empty slot, or a slot naming a free id).
 */
static __always_inline bool pick_backend(const struct frontend_info *fe, __be32 client, __u64 now,
					 __u32 *be_id, struct tw_backend *be)
{
	struct tw_affinity_key ak = { .client_addr = client, .frontend_id = fe->id };
	struct tw_affinity *a;
	__u32 id, slot;

	if (fe->affinity_s) {
		a = bpf_map_lookup_elem(&tw_aff_v1, &ak);
		if (a && (__s64)(now - a->last_used_ns) < (__s64)((__u64)fe->affinity_s * NS_PER_S)) {
			id = a->backend_id;
			slot = a->slot_hint;
			if (backend_by_id(id, be) && slot_holds(fe->slot_base, fe->count, id, &slot)) {
				a->last_used_ns = now;
				if (a->slot_hint != slot)
					a->slot_hint = slot;
				*be_id = id;
				return true;
			}
		}
	}

	slot = bpf_get_prandom_u32() % fe->count;
	id = slot_backend(fe->slot_base, slot);
	if (!backend_by_id(id, be))
		return false;
	if (fe->affinity_s) {
		struct tw_affinity na = { .last_used_ns = now, .backend_id = id, .slot_hint = slot };

		bpf_map_update_elem(&tw_aff_v1, &ak, &na, BPF_ANY);
	}
	*be_id = id;
	return true;
}

/* The forward key of a packet the client sends: the conntrack key of its flow. */
static __always_inline void flow_key_of(const struct pkt *p, struct tw_flow_key *key)
{
	*key = (struct tw_flow_key){
		.client_addr = p->saddr,
		.frontend_addr = p->daddr,
		.client_port = p->sport,
		.frontend_port = p->dport,
		.proto = p->proto,
	};
}

static __always_inline bool same_flow_key(const struct tw_flow_key *a, const struct tw_flow_key *b)
{
	return a->client_addr == b->client_addr && a->frontend_addr == b->frontend_addr &&
	       a->client_port == b->client_port && a->frontend_port == b->frontend_port &&
	       a->proto == b->proto;
}

/* Whether a port (network order) is one the programs move client ports to. */
static __always_inline bool moved_port_range(__be16 port)
{
	return (__u16)(bpf_ntohs(port) - TW_MOVED_PORT_MIN) < TW_MOVED_PORT_COUNT;
}

/*
 * The client port a flow's packets carry on the wire: its key's, or for a flow whose port was
 * moved, the one its tw_moved entry names. 0 when that entry is gone (evicted): the flow can no
 * longer be translated, and counts as ended.
 */
static __always_inline __be16 wire_port(const struct tw_flow *f, const struct tw_flow_key *key)
{
	struct tw_moved_port *m;

	if (!(f->flags & TW_FLOW_F_PORT_MOVED))
		return key->client_port;
	m = bpf_map_lookup_elem(&tw_moved_v1, key);
	return m ? m->client_port : 0;
}

/* Who holds the 4-tuple a reverse key stands for (see port_held()). */
enum port_owner {
	PORT_FREE,	/* no reverse entry */
	PORT_STALE,	/* a reverse entry whose flow no longer holds the port */
	PORT_OURS,	/* the reverse entry leads to the flow asking */
	PORT_HELD,	/* another open flow to the same backend holds it */
};

/*
 * Whether the client's port towards a backend (the reverse key rk: client address and port,
 * backend address and port, protocol) is held by an open flow other than `own` (NULL: any flow).
 *
 * The client's kernel keeps a local port unique per destination, and a ClusterIP is a destination
 * of its own: it may give the same port to a connection to one Service and to one to another
 * Service with the same backends, or to a direct connection to the backend. After translation the
 * two are one 4-tuple on the wire, which the backend cannot tell apart: both connections would
 * break (the reverse entry can name only one of them). So the second one draws another backend,
 * or leaves from another port (pick_free_port(), as a kernel NAT such as kube-proxy's moves its
 * source port), or when neither is free is refused and counted. A flow holds its port on the wire
 * while alive and not closing: a CLOSING flow's port is free to reuse, as the kernel reuses it,
 * and so is a flow whose backend was deleted or moved, or whose port was moved elsewhere since.
 */
static __always_inline enum port_owner port_held(const struct tw_reverse_key *rk,
						 const struct tw_flow_key *own, __u64 now)
{
	struct tw_flow_key *v = bpf_map_lookup_elem(&tw_rev_v1, rk);
	struct tw_flow_key other;
	struct tw_backend be;
	struct tw_flow *f;

	if (!v)
		return PORT_FREE;
	if (own && same_flow_key(v, own))
		return PORT_OURS;
	other = *v;
	f = bpf_map_lookup_elem(&tw_flow_v1, &other);
	if (!f || f->state == TW_FLOW_CLOSING || !flow_alive(f, rk->proto, now) ||
	    f->backend_addr != rk->backend_addr || f->backend_port != rk->backend_port ||
	    wire_port(f, &other) != rk->client_port)
		return PORT_STALE;
	/* A direct flow has no backend entry to outlive: it is the client's own connection. */
	if (!(f->flags & TW_FLOW_F_DIRECT) &&
	    (!backend_by_id(f->backend_id, &be) || be.addr != f->backend_addr ||
	     be.port != f->backend_port))
		return PORT_STALE;
	return PORT_HELD;
}

/*
 * Whether the client has a TCP connection of its own open to the backend from that port (the
 * reverse key rk): a direct connection, which the programs do not track, found in the client's
 * socket table. The mirror of port_held()'s direct case: the direct connection came first, and a
 * ClusterIP flow translated onto its 4-tuple would break it. The lookup takes the tuple as a
 * packet arriving from the backend would carry it; a listener on that port is no connection, and
 * a connection in TIME_WAIT (no full socket) holds nothing on the backend's side.
 */
static __always_inline bool direct_connection(struct __sk_buff *skb,
					      const struct tw_reverse_key *rk)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	bool open;

	if (rk->proto != IPPROTO_TCP)
		return false;
	t.ipv4.saddr = rk->backend_addr;
	t.ipv4.daddr = rk->client_addr;
	t.ipv4.sport = rk->backend_port;
	t.ipv4.dport = rk->client_port;
	sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return false;
	open = sk->state != BPF_TCP_LISTEN;
	bpf_sk_release(sk);
	return open;
}

/* tuple_owner()'s answer: the port_owner in bits 0-1, and this bit when the tuple is taken. */
#define TUPLE_TAKEN 4

/* A 16-byte key as two words: how tuple_owner() takes its keys (see there). */
union key_words {
	struct tw_reverse_key rk;
	struct tw_flow_key fk;
	__u64 w[2];
};

enum claim_kind { CLAIM_TUPLE, CLAIM_FLOW };

#ifdef TW_CAS_CLAIMS
/* The slot of tw_claim_slot that claims on `key` (16 bytes, padding zeroed) of `kind` take. */
static __always_inline __u64 *claim_slot(const void *key, enum claim_kind kind)
{
	union key_words k;
	__u64 mixed;
	__u32 index;

	__builtin_memcpy(&k, key, sizeof(k));
	mixed = (k.w[0] ^ (k.w[1] * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
	index = kind * TW_CLAIM_SLOTS + (__u32)(mixed >> (64 - TW_CLAIM_SLOT_BITS));
	return bpf_map_lookup_elem(&tw_claim_slot_v1, &index);
}

static __always_inline bool take_claim(const void *key, enum claim_kind kind, __u64 now)
{
	__u64 *slot = claim_slot(key, kind);

	return slot && __sync_val_compare_and_swap(slot, 0, now | 1) == 0;
}

/* An exchange, not a plain store: fully ordered, so the entries written under the claim are seen
 * before the claim is free (a plain store may pass them on arm64). */
static __always_inline void drop_claim(const void *key, enum claim_kind kind)
{
	__u64 *slot = claim_slot(key, kind);

	if (slot)
		__sync_lock_test_and_set(slot, 0);
}
#else
/* The hash that claims of `kind` are entries of. */
static __always_inline void *claim_map(enum claim_kind kind)
{
	return kind == CLAIM_TUPLE ? (void *)&tw_claim_v1 : (void *)&tw_flow_claim_v1;
}

static __always_inline bool take_claim(const void *key, enum claim_kind kind, __u64 now)
{
	return bpf_map_update_elem(claim_map(kind), key, &now, BPF_NOEXIST) == 0;
}

static __always_inline void drop_claim(const void *key, enum claim_kind kind)
{
	bpf_map_delete_elem(claim_map(kind), key);
}
#endif

/* A claim on rk's 4-tuple, stamped `now`; false when another program run holds it. */
static __always_inline bool claim_tuple(const struct tw_reverse_key *rk, __u64 now)
{
	return take_claim(rk, CLAIM_TUPLE, now);
}

static __always_inline void release_tuple(const struct tw_reverse_key *rk)
{
	drop_claim(rk, CLAIM_TUPLE);
}

/*
 * Whether a new flow (own) may not use rk's 4-tuple, because another flow holds it or a direct
 * connection does, or another CPU is taking it right now, with port_held()'s answer. A tuple
 * found free is returned claimed (claim_tuple()): the caller writes its reverse entry, then calls
 * release_tuple(). A global function: the verifier checks it once, on its own, rather than at each
 * of the up to nine places a new flow may ask (its first pick, the other backends, the moved
 * ports), which would take it past its instruction limit. The keys come as words, not pointers: a
 * global function takes no pointer but its context before Linux 5.12. The clock is read again
 * inside, for want of a sixth argument: a tick later at most, against lifetimes of seconds.
 */
__noinline int tuple_owner(struct __sk_buff *skb, __u64 rk_lo, __u64 rk_hi, __u64 own_lo,
			   __u64 own_hi)
{
	union key_words key = { .w = { rk_lo, rk_hi } };
	union key_words flow = { .w = { own_lo, own_hi } };
	enum port_owner owner;
	__u64 now;

	if (!skb)
		return PORT_HELD | TUPLE_TAKEN;
	now = lb_now();
	/* Claimed before it is read: what the check finds then stays true until the release. */
	if (!claim_tuple(&key.rk, now))
		return PORT_HELD | TUPLE_TAKEN;
	owner = port_held(&key.rk, &flow.fk, now);
	if (owner == PORT_HELD) {
		release_tuple(&key.rk);
		return owner | TUPLE_TAKEN;
	}
	/*
	 * The reverse entry still leading to this flow proves that no direct connection took the
	 * tuple since: the flow found none when it first took it, and a direct SYN from the port
	 * since would have deleted the entry (its flow no longer holding the port) or left from a
	 * moved port (not_a_service()). So the client reopening a Service connection from the port
	 * of an ended one, most new connections of a busy client, skips the socket lookup.
	 */
	if (owner != PORT_OURS && direct_connection(skb, &key.rk)) {
		release_tuple(&key.rk);
		return owner | TUPLE_TAKEN;
	}
	return owner;
}

/*
 * Deletes rk's reverse entry if it leads to `key`. Under a claim: without one, a new flow could
 * take the tuple and write its own entry between the check and the delete, which would delete
 * that flow's and leave its answers untranslated. A tuple claimed by a flow taking it is left
 * alone: that flow writes its entry over this one.
 */
static __always_inline bool delete_reverse_of(const struct tw_reverse_key *rk,
					      const struct tw_flow_key *key, __u64 now)
{
	struct tw_flow_key *owner;
	bool deleted = false;

	if (!claim_tuple(rk, now))
		return false;
	owner = bpf_map_lookup_elem(&tw_rev_v1, rk);
	if (owner && same_flow_key(owner, key))
		deleted = bpf_map_delete_elem(&tw_rev_v1, rk) == 0;
	release_tuple(rk);
	return deleted;
}

/*
 * A claim on a flow key (tw_flow_claim, or its half of tw_claim_slot), stamped `now`, for
 * writing over or deleting its ended entry (see there). False when another program run holds it.
 */
static __always_inline bool claim_flow(const struct tw_flow_key *key, __u64 now)
{
	return take_claim(key, CLAIM_FLOW, now);
}

static __always_inline void release_flow(const struct tw_flow_key *key)
{
	drop_claim(key, CLAIM_FLOW);
}

static __always_inline bool tuple_taken(struct __sk_buff *skb, const struct tw_reverse_key *rk,
					const struct tw_flow_key *own, enum port_owner *owner)
{
	union key_words r, o;
	int answer;

	__builtin_memcpy(&r.rk, rk, sizeof(r.rk));
	__builtin_memcpy(&o.fk, own, sizeof(o.fk));
	answer = tuple_owner(skb, r.w[0], r.w[1], o.w[0], o.w[1]);
	*owner = answer & 3;
	return answer & TUPLE_TAKEN;
}

/* How many of a frontend's backends a new flow tries when its first pick's port is taken. */
#define CLASH_PICKS 4

/*
 * After the first pick's 4-tuple proved taken (tuple_taken()), up to CLASH_PICKS of the frontend's
 * backends in slot order from a random one, for one whose tuple is free. Affinity is not recorded
 * for it: the client's next flow may still find its remembered backend free.
 */
static __always_inline bool pick_free_backend(struct __sk_buff *skb,
					      const struct frontend_info *fe,
					      struct tw_reverse_key *rk,
					      const struct tw_flow_key *own, __u32 *be_id,
					      struct tw_backend *be, enum port_owner *owner)
{
	__u32 start = bpf_get_prandom_u32();

	for (int i = 0; i < CLASH_PICKS; i++) {
		__u32 id;

		if (i >= fe->count)
			break;
		id = slot_backend(fe->slot_base, (start + i) % fe->count);
		if (!backend_by_id(id, be))
			continue;
		rk->backend_addr = be->addr;
		rk->backend_port = be->port;
		if (!tuple_taken(skb, rk, own, owner)) {
			*be_id = id;
			return true;
		}
	}
	return false;
}

/* How many ports a new flow tries when it has to move its client port. */
#define MOVE_PICKS 4

/*
 * A client port for a new flow whose own port towards rk's backend is taken and which has no
 * other backend to draw (struct tw_moved_port): up to MOVE_PICKS random ports of the moved range,
 * the first whose 4-tuple no open flow and no connection of the client's holds. rk's client port
 * is left at the last one tried.
 */
static __always_inline bool pick_free_port(struct __sk_buff *skb, struct tw_reverse_key *rk,
					   const struct tw_flow_key *own, enum port_owner *owner)
{
	for (int i = 0; i < MOVE_PICKS; i++) {
		__u16 port = TW_MOVED_PORT_MIN + bpf_get_prandom_u32() % TW_MOVED_PORT_COUNT;

		rk->client_port = bpf_htons(port);
		if (!tuple_taken(skb, rk, own, owner))
			return true;
	}
	return false;
}

/* The word of a gate that holds (addr, port, proto)'s bit, and that bit in it (see lb_maps.h). */
static __always_inline __u64 *gate_word(void *gate, __be32 addr, __be16 port, __u8 proto,
					__u64 *mask)
{
	__u32 bit = tw_gate_hash(addr, port, proto);
	__u32 word = bit / 64;

	*mask = 1ULL << (bit % 64);
	return bpf_map_lookup_elem(gate, &word);
}

/* Whether a gate (tw_fe_gate, tw_be_gate or tw_direct_gate) lets (addr, port, proto) through. */
static __always_inline bool gate_may_hold(void *gate, __be32 addr, __be16 port, __u8 proto)
{
	__u64 mask;
	__u64 *w = gate_word(gate, addr, port, proto, &mask);

	return w && (*w & mask);
}

/*
 * What an ICMP error (destination unreachable, including fragmentation needed, or time exceeded)
 * quotes: the IPv4 header and the ports of a TCP or UDP packet (not a later fragment). Loaded by
 * load_icmp_quote(), which says false for any other ICMP message, or one too short to quote that.
 */
struct icmp_quote {
	struct iphdr ip;
	__be16 ports[2];
	__u32 ip_off; /* where the quoted IPv4 header starts in the frame */
	__u32 l4_off; /* where its ports start */
};

static __always_inline bool load_icmp_quote(struct __sk_buff *skb, const struct pkt *p,
					    struct icmp_quote *q)
{
	struct icmphdr ic;

	q->ip_off = p->l4_off + sizeof(struct icmphdr);
	if (p->frag != FRAG_NONE || q->ip_off > MAX_L4_OFF + sizeof(struct icmphdr))
		return false;
	if (bpf_skb_load_bytes(skb, p->l4_off, &ic, sizeof(ic)))
		return false;
	if (ic.type != ICMP_DEST_UNREACH && ic.type != ICMP_TIME_EXCEEDED)
		return false;
	if (bpf_skb_load_bytes(skb, q->ip_off, &q->ip, sizeof(q->ip)))
		return false;
	if ((q->ip.protocol != IPPROTO_TCP && q->ip.protocol != IPPROTO_UDP) || q->ip.ihl < 5 ||
	    (q->ip.frag_off & bpf_htons(IP_OFFSET_MASK)))
		return false;
	q->l4_off = q->ip_off + q->ip.ihl * 4;
	return !bpf_skb_load_bytes(skb, q->l4_off, q->ports, sizeof(q->ports));
}

/* The quoted ports, as icmp_quote.ports indexes them. */
#define QUOTED_SPORT 0
#define QUOTED_DPORT 1

/*
 * Sets a quoted port (QUOTED_SPORT or QUOTED_DPORT) to `to`, when it differs, and moves the ICMP
 * checksum with it. The quoted L4 checksum is left as it was: nothing verifies it. -1 on failure.
 */
static __always_inline int rewrite_quoted_port(struct __sk_buff *skb, const struct pkt *p,
					       const struct icmp_quote *q, const int which,
					       __be16 to)
{
	__be16 from = q->ports[which];

	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, p->l4_off + offsetof(struct icmphdr, checksum), from, to,
				sizeof(to)) ||
	    bpf_skb_store_bytes(skb, q->l4_off + which * sizeof(to), &to, sizeof(to), 0))
		return -1;
	return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* Egress                                                                                        */


/*
 * A direct TCP connection whose port towards its backend (rk) an open flow to a frontend holds:
 * leaves from a moved port, as kube-proxy's conntrack would move it, instead of becoming that
 * flow's 4-tuple on the wire. It is tracked like a flow (TW_FLOW_F_DIRECT, keyed by the backend),
 * its reverse entry keyed by the moved port, and the direct gate's bit is set first so that its
 * later packets find it (lb_maps.h). Refused only when no port is free.
 */
static __always_inline int move_direct(struct __sk_buff *skb, const struct pkt *p,
				       struct tw_reverse_key *rk, const struct tw_flow_key *key,
				       __u64 now)
{
	enum port_owner owner;
	__u64 mask;
	__u64 *w = gate_word(&tw_direct_gate_v1, p->daddr, p->dport, p->proto, &mask);

	if (!w || !pick_free_port(skb, rk, key, &owner)) {
		count_node(COUNT_CLASH);
		if (p->proto == IPPROTO_TCP)
			return reject_tcp(skb, p->saddr, p->daddr);
		return reject_udp(skb, p->saddr, p->daddr);
	}
	/* Written under the key's claim: the collector may be deleting an ended entry of the key. */
	if (!claim_flow(key, now)) {
		release_tuple(rk);
		return TC_ACT_SHOT;
	}
	if (!(*w & mask)) {
		__u32 zero = 0;
		struct tw_gate_lock *l = bpf_map_lookup_elem(&tw_gate_lock_v1, &zero);

		if (l) {
			bpf_spin_lock(&l->lock);
			*w |= mask;
			bpf_spin_unlock(&l->lock);
		}
	}
	{
		struct tw_moved_port mp = { .client_port = rk->client_port };
		struct tw_flow nf = {
			.first_seen_ns = now,
			.last_seen_ns = now,
			.packets = skb_packets(skb),
			.bytes = skb->len,
			.backend_addr = p->daddr,
			.backend_port = p->dport,
			.state = flow_next_state(TW_FLOW_NEW, p->tcp_flags, true),
			.flags = TW_FLOW_F_DIRECT | TW_FLOW_F_PORT_MOVED,
		};

		bpf_map_update_elem(&tw_moved_v1, key, &mp, BPF_ANY);
		bpf_map_update_elem(&tw_flow_v1, key, &nf, BPF_ANY);
		bpf_map_update_elem(&tw_rev_v1, rk, key, BPF_ANY);
		release_tuple(rk);
		release_flow(key);
	}
	count_node(COUNT_MOVED_DIRECT);
	/* The source port sits at the same offset in TCP and UDP headers. */
	if (rewrite_port(skb, p, offsetof(struct udphdr, source), p->sport, rk->client_port))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/*
 * A direct TCP or UDP packet to an address and port whose direct gate bit is set: if it belongs to
 * a live direct flow (move_direct()), it leaves from the flow's moved port. A SYN of a new
 * connection from the port of an ended one is not: the ended flow is deleted (its later packets
 * would otherwise take the old port), and the SYN goes on to not_a_service()'s checks. A datagram
 * after its direct flow expired goes on to them too, and is moved afresh if the port is still held.
 */
static __always_inline bool egress_direct(struct __sk_buff *skb, const struct pkt *p,
					  const struct tw_flow_key *key, bool syn, __u64 now,
					  int *verdict)
{
	struct tw_flow *f = bpf_map_lookup_elem(&tw_flow_v1, key);
	__be16 wire;

	if (!f || !(f->flags & TW_FLOW_F_DIRECT))
		return false;
	if (!flow_alive(f, p->proto, now) || (syn && f->state != TW_FLOW_NEW)) {
		/* A new connection from an ended one's port must not take its moved port. */
		if (syn)
			bpf_map_delete_elem(&tw_flow_v1, key);
		return false;
	}
	wire = wire_port(f, key);
	if (!wire)
		return false;
	flow_touch(f, now, skb_packets(skb), skb->len,
		   flow_advance(f, p->proto, p->tcp_flags, true, now));
	*verdict = rewrite_port(skb, p, offsetof(struct udphdr, source), p->sport, wire) ?
			   TC_ACT_SHOT :
			   TC_ACT_OK;
	return true;
}

/*
 * Not a service. Trap 3: a SYN opening a direct connection must not meet a reverse entry an
 * earlier ClusterIP flow left for the same client port and backend: a stale one is deleted. One
 * whose ClusterIP flow is still open means the two connections would be one 4-tuple on the wire
 * (port_held()): the direct one leaves from a moved port (move_direct()), and its later packets
 * follow it there (egress_direct()). Looked up before deleting: a lookup takes no lock, a delete
 * locks its bucket even when there is nothing to delete.
 *
 * UDP has no SYN to check once: every datagram to a backend's address and port (its backend gate
 * bit set) is checked, a reverse lookup each, which traffic to anything else never pays. One sent
 * from a port a live ClusterIP flow to that backend holds is moved like a TCP connection; without
 * that, the backend's answer would be reverse-translated as the Service's, and reach the socket
 * from the wrong address. A stale reverse entry is left to the ingress program, which translates
 * only for a live flow: deleting it here would take a bucket lock per datagram.
 */
static __always_inline int not_a_service(struct __sk_buff *skb, const struct pkt *p)
{
	struct tw_reverse_key rk;
	struct tw_flow_key key;
	bool tcp = p->proto == IPPROTO_TCP;
	bool syn, gated, to_backend;
	enum port_owner owner;
	int verdict;
	__u64 now;

	syn = tcp && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	gated = gate_may_hold(&tw_direct_gate_v1, p->daddr, p->dport, p->proto);
	/* A TCP segment checks at its SYN, a datagram whenever it goes to a backend. */
	to_backend = syn || (!tcp && gate_may_hold(&tw_be_gate_v1, p->daddr, p->dport, p->proto));
	/* Most of a pod's traffic: not to a frontend, no SYN, no direct flow to its destination. */
	if (!to_backend && !gated)
		return TC_ACT_OK;
	now = lb_now();
	flow_key_of(p, &key);
	if (gated && egress_direct(skb, p, &key, syn, now, &verdict))
		return verdict;
	if (!to_backend)
		return TC_ACT_OK;
	rk = (struct tw_reverse_key){
		.client_addr = p->saddr,
		.backend_addr = p->daddr,
		.client_port = p->sport,
		.backend_port = p->dport,
		.proto = p->proto,
	};
	owner = port_held(&rk, NULL, now);
	if (owner == PORT_HELD)
		return move_direct(skb, p, &rk, &key, now);
	if (owner == PORT_STALE && tcp && claim_tuple(&rk, now)) {
		/* Judged again under the claim: a new flow may have taken the tuple since. */
		if (port_held(&rk, NULL, now) == PORT_STALE)
			bpf_map_delete_elem(&tw_rev_v1, &rk);
		release_tuple(&rk);
	}
	return TC_ACT_OK;
}

/*
 * A packet the frontend gate let through. The conntrack entry is looked up first: an established
 * flow needs nothing from the frontend entry (its ids and backend are in the flow), so only a new
 * flow, or a packet whose gate bit belongs to another key, pays the frontend lookup.
 */
static __always_inline int egress_frontend(struct __sk_buff *skb, const struct pkt *p, bool l2_fix)
{
	struct tw_flow_key key;
	struct tw_reverse_key rk = {
		.client_addr = p->saddr,
		.client_port = p->sport,
		.proto = p->proto,
	};
	struct tw_frontend_key fk = { .addr = p->daddr, .port = p->dport, .proto = p->proto };
	struct frontend_info fi;
	struct tw_frontend *fe;
	enum port_owner owner;
	__u32 fe_id;
	bool tcp = p->proto == IPPROTO_TCP;
	bool syn = tcp && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	__u64 now = lb_now();
	__u64 pkts = skb_packets(skb), bytes = skb->len;
	__be32 old_addr = 0, baddr;
	__be16 old_port = 0, bport;
	__be16 wire = p->sport, old_wire = 0; /* the client port on the wire (see wire_port()) */
	bool moved = false;
	__u32 old_be_id = 0;
	bool flow_claimed = false;
	struct tw_backend be;
	struct tw_flow *f;
	__u64 next_hop = 0;
	const void *mac = NULL;
	__u32 be_id;
	__u8 state;

	flow_key_of(p, &key);
	f = bpf_map_lookup_elem(&tw_flow_v1, &key);
	if (f) {
		be_id = f->backend_id;
		old_wire = wire_port(f, &key);
		if (backend_by_id(be_id, &be) && be.addr == f->backend_addr &&
		    be.port == f->backend_port &&
		    flow_alive(f, p->proto, now) && !(syn && f->state != TW_FLOW_NEW) && old_wire) {
			wire = old_wire;
			baddr = f->backend_addr;
			bport = f->backend_port;
			next_hop = *(volatile __u64 *)&f->next_hop;
			flow_touch(f, now, pkts, bytes,
				   flow_advance(f, p->proto, p->tcp_flags, true, now));
			stat_add(&tw_fe_stat_v1, f->frontend_id, pkts, bytes, 0);
			stat_add(&tw_be_stat_v1, be_id, pkts, bytes, 0);
			goto translate;
		}
		old_be_id = be_id;
		old_addr = f->backend_addr;
		old_port = f->backend_port;
	}

	/*
	 * A new flow, if the destination is a frontend: the gate's bit may be another address's, or
	 * the flow found may have outlived its frontend.
	 */
	fe = bpf_map_lookup_elem(&tw_fe_v1, &fk);
	if (!fe)
		return not_a_service(skb, p);
	fi.id = fe->id;
	fi.slot_base = fe->slot_base;
	fi.count = fe->backend_count;
	fi.affinity_s = fe->affinity_timeout_s;
	fe_id = fi.id;
	if (fi.count == 0) {
		count_rejected(fe_id);
		if (tcp)
			return reject_tcp(skb, p->saddr, p->daddr);
		return reject_udp(skb, p->saddr, p->daddr);
	}
	if (!pick_backend(&fi, p->saddr, now, &be_id, &be)) {
		/* The daemon is rewriting this frontend's slots: drop, the client retransmits. */
		count_rejected(fe_id);
		return TC_ACT_SHOT;
	}
	rk.backend_addr = be.addr;
	rk.backend_port = be.port;
	if (tuple_taken(skb, &rk, &key, &owner)) {
		__u32 first_id = be_id;
		struct tw_backend first = be;

		/* Another backend first: a moved port costs the flow's every packet a rewrite more. */
		if (!pick_free_backend(skb, &fi, &rk, &key, &be_id, &be, &owner)) {
			be_id = first_id;
			be = first;
			rk.backend_addr = be.addr;
			rk.backend_port = be.port;
			if (!pick_free_port(skb, &rk, &key, &owner)) {
				count_node(COUNT_CLASH);
				if (tcp)
					return reject_tcp(skb, p->saddr, p->daddr);
				return reject_udp(skb, p->saddr, p->daddr);
			}
			moved = true;
		}
	}
	if (f) {
		/*
		 * The ended entry found above is written over under its key's claim, and looked up
		 * again: the collector may have deleted it since, or be deleting it now, and would
		 * delete what is written with it. That takes nanoseconds, so the packet is dropped
		 * (the client retransmits) rather than the flow lost.
		 */
		if (!claim_flow(&key, now)) {
			release_tuple(&rk);
			count_rejected(fe_id);
			return TC_ACT_SHOT;
		}
		flow_claimed = true;
		f = bpf_map_lookup_elem(&tw_flow_v1, &key);
	}
	baddr = be.addr;
	bport = be.port;
	wire = rk.client_port;
	state = flow_next_state(TW_FLOW_NEW, p->tcp_flags, true);
	if (f && old_be_id == be_id && old_addr == baddr && old_port == bport && old_wire == wire) {
		/*
		 * The client reused the port of an ended flow and got the same backend (the usual case
		 * for a busy client of a Service with few backends, or with affinity): the entry is
		 * restarted in place, and its reverse entry kept if it still leads here. Two LRU
		 * updates (each takes a node off the LRU and a bucket lock) become plain stores and a
		 * lookup. The backend fields do not change, so a reply on another CPU never reads a
		 * half-written backend; at worst it sees the new state with the old last_seen_ns, which
		 * is alive either way.
		 */
		f->first_seen_ns = now;
		f->last_seen_ns = now;
		f->packets = pkts;
		f->bytes = bytes;
		f->frontend_id = fe_id;
		f->state = state;
		f->next_hop = 0; /* a new flow proves its next hop afresh */
		if (owner != PORT_OURS)
			bpf_map_update_elem(&tw_rev_v1, &rk, &key, BPF_ANY);
	} else {
		struct tw_flow nf = {
			.first_seen_ns = now,
			.last_seen_ns = now,
			.packets = pkts,
			.bytes = bytes,
			.next_hop = 0,
			.frontend_id = fe_id,
			.backend_id = be_id,
			.backend_addr = baddr,
			.backend_port = bport,
			.state = state,
			.flags = moved ? TW_FLOW_F_PORT_MOVED : 0,
		};

		if (moved) {
			/* Before the flow names it: a flagged flow without its port is an ended one. */
			struct tw_moved_port mp = { .client_port = wire };

			bpf_map_update_elem(&tw_moved_v1, &key, &mp, BPF_ANY);
		}
		bpf_map_update_elem(&tw_flow_v1, &key, &nf, BPF_ANY);
		if (f && old_wire && (old_addr != baddr || old_port != bport || old_wire != wire)) {
			/*
			 * The entry replaced was another 4-tuple: its reverse entry is stale now, if it
			 * still leads here. The old flow had ended, so another flow may have taken that
			 * tuple since (a connection to another Service with the same backend, from the
			 * same port): its reverse entry is that flow's, and deleting it would leave the
			 * flow's replies untranslated and its tuple free for a third.
			 */
			struct tw_reverse_key old_rk = rk;

			old_rk.backend_addr = old_addr;
			old_rk.backend_port = old_port;
			old_rk.client_port = old_wire;
			delete_reverse_of(&old_rk, &key, now);
		}
		bpf_map_update_elem(&tw_rev_v1, &rk, &key, BPF_ANY);
	}
	release_tuple(&rk);
	if (flow_claimed)
		release_flow(&key);
	stat_add(&tw_fe_stat_v1, fe_id, pkts, bytes, 1);
	stat_add(&tw_be_stat_v1, be_id, pkts, bytes, 1);
	count_node(COUNT_FLOW);
	if (moved)
		count_node(COUNT_MOVED);
	/* Restarted in place or replaced: either way the table holds no more entries than before. */
	if (f)
		count_node(COUNT_REUSED);

translate:
	if (p->frag == FRAG_FIRST) {
		struct lb_frag_key k = {
			.saddr = p->saddr, .daddr = p->daddr, .id = p->ip_id, .proto = p->proto
		};
		struct lb_frag_nat v = { .addr = baddr };

		bpf_map_update_elem(&tw_frag_v1, &k, &v, BPF_ANY);
	}
	/*
	 * An L2 device's frame goes to the learned next hop while it is fresh, else through the
	 * redirect. Bytes 0-5 of the word in memory are the MAC (see tw_flow.next_hop).
	 */
	if (l2_fix && next_hop_fresh(next_hop, now))
		mac = &next_hop;
	if (rewrite_addr_port(skb, p, true, baddr, offsetof(struct udphdr, dest),
			      p->dport, bport, true, mac))
		return TC_ACT_SHOT;
	if (wire != p->sport &&
	    rewrite_port(skb, p, offsetof(struct udphdr, source), p->sport, wire))
		return TC_ACT_SHOT;
	return l2_fix && !mac ? l2_redirect(skb) : TC_ACT_OK;
}

/* A later fragment of a datagram whose first fragment was DNATed. */
static __always_inline int egress_later_fragment(struct __sk_buff *skb, const struct pkt *p,
						 bool l2_fix)
{
	struct lb_frag_key k = {
		.saddr = p->saddr, .daddr = p->daddr, .id = p->ip_id, .proto = p->proto
	};
	struct lb_frag_nat *v = bpf_map_lookup_elem(&tw_frag_v1, &k);
	__be32 addr;

	if (!v)
		return TC_ACT_OK;
	addr = v->addr;
	if (rewrite_addr_port(skb, p, true, addr, 0, 0, 0, false, NULL))
		return TC_ACT_SHOT;
	return l2_fix ? l2_redirect(skb) : TC_ACT_OK;
}

/*
 * The egress twin of ingress_icmp(): an ICMP error the client sends about a packet it received
 * through a frontend quotes that packet as the client saw it, from the frontend. The usual one is
 * a UDP reply that arrived after the client closed its socket (port unreachable). Sent as it is,
 * it would be addressed to the frontend, an address that exists only inside this pod, and the
 * backend would never hear of it. So the outer destination and the quoted source become the
 * backend again, as they were on the wire. The checksums follow as in ingress_icmp(): the
 * quoted header's own, and the ICMP checksum for the port alone. Only for a live flow; anything
 * else passes untouched.
 */
static __always_inline int egress_icmp(struct __sk_buff *skb, const struct pkt *p, bool l2_fix)
{
	struct icmp_quote q;
	struct tw_flow_key key;
	struct tw_flow *f;
	__be32 baddr;
	__be16 bport, wire;

	if (!load_icmp_quote(skb, p, &q) || q.ip.saddr != p->daddr || q.ip.daddr != p->saddr)
		return TC_ACT_OK;
	__builtin_memset(&key, 0, sizeof(key));
	key.client_addr = q.ip.daddr;
	key.frontend_addr = q.ip.saddr;
	key.client_port = q.ports[1];
	key.frontend_port = q.ports[0];
	key.proto = q.ip.protocol;
	f = bpf_map_lookup_elem(&tw_flow_v1, &key);
	if (!f || !flow_alive(f, q.ip.protocol, lb_now()))
		return TC_ACT_OK;
	wire = wire_port(f, &key);
	if (!wire)
		return TC_ACT_OK;
	/* About a direct flow's packet: to the backend already, from the port on the wire. */
	if (f->flags & TW_FLOW_F_DIRECT)
		return rewrite_quoted_port(skb, p, &q, QUOTED_DPORT, wire) ? TC_ACT_SHOT : TC_ACT_OK;
	baddr = f->backend_addr;
	bport = f->backend_port;

	if (bpf_l3_csum_replace(skb, q.ip_off + offsetof(struct iphdr, check), q.ip.saddr, baddr,
				sizeof(baddr)) ||
	    bpf_skb_store_bytes(skb, q.ip_off + offsetof(struct iphdr, saddr), &baddr,
				sizeof(baddr), 0))
		return TC_ACT_SHOT;
	/* The backend's port, and for a moved flow the port on the wire, which its socket knows. */
	if (rewrite_quoted_port(skb, p, &q, QUOTED_SPORT, bport) ||
	    rewrite_quoted_port(skb, p, &q, QUOTED_DPORT, wire))
		return TC_ACT_SHOT;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, p->daddr, baddr, sizeof(baddr)) ||
	    bpf_skb_store_bytes(skb, IP_DST_OFF, &baddr, sizeof(baddr), 0))
		return TC_ACT_SHOT;
	return l2_fix ? l2_redirect(skb) : TC_ACT_OK;
}

static __always_inline int lb_egress(struct __sk_buff *skb, bool l2_fix)
{
	struct pkt p;

	/* The second pass of a packet bpf_redirect_neigh() re-sent (see l2_redirect). */
	if (skb->mark & TW_MARK_OWN_PASS) {
		skb->mark &= ~TW_MARK_OWN_PASS;
		return TC_ACT_OK;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (parse_ipv4(skb, &p))
		return TC_ACT_OK;
	if (p.proto == IPPROTO_ICMP)
		return egress_icmp(skb, &p, l2_fix);
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return TC_ACT_OK;
	if (p.frag == FRAG_LATER)
		return egress_later_fragment(skb, &p, l2_fix);
	if (parse_ports(skb, &p))
		return TC_ACT_OK;

	if (!gate_may_hold(&tw_fe_gate_v1, p.daddr, p.dport, p.proto))
		return not_a_service(skb, &p);
	return egress_frontend(skb, &p, l2_fix);
}

/* Egress for any pod, L2 devices (ipvlan, macvlan) included: DNAT, then the L2 fix. */
SEC("tc")
int tw_lb_egress(struct __sk_buff *skb)
{
	return lb_egress(skb, true);
}

/*
 * Egress for a pod whose every destination has the same next hop, such as a veth-mode pod (its
 * only routes go via 169.254.1.1, a permanent neighbour): the MAC the kernel resolved for the
 * ClusterIP is then the backend's next hop too, and the L2 fix (a route and neighbour lookup and a
 * second pass through this hook, about 0.5 us of round trip measured on veth) is skipped. Same
 * maps, same behaviour otherwise. Never attach it to an L2 pod with on-link backends.
 */
SEC("tc")
int tw_lb_egress_gw(struct __sk_buff *skb)
{
	return lb_egress(skb, false);
}

/* -------------------------------------------------------------------------------------------- */
/* Ingress                                                                                       */

/*
 * An ICMP error (destination unreachable, including fragmentation needed, or time exceeded)
 * quoting a packet the client sent to a backend through a frontend: the quoted destination becomes
 * the frontend again, so the kernel finds the client's socket (connection refused, PMTU...). The
 * quoted IPv4 header checksum is fixed; the ICMP checksum needs only the port's change, since a
 * header whose checksum is fixed along with the address sums to the same value. The quoted L4
 * checksum is left as it was (nothing verifies it). If the error comes from the backend itself,
 * its outer source becomes the frontend too.
 */
static __always_inline int ingress_icmp(struct __sk_buff *skb, const struct pkt *p)
{
	struct icmp_quote q;
	struct tw_flow_key fk;
	struct tw_flow_key *fkp;
	struct tw_flow *f;

	if (!load_icmp_quote(skb, p, &q) || q.ip.saddr != p->daddr)
		return TC_ACT_OK;
	{
		struct tw_reverse_key rk = {
			.client_addr = q.ip.saddr,
			.backend_addr = q.ip.daddr,
			.client_port = q.ports[0],
			.backend_port = q.ports[1],
			.proto = q.ip.protocol,
		};

		fkp = bpf_map_lookup_elem(&tw_rev_v1, &rk);
	}
	if (!fkp)
		return TC_ACT_OK;
	fk = *fkp;
	f = bpf_map_lookup_elem(&tw_flow_v1, &fk);
	if (!f || f->backend_addr != q.ip.daddr || f->backend_port != q.ports[1] ||
	    fk.client_addr != q.ip.saddr || wire_port(f, &fk) != q.ports[0] ||
	    !flow_alive(f, q.ip.protocol, lb_now()))
		return TC_ACT_OK;
	/* About a direct flow's packet: only the port the client's socket has changes. */
	if (f->flags & TW_FLOW_F_DIRECT)
		return rewrite_quoted_port(skb, p, &q, QUOTED_SPORT, fk.client_port) ? TC_ACT_SHOT :
										      TC_ACT_OK;

	if (bpf_l3_csum_replace(skb, q.ip_off + offsetof(struct iphdr, check), q.ip.daddr,
				fk.frontend_addr, sizeof(fk.frontend_addr)) ||
	    bpf_skb_store_bytes(skb, q.ip_off + offsetof(struct iphdr, daddr), &fk.frontend_addr,
				sizeof(fk.frontend_addr), 0))
		return TC_ACT_SHOT;
	/* The frontend's port, and for a moved flow the port the client's socket has. */
	if (rewrite_quoted_port(skb, p, &q, QUOTED_DPORT, fk.frontend_port) ||
	    rewrite_quoted_port(skb, p, &q, QUOTED_SPORT, fk.client_port))
		return TC_ACT_SHOT;
	if (p->saddr == q.ip.daddr &&
	    (bpf_l3_csum_replace(skb, IP_CSUM_OFF, p->saddr, fk.frontend_addr,
				 sizeof(fk.frontend_addr)) ||
	     bpf_skb_store_bytes(skb, IP_SRC_OFF, &fk.frontend_addr, sizeof(fk.frontend_addr), 0)))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/* A later fragment of a reply whose first fragment was SNATed. */
static __always_inline int ingress_later_fragment(struct __sk_buff *skb, const struct pkt *p)
{
	struct lb_frag_key k = {
		.saddr = p->saddr, .daddr = p->daddr, .id = p->ip_id, .proto = p->proto
	};
	struct lb_frag_nat *v = bpf_map_lookup_elem(&tw_frag_v1, &k);

	if (!v)
		return TC_ACT_OK;
	if (rewrite_addr_port(skb, p, false, v->addr, 0, 0, 0, false, NULL))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/*
 * Whether a reply's reverse entry, leading to fk (whose flow is f, or NULL), is stale (see
 * tw_lb_ingress()): f is no live flow that names this backend and this port on the wire, or the
 * reply is a SYN-ACK to a flow not waiting for one.
 */
static __always_inline bool reverse_stale(const struct tw_flow *f, const struct tw_flow_key *fk,
					  const struct pkt *p, bool synack, __u64 now)
{
	return !f || f->backend_addr != p->saddr || f->backend_port != p->sport ||
	       fk->client_addr != p->daddr || wire_port(f, fk) != p->dport ||
	       !flow_alive(f, p->proto, now) || (synack && f->state != TW_FLOW_NEW);
}

static __always_inline int lb_ingress(struct __sk_buff *skb)
{
	struct tw_reverse_key rk = {};
	struct tw_flow_key *fkp;
	struct tw_flow_key fk;
	struct tw_flow *f;
	struct pkt p;
	__u64 now, pkts, bytes;
	bool tcp, synack;
	__u8 state;

	/* A refusal the egress program bounced in (see bounce_to_ingress). */
	if (skb->mark & TW_MARK_OWN_PASS) {
		skb->mark &= ~TW_MARK_OWN_PASS;
		return TC_ACT_OK;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (parse_ipv4(skb, &p))
		return TC_ACT_OK;
	if (p.proto == IPPROTO_ICMP)
		return ingress_icmp(skb, &p);
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return TC_ACT_OK;
	if (p.frag == FRAG_LATER)
		return ingress_later_fragment(skb, &p);
	if (parse_ports(skb, &p))
		return TC_ACT_OK;

	/*
	 * Not from a backend: nothing to reverse-translate, and no reverse lookup to miss. A reply to a
	 * moved port is looked up anyway: a direct flow's backend may have left every Service, and the
	 * backend gate with it.
	 */
	if (!gate_may_hold(&tw_be_gate_v1, p.saddr, p.sport, p.proto) &&
	    !moved_port_range(p.dport))
		return TC_ACT_OK;
	rk.client_addr = p.daddr;
	rk.backend_addr = p.saddr;
	rk.client_port = p.dport;
	rk.backend_port = p.sport;
	rk.proto = p.proto;
	fkp = bpf_map_lookup_elem(&tw_rev_v1, &rk);
	if (!fkp)
		return TC_ACT_OK;

	/*
	 * Trap 3: translate only for a live forward flow that still names this backend, and a SYN-ACK
	 * only for a flow still waiting for one. Anything else means the reverse entry is stale (its
	 * flow expired, was evicted or moved to another backend, or this 4-tuple now belongs to a
	 * direct connection): it is deleted, and the packet passes untouched.
	 */
	fk = *fkp;
	f = bpf_map_lookup_elem(&tw_flow_v1, &fk);
	now = lb_now();
	tcp = p.proto == IPPROTO_TCP;
	synack = tcp && (p.tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
	if (reverse_stale(f, &fk, &p, synack, now)) {
		if (claim_tuple(&rk, now)) {
			/* Judged again under the claim: a new flow may have taken the tuple since. */
			fkp = bpf_map_lookup_elem(&tw_rev_v1, &rk);
			if (fkp && same_flow_key(fkp, &fk) &&
			    reverse_stale(bpf_map_lookup_elem(&tw_flow_v1, &fk), &fk, &p, synack, now))
				bpf_map_delete_elem(&tw_rev_v1, &rk);
			release_tuple(&rk);
		}
		return TC_ACT_OK;
	}

	state = flow_advance(f, p.proto, p.tcp_flags, false, now);
	pkts = skb_packets(skb);
	bytes = skb->len;
	flow_touch(f, now, pkts, bytes, state);
	if (f->flags & TW_FLOW_F_DIRECT) {
		/* From the backend itself, to the port the client's socket has; nothing else changes. */
		if (rewrite_port(skb, &p, offsetof(struct tcphdr, dest), p.dport, fk.client_port))
			return TC_ACT_SHOT;
		return TC_ACT_OK;
	}
	learn_next_hop(skb, f, now);
	stat_add(&tw_fe_stat_v1, f->frontend_id, pkts, bytes, 0);
	stat_add(&tw_be_stat_v1, f->backend_id, pkts, bytes, 0);

	if (p.frag == FRAG_FIRST) {
		struct lb_frag_key k = {
			.saddr = p.saddr, .daddr = p.daddr, .id = p.ip_id, .proto = p.proto
		};
		struct lb_frag_nat v = { .addr = fk.frontend_addr };

		bpf_map_update_elem(&tw_frag_v1, &k, &v, BPF_ANY);
	}
	if (rewrite_addr_port(skb, &p, false, fk.frontend_addr,
			      offsetof(struct udphdr, source), p.sport, fk.frontend_port, true, NULL))
		return TC_ACT_SHOT;
	/* A moved port: the reply goes back to the port the client's socket has. */
	if (p.dport != fk.client_port &&
	    rewrite_port(skb, &p, offsetof(struct udphdr, dest), p.dport, fk.client_port))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc")
int tw_lb_ingress(struct __sk_buff *skb)
{
	return lb_ingress(skb);
}

/* -------------------------------------------------------------------------------------------- */
/* Conntrack collector                                                                           */

/* collect_one()'s answer bits, or COLLECT_PAST_END when the frame holds no key at that index. */
#define COLLECTED_FLOW 1
#define COLLECTED_REVERSE 2
#define COLLECTED_MOVED 4
#define COLLECT_PAST_END -1

/*
 * The batch's key at `index`: deleted with its moved-port and reverse entries if its flow is ended
 * at `now`. A global function, so the verifier checks it once rather than once per turn of the
 * caller's loop (Linux 6.1's verifier ran out of its budget on 64 inlined turns).
 */
__noinline int collect_one(struct __sk_buff *skb, __u32 index, __u64 now)
{
	struct tw_reverse_key rk = {};
	struct tw_flow_key key;
	struct tw_flow *f;
	bool port_moved;
	int done = 0;

	if (!skb || index >= TW_COLLECT_BATCH ||
	    bpf_skb_load_bytes(skb, TW_COLLECT_HEADER + index * sizeof(key), &key, sizeof(key)))
		return COLLECT_PAST_END;
	f = bpf_map_lookup_elem(&tw_flow_v1, &key);
	if (!f || flow_alive(f, key.proto, now))
		return 0;
	/* Judged again under the key's claim: a SYN may be restarting the entry (claim_flow()). */
	if (!claim_flow(&key, now))
		return 0;
	f = bpf_map_lookup_elem(&tw_flow_v1, &key);
	if (!f || flow_alive(f, key.proto, now)) {
		release_flow(&key);
		return 0;
	}
	/* The reverse key is read before the flow goes: it names the backend and the wire port. */
	rk.client_addr = key.client_addr;
	rk.client_port = wire_port(f, &key);
	rk.backend_addr = f->backend_addr;
	rk.backend_port = f->backend_port;
	rk.proto = key.proto;
	port_moved = f->flags & TW_FLOW_F_PORT_MOVED;
	/*
	 * The flow entry goes last. A SYN that finds no entry writes a new one without the key's
	 * claim; were the reverse entry still here then, this would read the new flow's entry as the
	 * ended one's and delete it. A reverse entry another flow has taken since is that flow's.
	 */
	if (rk.client_port && delete_reverse_of(&rk, &key, now))
		done |= COLLECTED_REVERSE;
	if (port_moved && bpf_map_delete_elem(&tw_moved_v1, &key) == 0)
		done |= COLLECTED_MOVED;
	if (bpf_map_delete_elem(&tw_flow_v1, &key) == 0)
		done |= COLLECTED_FLOW;
	release_flow(&key);
	return done;
}

/*
 * Deletes ended flows, each with its moved-port entry and its reverse entry (when that still leads
 * to it). The flow, reverse and moved-port tables are LRU maps: nothing else removes an ended entry
 * before the table is full, and a full table evicts whatever was touched least recently, ended or
 * not. A node whose pods make many short flows (every DNS query is one) would then push out the
 * entries of live connections that sit idle for a few minutes (a database pool's), whose next
 * packet would be balanced afresh, to any backend. Collected, the tables hold the live flows and
 * those ended since the last pass, and evict only when those outgrow them.
 *
 * terwayd chooses the keys from a dump of tw_flow; each is judged again here with flow_alive()
 * and this program's clock, instructions before its deletes: a flow may have come back since the
 * dump (a SYN restarts an ended flow's entry in place), and a daemon's lookup and delete would be
 * two system calls apart. The check and the deletes run under the flow key's claim
 * (claim_flow()), which a SYN writing over the entry takes too: a SYN meeting the collector
 * there is dropped and retransmitted, where before it could lose its flow.
 */
SEC("tc")
int tw_lb_collect(struct __sk_buff *skb)
{
	__u32 flows = 0, reverse = 0, moved = 0;
	__u64 now = lb_now();

	for (__u32 i = 0; i < TW_COLLECT_BATCH; i++) {
		int done = collect_one(skb, i, now);

		if (done == COLLECT_PAST_END)
			break;
		flows += !!(done & COLLECTED_FLOW);
		reverse += !!(done & COLLECTED_REVERSE);
		moved += !!(done & COLLECTED_MOVED);
	}
	return flows | reverse << 8 | moved << 16;
}

char _license[] SEC("license") = "Dual BSD/GPL";
