/**
 * States an IP moves through in the pool. IPs still being requested from the cloud have no
 * address yet, so they are counted per ENI ("creating") rather than listed.
 *
 *   (cloud assign) -> idle -> in_use -> idle            allocate / release
 *                     idle -> releasing -> (cloud unassign or ENI delete)
 *   a recorded IP the cloud no longer has -> invalid    (removed when its pod is released)
 */
export type IpState = 'idle' | 'in_use' | 'releasing' | 'invalid';

/** Pool-side lifecycle of a secondary ENI. */
export type EniState = 'creating' | 'in_use' | 'deleting';

export type EniSelectionPolicy = 'most_ips' | 'least_ips';

/** Where an allocated IP lives: what a datapath needs to wire the pod. */
export interface IpLease {
  ip: string;
  eniId: string;
  eniMac: string;
  vswitchId: string;
  vswitchCidr: string;
  prefixLength: number;
  gateway: string;
}

/** The pool's tunables; the daemon's resolved eni_conf is a superset of this. */
export interface PoolOptions {
  minPoolSize: number;
  maxPoolSize: number;
  minEni: number;
  maxEni?: number | undefined;
  eniCapRatio: number;
  eniCapShift: number;
  eniSelectionPolicy: EniSelectionPolicy;
  ipWarmUpSize: number;
  idleIpReclaimAfterMs?: number | undefined;
  idleIpReclaimIntervalMs: number;
  idleIpReclaimBatchSize: number;
  idleIpReclaimJitterFactor: number;
  ipPoolSyncPeriodMs: number;
  ipBatchWindowMs: number;
}
