/**
 * The Service load balancer's control plane as Prometheus sees it: what the sources asked for,
 * what the maps hold, what could not be written, and how the reconciler's passes go. Gauges are
 * read from the reconciler at each scrape; the passes' durations and writes are counted as they
 * happen, and the datapath's node-wide count of new flows is read from its map. Per-Service traffic
 * counters stay in `terway-cli show services`: one series per Service on every node would be the
 * largest cardinality a cluster's Prometheus holds.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * What these metrics read of the reconciler (LbReconciler, structurally): declared here, so the
 * metrics depend on nothing of the load balancer's but these figures.
 */
export interface LbReadout {
  readonly intent: {
    readonly desired: ReadonlyMap<unknown, { readonly ready: readonly unknown[] }>;
    readonly blocked: ReadonlyMap<unknown, unknown>;
  };
  readonly programmedFrontends: number;
  readonly programmedBackends: number;
  readonly parkedFrontendIds: number;
  readonly isSynced: boolean;
  readonly passes: number;
  readonly failedPasses: number;
  /** The datapath's own counts, from the maps (NodeFlowTotals, structurally). */
  nodeFlowTotals(): {
    readonly balanced: bigint;
    readonly refused: bigint;
    readonly clashed: bigint;
    readonly moved: bigint;
    readonly movedDirect: bigint;
    readonly reused: bigint;
  };
}

/** A one-endpoint change takes well under a millisecond; an initial sync of 10,000 Services, ~0.1 s. */
const PASS_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** What a successful pass reports (LbPassReport, structurally). */
export interface PassReport {
  readonly durationMs: number;
  readonly frontendsWritten: number;
  readonly frontendsDeleted: number;
  readonly backendsWritten: number;
  readonly backendsDeleted: number;
  readonly slotsWritten: number;
  readonly slotsCleared: number;
}

/** The pass report's write counts, by the label each is exported under. */
const WRITE_KINDS = {
  frontend_written: 'frontendsWritten',
  frontend_deleted: 'frontendsDeleted',
  backend_written: 'backendsWritten',
  backend_deleted: 'backendsDeleted',
  slot_written: 'slotsWritten',
  slot_cleared: 'slotsCleared',
} as const satisfies Record<string, keyof PassReport>;

/** Registers the metrics; the returned function takes each successful pass's report. */
export function registerLbMetrics(registry: Registry, lb: LbReadout): (report: PassReport) => void {
  new Gauge({
    name: 'terway_lb_frontends',
    help:
      'Service frontends (address, port, protocol): desired (what the Service source asks for), ' +
      'programmed (in the maps), blocked (desired, but the maps have no room: see the log), ' +
      'no_ready_backend (desired with no ready endpoint: new connections are refused at once)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { desired, blocked } = lb.intent;
      let noReadyBackend = 0;
      for (const frontend of desired.values()) if (frontend.ready.length === 0) noReadyBackend++;
      this.set({ state: 'desired' }, desired.size);
      this.set({ state: 'programmed' }, lb.programmedFrontends);
      this.set({ state: 'blocked' }, blocked.size);
      this.set({ state: 'no_ready_backend' }, noReadyBackend);
    },
  });
  new Gauge({
    name: 'terway_lb_backends',
    help: 'Backends (endpoint address, port, protocol) the maps hold, ready or draining',
    registers: [registry],
    collect() {
      this.set(lb.programmedBackends);
    },
  });
  new Gauge({
    name: 'terway_lb_parked_frontend_ids',
    help:
      'Ids of deleted frontends kept from reuse while live flows still count under them, so a ' +
      "new frontend's counters never include an old connection's packets; freed once those end",
    registers: [registry],
    collect() {
      this.set(lb.parkedFrontendIds);
    },
  });
  new Gauge({
    name: 'terway_lb_synced',
    help:
      '1 once the Service source has delivered its complete state (after that, frontends ' +
      'nothing asks for are deleted); 0 before',
    registers: [registry],
    collect() {
      this.set(lb.isSynced ? 1 : 0);
    },
  });
  new Counter({
    name: 'terway_lb_reconcile_passes_total',
    help:
      'Passes of the reconciler that writes the maps: ok, or failed (rebuilt from the live maps ' +
      'and retried with backoff; the log says why)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'ok' }, lb.passes);
      this.inc({ result: 'failed' }, lb.failedPasses);
    },
  });
  new Counter({
    name: 'terway_lb_new_flows_total',
    help:
      "New flows from this node's pods to Service frontends, as the datapath counted them: " +
      'balanced (a backend chosen), refused (no ready backend: a TCP reset or ICMP port ' +
      'unreachable at once; or dropped while the frontend was being rewritten), clashed ' +
      "(refused the same way: the client's port towards the backend was held by another open " +
      "flow, to another Service with the same backends or a direct connection's, and no free " +
      'port was found to move it to). Kept in the pinned maps, so they count on across ' +
      "terwayd's restarts",
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const totals = nodeFlowTotalsOf(lb);
      if (totals === undefined) return;
      this.reset();
      this.inc({ outcome: 'balanced' }, Number(totals.balanced));
      this.inc({ outcome: 'refused' }, Number(totals.refused));
      this.inc({ outcome: 'clashed' }, Number(totals.clashed));
    },
  });
  new Counter({
    name: 'terway_lb_moved_client_ports_total',
    help:
      'Connections whose client port the datapath moved, as a kernel NAT would. ' +
      'connection="service": balanced new flows to a Service whose own port towards their ' +
      'backend was held by another open flow (to another Service with the same backends, or a ' +
      "direct connection's) and no other backend was free, counted in " +
      'terway_lb_new_flows_total{outcome="balanced"} too. connection="direct": direct TCP ' +
      "connections and UDP exchanges to a backend pod's address whose port an open flow to a " +
      'Service held towards it. Kept in the pinned maps',
    labelNames: ['connection'],
    registers: [registry],
    collect() {
      const totals = nodeFlowTotalsOf(lb);
      if (totals === undefined) return;
      this.reset();
      this.inc({ connection: 'service' }, Number(totals.moved));
      this.inc({ connection: 'direct' }, Number(totals.movedDirect));
    },
  });
  new Counter({
    name: 'terway_lb_reused_flow_entries_total',
    help:
      "Balanced new flows that took over their key's existing flow entry: a client reopening a " +
      'connection from the port of its ended one to the same Service, the usual case for a busy ' +
      'client. Counted in terway_lb_new_flows_total{outcome="balanced"} too; they add no entry ' +
      'to the flow table, and the conntrack collector does not count them as filling it. Kept ' +
      'in the pinned maps',
    registers: [registry],
    collect() {
      const totals = nodeFlowTotalsOf(lb);
      if (totals === undefined) return;
      this.reset();
      this.inc(Number(totals.reused));
    },
  });
  const duration = new Histogram({
    name: 'terway_lb_reconcile_duration_seconds',
    help: 'How long a successful pass took, from the first change it writes to the maps holding it',
    buckets: PASS_BUCKETS_SECONDS,
    registers: [registry],
  });
  const writes = new Counter({
    name: 'terway_lb_map_writes_total',
    help: 'Entries the reconciler wrote or cleared in the maps, by kind',
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const kind of Object.keys(WRITE_KINDS)) writes.inc({ kind }, 0);
  return (report) => {
    duration.observe(report.durationMs / 1000);
    for (const [kind, field] of Object.entries(WRITE_KINDS)) {
      if (report[field] > 0) writes.inc({ kind }, report[field]);
    }
  };
}

