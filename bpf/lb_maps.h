/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Service load balancer's map layouts: the single source of truth. The tc program (lb.c)
 * includes this header; the daemon's codecs (src/lb/maps/) mirror each struct by name, and a test
 * checks their sizes and offsets against the compiled object's BTF.
 *
 * Byte order: addresses and ports are kept in network order, exactly as they sit in the packet,
 * so the datapath never converts. Everything else is host order.
 *
 * Versioning: every map name ends in _v<N>. A layout change bumps N in the name, so a new daemon
 * pins new maps beside the old ones instead of failing to load (libbpf refuses to reuse a pinned
 * map whose definition differs) or misreading them. A daemon moves running pods to its own
 * programs, and so to the new maps, when it starts, and unpins the old maps (the kernel frees them
 * once no program holds them). Not done yet: carrying the conntrack entries over to the new layout.
 *
 * One change kept the name on purpose: tw_flow.next_hop took the place of netns_cookie, which every
 * program wrote as 0 and which 0 still means "nothing learned". The map's definition (sizes, type)
 * is the same, so a new daemon reuses the pinned map and keeps every flow across the upgrade, and
 * an older program sharing it only ever writes that 0. tw_flow.flags took the place of padding
 * the same way: older programs wrote it as 0, which means no flag.
 */
#ifndef TERWAY_LB_MAPS_H
#define TERWAY_LB_MAPS_H

#include <linux/types.h>

/* bpffs directory shared by every pod on the node; maps are pinned here by name. */
#define TW_PIN_DIR "/sys/fs/bpf/terway-node"

#define TW_MAX_FRONTENDS 131072
#define TW_MAX_SLOTS 1048576
#define TW_MAX_BACKENDS 262144
#define TW_MAX_FLOWS 262144
#define TW_MAX_AFFINITY 131072
#define TW_MAX_MOVED 32768

/*
 * A frontend is one (address, port, protocol) a client may dial: a ClusterIP port, an externalIP
 * port, or a LoadBalancer ingress IP port. Each frontend owns its backend slots, because two ports
 * of one Service map to different target ports.
 */
