/**
 * The warm pool as Prometheus sees it, read from the pool's own snapshot at each scrape: nothing
 * is counted twice, and a gauge can never drift from what `terway-cli show factory` prints.
 */
import { Gauge, type Registry } from 'prom-client';

/**
 * What these metrics read of the pool (IpPool, structurally): declared here, so the metrics
 * depend on nothing of the pool's but these figures.
 */
export interface PoolReadout {
  snapshot(): {
    enis: ReadonlyArray<{ state: string }>;
    pool: {
      idle: number;
      inUse: number;
      creating: number;
      releasing: number;
      invalid: number;
      waiting: number;
      minPoolSize: number;
      maxPoolSize: number;
      limits: { capacity: number };
      lastError: string | undefined;
    };
  };
  canAllocate(): boolean;
}

/** Every IP state a scrape reports, zeros included, so a rule on one never sees a gap. */
const IP_STATES = ['idle', 'in_use', 'releasing', 'invalid', 'creating'] as const;
const ENI_STATES = ['creating', 'in_use', 'deleting', 'missing'] as const;

export function registerPoolMetrics(registry: Registry, pool: PoolReadout): void {
  new Gauge({
    name: 'terway_pool_ips',
    help:
      'Secondary IPs by state: idle (warm, ready for a pod), in_use (a pod holds it), releasing ' +
      '(being given back), invalid (not usable), creating (requested from the cloud, not yet there)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const figures = pool.snapshot().pool;
      const byState: Record<(typeof IP_STATES)[number], number> = {
        idle: figures.idle,
        in_use: figures.inUse,
        releasing: figures.releasing,
        invalid: figures.invalid,
        creating: figures.creating,
      };
      for (const state of IP_STATES) this.set({ state }, byState[state]);
    },
  });
  new Gauge({
    name: 'terway_pool_enis',
    help: 'Secondary ENIs by state (missing: recorded, but the cloud no longer shows it attached)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(ENI_STATES.map((state) => [state, 0]));
      for (const eni of pool.snapshot().enis) {
        counts.set(eni.state, (counts.get(eni.state) ?? 0) + 1);
      }
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'terway_pool_waiting_allocations',
    help: 'Pod ADDs waiting for an IP the pool is still getting from the cloud',
    registers: [registry],
    collect() {
      this.set(pool.snapshot().pool.waiting);
    },
  });
  new Gauge({
    name: 'terway_pool_ip_capacity',
    help: "Secondary IPs this node's instance type can hold on the ENIs the pool may use",
    registers: [registry],
    collect() {
      this.set(pool.snapshot().pool.limits.capacity);
    },
  });
  new Gauge({
    name: 'terway_pool_idle_bounds',
    help: 'The warm pool bounds from eni_conf: min_pool_size and max_pool_size idle IPs',
    labelNames: ['bound'],
    registers: [registry],
    collect() {
      const { minPoolSize, maxPoolSize } = pool.snapshot().pool;
      this.set({ bound: 'min' }, minPoolSize);
      this.set({ bound: 'max' }, maxPoolSize);
    },
  });
  new Gauge({
    name: 'terway_pool_can_allocate',
    help: '1 while a new pod can get an IP (one is idle, or the pool can still grow); 0 when not',
    registers: [registry],
    collect() {
      this.set(pool.canAllocate() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'terway_pool_grow_failing',
    help:
      "1 while the pool's last attempt to grow (create an ENI, assign IPs) failed; terway-cli " +
      'show factory and the log say why. 0 once one succeeds',
    registers: [registry],
    collect() {
      this.set(pool.snapshot().pool.lastError === undefined ? 0 : 1);
    },
  });
}