/** The datapath's node totals; undefined once the maps are closed (the daemon stopping), when the
 *  last scrape's values stand. */
function nodeFlowTotalsOf(lb: LbReadout): ReturnType<LbReadout['nodeFlowTotals']> | undefined {
  try {
    return lb.nodeFlowTotals();
  } catch {
    return undefined;
  }
}

/** What a conntrack collector pass reports (FlowCollectionReport, structurally). */
export interface CollectionReport {
  readonly scanned: number;
  readonly live: number;
  readonly collected: { readonly flows: number; readonly reverse: number; readonly moved: number };
  readonly trigger: string;
}

/**
 * The conntrack table as the collector's last pass found it, and what the collector deleted.
 * Returns the function that takes each pass's report.
 */
export function registerConntrackMetrics(
  registry: Registry,
  capacity: number,
  /** Whether a resize's old tables are still pinned aside (src/lb/flow-table-resize.ts). */
  oldTablesPinned: () => boolean = () => false,
): (report: CollectionReport) => void {
  const entries = new Gauge({
    name: 'terway_lb_conntrack_entries',
    help:
      "The datapath's flow table (tw_flow, shared by the node's pods) at the conntrack " +
      "collector's last pass: live flows, and ended ones it then deleted. Live flows near " +
      'terway_lb_conntrack_capacity mean new flows evict live ones (least recently used first), ' +
      'whose next packets are balanced afresh',
    labelNames: ['state'],
    registers: [registry],
  });
  new Gauge({
    name: 'terway_lb_conntrack_capacity',
    help: 'Entries the flow table holds at most',
    registers: [registry],
  }).set(capacity);
  new Gauge({
    name: 'terway_lb_conntrack_old_tables',
    help:
      "1 while a resize's old conntrack tables stay pinned because a pod could not be moved off " +
      'them (terwayd names it in a warning; the next start retries), else 0',
    registers: [registry],
    collect() {
      this.set(oldTablesPinned() ? 1 : 0);
    },
  });
  const collected = new Counter({
    name: 'terway_lb_conntrack_collected_total',
    help:
      'Entries the conntrack collector deleted: ended flows (table="flow"), the reverse entries ' +
      'that led to them (table="reverse") and their moved client ports (table="moved")',
    labelNames: ['table'],
    registers: [registry],
  });
  for (const table of ['flow', 'reverse', 'moved']) collected.inc({ table }, 0);
  const passes = new Counter({
    name: 'terway_lb_conntrack_passes_total',
    help:
      'Conntrack collector passes, by what started them: --lb-collect-interval (trigger="interval"), ' +
      'or the new flows made since the last pass, enough to fill the table before the interval ' +
      'was up (trigger="filling")',
    labelNames: ['trigger'],
    registers: [registry],
  });
  for (const trigger of ['interval', 'filling']) passes.inc({ trigger }, 0);
  return (report) => {
    passes.inc({ trigger: report.trigger });
    entries.set({ state: 'live' }, report.live);
    entries.set({ state: 'ended' }, report.scanned - report.live);
    collected.inc({ table: 'flow' }, report.collected.flows);
    collected.inc({ table: 'reverse' }, report.collected.reverse);
    collected.inc({ table: 'moved' }, report.collected.moved);
  };
}
