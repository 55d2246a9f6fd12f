/**
 * The TypeScript mirror of bpf/lb_maps.h: one layout per struct, the pinned map names and the
 * sizes the program declares. Edit both together; test/netns/lb-layouts-btf.test.ts compares
 * every layout here with the compiled object's BTF.
 */
import { defineLayout, type StructValue } from './struct-codec.js';

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const FRONTEND_F_EXTERNAL = 0x1;

/**
 * tw_flow.state's values, by number (`TW_FLOW_*`): `client-fin` and `backend-fin` are half-closed
 * connections (a FIN from that side only), which keep the established lifetime.
 */
export const FLOW_STATES = [
  'new',
  'established',
  'closing',
  'client-fin',
  'backend-fin',
  'stream',
] as const;
export type FlowState = (typeof FLOW_STATES)[number];

/** Mirrors `TW_MAX_*`: ids index the counter arrays, so they must stay below these. */
export const LB_LIMITS = {
  frontends: 131_072,
  slots: 1_048_576,
  backends: 262_144,
  flows: 262_144,
  affinity: 131_072,
  movedPorts: 32_768,
} as const;

/** Mirrors `TW_MAP_*`. The `_v1` suffix moves with any layout change (see lb_maps.h). */
export const LB_MAP_NAMES = {
  frontend: 'tw_fe_v1',
  slot: 'tw_slot_v1',
  backend: 'tw_be_v1',
  flow: 'tw_flow_v1',
  reverse: 'tw_rev_v1',
  affinity: 'tw_aff_v1',
  frontendStats: 'tw_fe_stat_v1',
  backendStats: 'tw_be_stat_v1',
  frontendGate: 'tw_fe_gate_v1',
  backendGate: 'tw_be_gate_v1',
  nodeStats: 'tw_node_stat_v5',
  movedPorts: 'tw_moved_v1',
} as const;

export type LbMapRole = keyof typeof LB_MAP_NAMES;

/** Mirrors `TW_GATE_BITS_LOG2`: each gate has 2^19 bits, in 8,192 64-bit words. */
export const GATE_BITS_LOG2 = 19;

/**
 * Mirrors `TW_COLLECT_HEADER` and `TW_COLLECT_BATCH`: the conntrack collector's frame is `header`
 * bytes, then up to `batch` flow keys.
 */
export const COLLECT_FRAME = { header: 16, batch: 64 } as const;

/** Default bpffs directory (`TW_PIN_DIR`). */
export const DEFAULT_PIN_DIR = '/sys/fs/bpf/terway-node';

export const FRONTEND_KEY = defineLayout('tw_frontend_key', 8, {
  addr: { offset: 0, kind: 'ipv4' },
  port: { offset: 4, kind: 'be16' },
  proto: { offset: 6, kind: 'u8' },
});

export const FRONTEND = defineLayout('tw_frontend', 24, {
  id: { offset: 0, kind: 'u32' },
  slotBase: { offset: 4, kind: 'u32' },
  slotCapacity: { offset: 8, kind: 'u32' },
  backendCount: { offset: 12, kind: 'u32' },
  affinityTimeoutS: { offset: 16, kind: 'u32' },
  flags: { offset: 20, kind: 'u32' },
});

/** The value of tw_slot: a backend id. */
export const BACKEND_ID = defineLayout('__u32', 4, { id: { offset: 0, kind: 'u32' } });

export const BACKEND = defineLayout('tw_backend', 8, {
  addr: { offset: 0, kind: 'ipv4' },
  port: { offset: 4, kind: 'be16' },
  proto: { offset: 6, kind: 'u8' },
  flags: { offset: 7, kind: 'u8' },
});

export const FLOW_KEY = defineLayout('tw_flow_key', 16, {
  clientAddr: { offset: 0, kind: 'ipv4' },
  frontendAddr: { offset: 4, kind: 'ipv4' },
  clientPort: { offset: 8, kind: 'be16' },
  frontendPort: { offset: 10, kind: 'be16' },
  proto: { offset: 12, kind: 'u8' },
});