struct tw_frontend_key {
	__be32 addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

#define TW_FRONTEND_F_EXTERNAL 0x1 /* externalIPs or LoadBalancer ingress, not the ClusterIP */

struct tw_frontend {
	__u32 id;		  /* daemon-assigned, 1..TW_MAX_FRONTENDS-1; indexes tw_fe_stat */
	__u32 slot_base;	  /* this frontend's slots are tw_slot[slot_base + 0..count-1] */
	__u32 slot_capacity;	  /* size of its slot block (a power of two); for the daemon only */
	__u32 backend_count;	  /* slots 0..count-1 are live; 0 means reject new flows */
	__u32 affinity_timeout_s; /* sessionAffinity ClientIP timeout; 0 means no affinity */
	__u32 flags;		  /* TW_FRONTEND_F_* */
};

/*
 * The arrays: tw_slot, tw_be, tw_fe_stat and tw_be_stat are BPF_MAP_TYPE_ARRAY maps created with
 * BPF_F_MMAPABLE. The daemon maps them into its memory and writes values with plain stores, no
 * syscall per entry: that is what lets a 10,000-Service sync take milliseconds. Values are read by
 * the program with ordinary lookups; the daemon orders its stores so that every intermediate state
 * is valid (a slot is written before a count covers it; a backend before a slot names it).
 *
 * tw_slot: index slot_base + i → backend id (__u32; 0 = none). Each frontend owns a block of
 * slots whose size is a power of two; a frontend that outgrows its block moves to a new one in a
 * single update of its tw_frontend value.
 *
 * tw_be: index backend id → struct tw_backend; addr 0 means "no such backend". Conntrack entries
 * compare their backend's address and port with this entry on every packet: a deleted (zeroed or
 * reused) id ends the flow.
 */
struct tw_backend {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 flags;
};

/* Forward flow key, as the client's egress packet carries it before translation. */
struct tw_flow_key {
	__be32 client_addr;
	__be32 frontend_addr;
	__be16 client_port;
	__be16 frontend_port;
	__u8 proto;
	__u8 pad[3];
};

/*
 * next_hop's stamp: the coarse monotonic clock in units of 2^24 ns (16.8 ms), 16 bits of it (the
 * count wraps every 18 minutes). A learned MAC is used only while its stamp is less than
 * TW_NEXT_HOP_FRESH units old (about 1 s): a reply that recent shows the backend answering from
 * that MAC. Past that the packet takes the kernel's neighbour resolution, as a new flow does. The
 * wrap has one blind spot: a flow silent for a multiple of 18 minutes reads as fresh again for
 * that second, and its first packets go to the MAC that answered it last.
 */
#define TW_NEXT_HOP_STAMP_SHIFT 24
#define TW_NEXT_HOP_STAMP(ns) ((__u16)((ns) >> TW_NEXT_HOP_STAMP_SHIFT))
#define TW_NEXT_HOP_FRESH 60

/*
 * A flow's state. A SYN never continues a flow past TW_FLOW_NEW: it starts a new one. A FIN from
 * one side only leaves a half-closed connection, whose other side may go on sending for as long
 * as it likes (a client that shuts down its sending side and waits for a slow answer), so it keeps
 * the established lifetime; only FINs from both sides, or a RST, start the short closing one.
 */
#define TW_FLOW_NEW 0	      /* SYN seen (TCP) or first datagram (UDP) */
#define TW_FLOW_ESTABLISHED 1  /* a reply was seen */
#define TW_FLOW_CLOSING 2      /* FINs from both sides, or a RST: short timeout */
#define TW_FLOW_CLIENT_FIN 3   /* the client sent a FIN, the backend has not (half-closed) */
#define TW_FLOW_BACKEND_FIN 4  /* the backend sent a FIN, the client has not (half-closed) */
#define TW_FLOW_STREAM 5       /* UDP: a reply was seen, and a packet came 2 s or more after the first */

/*
 * A flow's translation: the conntrack entry and, at the same time, the translation record the
 * operator reads ("which backend did this connection reach").
 */
struct tw_flow {
	__u64 first_seen_ns; /* CLOCK_MONOTONIC, coarse (bpf_ktime_get_coarse_ns) */
	__u64 last_seen_ns;
	__u64 packets; /* both directions */
	__u64 bytes;
	/*
	 * Where the flow's translated packets go on an L2 device, learned from its replies: bytes 0-5
	 * (in memory) the source MAC of the last reply the backend sent, bytes 6-7 when it arrived
	 * (TW_NEXT_HOP_STAMP); 0 while none has. Written and read as one 8-byte word. See
	 * TW_NEXT_HOP_FRESH for when the egress program trusts it.
	 */
	__u64 next_hop;
	__u32 frontend_id;
	__u32 backend_id; /* checked against tw_backend on every packet: a deleted backend ends the flow */
	__be32 backend_addr;
	__be16 backend_port;
	__u8 state; /* TW_FLOW_* */
	__u8 flags; /* TW_FLOW_F_*; was padding, which every older program wrote as 0 */
};

/*
 * The flow's client port was moved (see below): on the wire its packets leave from the port in
 * its tw_moved entry, not from the port of its key.
 */
#define TW_FLOW_F_PORT_MOVED 0x1

/*
 * Not a flow to a frontend: a direct TCP connection (or UDP exchange) of the client's to a
 * backend, whose port towards it was held by an open flow to a frontend when it opened (a SYN) or
 * when it sent (a datagram) (port_held()). Its port is moved
 * like a flow's (always with TW_FLOW_F_PORT_MOVED); its key names the backend where a flow's names
 * the frontend, and it has no frontend or backend id and counts under none. See
 * tw_direct_gate_v1.
 */
#define TW_FLOW_F_DIRECT 0x2

/*
 * A moved client port. A new flow whose 4-tuple towards its backend is taken (another open flow
 * of the client's holds it, through another frontend with the same backend, or a direct
 * connection of its own does) and that has no other backend to draw leaves from another port,
 * as a kernel NAT (kube-proxy's conntrack) would move it: the egress program rewrites the source
 * port, the ingress program the replies' destination port back. Keyed like tw_flow (the forward
 * key), and read only for flows with TW_FLOW_F_PORT_MOVED, so every other packet pays nothing
 * for it. The reverse entry of a moved flow is keyed by the moved port.
 *
 * Ports are drawn from TW_MOVED_PORT_MIN upwards, above Linux's default ephemeral range
 * (32768-60999), so the client's own kernel does not hand the same port to a new connection of its
 * own; if it does (a pod with a wider range, or a bind), the usual clash checks catch it.
 */
struct tw_moved_port {
	__be16 client_port; /* the port on the wire */
	__u8 pad[2];
};

#define TW_MOVED_PORT_MIN 61000
#define TW_MOVED_PORT_COUNT 4536 /* 61000-65535 */

/* Reverse key, as the backend's reply arrives at the client (source = backend). */
struct tw_reverse_key {
	__be32 client_addr;
	__be32 backend_addr;
	__be16 client_port;
	__be16 backend_port;
	__u8 proto;
	__u8 pad[3];
};
/* Value of tw_reverse: the forward key (struct tw_flow_key). */

struct tw_affinity_key {
	__be32 client_addr;
	__u32 frontend_id;
};

struct tw_affinity {
	__u64 last_used_ns;
	__u32 backend_id;
	__u32 slot_hint; /* the backend's slot when chosen: re-checking it is usually one lookup */
};

/* Counters per frontend (tw_fe_stat, indexed by frontend id) and per backend (tw_be_stat).
 * Updated by the program with atomic adds; zeroed by the daemon when it frees an id.
 *
 * Entry 0 of each array is the daemon's (no frontend or backend has id 0): its `packets` holds the
 * highest id the daemon may have handed out, written before any entry names a higher one. A
 * restarted daemon zeroes the counters of every unused id up to there, so an id freed by a pass
 * that stopped before it reset the counters starts from zero when it is handed out again. */
struct tw_counters {
	__u64 packets;
	__u64 bytes;
	__u64 flows;
	__u64 rejected; /* new flows refused because the frontend had no ready backend */
};

/*
 * The node's totals (tw_node_stat: a per-CPU array of one entry), of new flows to a frontend:
 * - flows: balanced (a backend chosen);
 * - rejected: refused for want of a ready backend, as in tw_counters;
 * - clashes: new connections refused for a port clash: the client's port towards every backend
 *   they could have had was held (by another open flow, or by a direct connection of the client's),
 *   or a direct connection's port towards its backend was held by a flow, and no free port was
 *   found to move it to (see port_held() and direct_connection());
 * - moved: of the balanced ones, those whose client port was moved (struct tw_moved_port);
 * - moved_direct: direct TCP connections and UDP exchanges whose client port was moved
 *   (TW_FLOW_F_DIRECT), instead of being refused as clashes;
 * - reused: of the balanced ones, those whose key already had an entry in tw_flow (a client
 *   reopening from the port of an ended flow to the same frontend), which they took over: they
 *   add no entry. flows - reused + moved_direct bounds the entries added to tw_flow, which is what
 *   the daemon's conntrack collector paces itself by.
 * The daemon never resets them and sums the CPUs' slots: they count on across daemon restarts, as
 * the maps do, and live in a map of their own so that no pass of the daemon's writes beside them.
 */
struct tw_node_counters {
	__u64 flows;
	__u64 rejected;
	__u64 clashes;
	__u64 moved; /* new flows balanced with a moved client port (tw_moved_port) */
	__u64 moved_direct; /* direct connections with a moved client port (TW_FLOW_F_DIRECT) */
	__u64 reused; /* balanced flows that took over their key's existing entry */
};

/*
 * The gates: which (address, port, protocol) may be a frontend (tw_fe_gate) or a backend
 * (tw_be_gate), each a bitmap of TW_GATE_BITS bits (BPF_MAP_TYPE_ARRAY of TW_GATE_WORDS __u64
 * words, BPF_F_MMAPABLE, written by the daemon with plain stores). Bit tw_gate_hash(addr, port,
 * proto) is set while any frontend (backend) hashes there. The egress program reads the frontend
 * gate for the destination before anything else: a clear bit means "not a service" for one array
 * read instead of a hash lookup that misses, and a set bit lets an established flow go straight to
 * its conntrack entry, without the frontend lookup. The ingress program reads the backend gate for
 * the source: a clear bit means "not a reply from a backend", with no reverse lookup. A set bit
 * with nothing behind it (two keys sharing a bit) costs only the lookups it would have cost anyway.
 *
 * The daemon sets a key's bit before the frontend's (backend's) entry exists and clears it only
 * after the entry is gone, so an entry is never hidden behind a clear bit. The gates came after
 * the other maps: a daemon upgrading from maps without them writes them whole from tw_fe and
 * tw_be when it starts, before any pod runs the new programs.
 */
/*
 * The direct gate (tw_direct_gate) has the same shape, but the programs set it, and nothing clears
 * it: bit tw_gate_hash(backend addr, port, proto) is set before the first TW_FLOW_F_DIRECT flow to
 * that backend is created, and the egress program looks a packet that is not to a frontend up in
 * tw_flow only when its destination's bit is set. Clearing a bit could race with a new direct
 * flow, whose packets would then leave from the held port; a stale bit costs the packets to that
 * address and port one lookup that misses, and direct flows are rare (each needs a port clash).
 */
#define TW_GATE_BITS_LOG2 19
#define TW_GATE_BITS (1u << TW_GATE_BITS_LOG2)
#define TW_GATE_WORDS (TW_GATE_BITS / 64)

/*
 * The gate's bit for a frontend key, from the address and port as they sit in the packet (network
 * order, read as host-order integers) and the protocol. A multiplicative mix whose top bits are
 * the index; the daemon computes the same (src/lb/maps/key-gate.ts).
 */
static inline __u32 tw_gate_hash(__u32 addr, __u16 port, __u8 proto)
{
	__u32 h = addr * 0x9e3779b1u ^ (((__u32)port << 8) | proto) * 0x85ebca6bu;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h >> (32 - TW_GATE_BITS_LOG2);
}

/*
 * The conntrack collector's input. tw_lb_collect is never attached: terwayd runs it through
 * BPF_PROG_TEST_RUN with a "frame" of TW_COLLECT_HEADER bytes (the Ethernet header a test run of a
 * tc program needs, and two bytes that align the keys) followed by up to TW_COLLECT_BATCH struct
 * tw_flow_key, the ended flows a dump of tw_flow showed. Its return value packs what it deleted:
 * flows in bits 0-7, reverse entries in bits 8-15, moved-port entries in bits 16-23.
 */
#define TW_COLLECT_HEADER 16
#define TW_COLLECT_BATCH 64

/* Pinned map names (≤ 15 characters: the kernel's object name limit). */
#define TW_MAP_FRONTEND "tw_fe_v1"
#define TW_MAP_SLOT "tw_slot_v1"
#define TW_MAP_BACKEND "tw_be_v1"
#define TW_MAP_FLOW "tw_flow_v1"
#define TW_MAP_REVERSE "tw_rev_v1"
#define TW_MAP_AFFINITY "tw_aff_v1"
#define TW_MAP_FE_STAT "tw_fe_stat_v1"
#define TW_MAP_BE_STAT "tw_be_stat_v1"
#define TW_MAP_FE_GATE "tw_fe_gate_v1"
#define TW_MAP_BE_GATE "tw_be_gate_v1"
#define TW_MAP_NODE_STAT "tw_node_stat_v5"
#define TW_MAP_MOVED "tw_moved_v1"
#define TW_MAP_DIRECT_GATE "tw_direct_gate_v1"

#endif