export const FLOW = defineLayout('tw_flow', 56, {
  firstSeenNs: { offset: 0, kind: 'u64' },
  lastSeenNs: { offset: 8, kind: 'u64' },
  packets: { offset: 16, kind: 'u64' },
  bytes: { offset: 24, kind: 'u64' },
  nextHop: { offset: 32, kind: 'u64' },
  frontendId: { offset: 40, kind: 'u32' },
  backendId: { offset: 44, kind: 'u32' },
  backendAddr: { offset: 48, kind: 'ipv4' },
  backendPort: { offset: 52, kind: 'be16' },
  state: { offset: 54, kind: 'u8' },
  flags: { offset: 55, kind: 'u8' },
});

/** tw_flow.flags: the flow's client port was moved (its tw_moved entry holds the port on the wire). */
export const FLOW_F_PORT_MOVED = 0x1;

/**
 * tw_flow.flags: not a flow to a frontend but a direct TCP connection (or UDP exchange) to a
 * backend, tracked only because its port was moved (a flow to a frontend held it). Its key's
 * frontend is the backend; it has no frontend or backend id.
 */
export const FLOW_F_DIRECT = 0x2;

/** The value of tw_moved: a moved flow's client port on the wire. */
export const MOVED_PORT = defineLayout('tw_moved_port', 4, {
  clientPort: { offset: 0, kind: 'be16' },
});

export const REVERSE_KEY = defineLayout('tw_reverse_key', 16, {
  clientAddr: { offset: 0, kind: 'ipv4' },
  backendAddr: { offset: 4, kind: 'ipv4' },
  clientPort: { offset: 8, kind: 'be16' },
  backendPort: { offset: 10, kind: 'be16' },
  proto: { offset: 12, kind: 'u8' },
});

export const AFFINITY_KEY = defineLayout('tw_affinity_key', 8, {
  clientAddr: { offset: 0, kind: 'ipv4' },
  frontendId: { offset: 4, kind: 'u32' },
});

export const AFFINITY = defineLayout('tw_affinity', 16, {
  lastUsedNs: { offset: 0, kind: 'u64' },
  backendId: { offset: 8, kind: 'u32' },
  slotHint: { offset: 12, kind: 'u32' },
});

/** The key of every array map: an index. */
export const ARRAY_INDEX = defineLayout('__u32', 4, { index: { offset: 0, kind: 'u32' } });

/** The value of tw_fe_gate and tw_be_gate: 64 of the gate's bits. */
export const GATE_WORD = defineLayout('__u64', 8, { bits: { offset: 0, kind: 'u64' } });

export const COUNTERS = defineLayout('tw_counters', 32, {
  packets: { offset: 0, kind: 'u64' },
  bytes: { offset: 8, kind: 'u64' },
  flows: { offset: 16, kind: 'u64' },
  rejected: { offset: 24, kind: 'u64' },
});

/**
 * The one value of tw_node_stat, per CPU: the node's new flows, balanced, refused for want of a
 * backend, and refused for a port clash; of the balanced ones, those whose client port was moved;
 * and the direct connections whose client port was moved; and of the balanced ones, those that
 * took over their key's existing flow entry.
 */
export const NODE_COUNTERS = defineLayout('tw_node_counters', 48, {
  flows: { offset: 0, kind: 'u64' },
  rejected: { offset: 8, kind: 'u64' },
  clashes: { offset: 16, kind: 'u64' },
  moved: { offset: 24, kind: 'u64' },
  movedDirect: { offset: 32, kind: 'u64' },
  reused: { offset: 40, kind: 'u64' },
});

/** Every struct layout, for the BTF check. `__u32` keys and values are not structs. */
export const STRUCT_LAYOUTS = [
  FRONTEND_KEY,
  FRONTEND,
  BACKEND,
  FLOW_KEY,
  FLOW,
  MOVED_PORT,
  REVERSE_KEY,
  AFFINITY_KEY,
  AFFINITY,
  COUNTERS,
  NODE_COUNTERS,
] as const;

export type FrontendKeyValue = StructValue<{ addr: 'ipv4'; port: 'be16'; proto: 'u8' }>;
export type FrontendValue = StructValue<{
  id: 'u32';
  slotBase: 'u32';
  slotCapacity: 'u32';
  backendCount: 'u32';
  affinityTimeoutS: 'u32';
  flags: 'u32';
}>;
