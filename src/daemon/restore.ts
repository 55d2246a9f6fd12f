import type { Logger } from 'pino';
import type { CloudProvider } from '../cloud/provider.js';
import { toTerwayError } from '../errors/terway-error.js';
import { IpPool } from '../pool/ip-pool.js';
import type { PoolOptions } from '../pool/ip-state.js';
import { computePoolLimits } from '../pool/pool-limits.js';
import { recordKey } from '../store/pod-record.js';
import type { PodStore } from '../store/pod-store.js';
import type { Clock } from '../util/clock.js';
import { sleep } from '../util/clock.js';

/** Owner of an IP the cloud has on our ENIs but no pod record claims, while it is held back. */
export const UNCLAIMED_OWNER = 'unclaimed-since-restart';
const RESTORE_RETRY_INITIAL_MS = 500;
const RESTORE_RETRY_MAX_MS = 30_000;

export interface RestoreDeps {
  cloud: CloudProvider;
  store: PodStore;
  options: PoolOptions;
  clock: Clock;
  log: Logger;
  /**
   * Aborted when the daemon is told to stop; this also cancels the release of unclaimed IPs.
   */
  signal?: AbortSignal;
  /**
   * How long IPs that no pod record claims are held out of use before they are released (to the
   * idle pool, and from there back to the cloud above max_pool_size). Absent or 0: released at once.
   */
  unclaimedGraceMs?: number;
  /** IPs that were idle in the pool when the daemon last stopped cleanly: not unclaimed. */
  idleAtShutdown?: ReadonlySet<string>;
}

/**
 * Terway's restart order: load the records, list the ENIs the cloud has attached to us, then
 * rebind every recorded IP to its pod. Runs before the socket is bound, so no call is ever served
 * from a half-restored pool. Cloud failures are retried with backoff, not fatal: the shim sees an
 * unreachable daemon (CNI code 11) meanwhile, and the runtime retries.
 */
export async function restorePool(deps: RestoreDeps): Promise<IpPool> {
  const { cloud, store, options, clock, log } = deps;
  const instance = await retrying('describe instance limits', deps, () =>
    cloud.describeInstanceLimits(),
  );
  const limits = computePoolLimits(instance, options);
  const enis = await retrying('list attached ENIs', deps, () => cloud.listEnis());
  const records = store.list();

  const pool = new IpPool({ cloud, clock, log, options, limits });
  const claimed = new Set(records.map((record) => record.ip));
  const cloudIps = new Set(enis.flatMap((eni) => eni.privateIps));
  for (const record of records) {
    if (cloudIps.has(record.ip)) continue;
    log.warn(
      { ip: record.ip, eniId: record.eniId, pod: recordKey(record) },
      'a recorded pod IP is gone from the cloud; it stays invalid until its pod is released',
    );
  }
  const graceMs = deps.unclaimedGraceMs ?? 0;
  const knownIdle = deps.idleAtShutdown ?? new Set<string>();
  const unclaimed =
    graceMs > 0 ? [...cloudIps].filter((ip) => !claimed.has(ip) && !knownIdle.has(ip)) : [];
  const conflicts = pool.restore(enis, [
    ...records.map((record) => ({ ip: record.ip, eniId: record.eniId, owner: recordKey(record) })),
    ...unclaimed.map((ip) => ({
      ip,
      eniId: enis.find((eni) => eni.privateIps.includes(ip))?.id ?? '',
      owner: UNCLAIMED_OWNER,
    })),
  ]);
  if (unclaimed.length > 0) holdUnclaimed(pool, unclaimed, graceMs, deps);
  for (const conflict of conflicts) {
    log.error(
      { ip: conflict.ip, pod: conflict.owner, holder: pool.ownerOf(conflict.ip) },
      'two records claim one IP; the later one is left invalid until its pod is released',
    );
  }
  const figures = pool.snapshot().pool;
  log.info(
    {
      cloud: cloud.kind,
      instanceType: limits.instanceType,
      maxEnis: limits.maxEnis,
      ipsPerEni: limits.ipsPerEni,
      enis: enis.length,
      records: records.length,
      idle: figures.idle,
      inUse: figures.inUse,
      invalid: figures.invalid,
      unclaimed: unclaimed.length,
      vanished: records.filter((record) => !cloudIps.has(record.ip)).length,
    },
    'restored pool from the cloud and the pod records',
  );
  return pool;
}

/**
 * An unclaimed IP may still belong to a pod whose record was lost (a corrupt store entry), or be
 * one the daemon was assigning when it died. Handing it to a new pod at once could give two pods
 * one address, so it is held for a grace period, then released like any other IP.
 */
function holdUnclaimed(pool: IpPool, ips: string[], graceMs: number, deps: RestoreDeps): void {
  const { clock, log, signal } = deps;
  log.info(
    { ips, graceMs },
    'IPs on our ENIs that no pod record claims are held back until the grace period ends',
  );
  const timer = clock.setTimeout(() => {
    signal?.removeEventListener('abort', cancel);
    const released = ips.filter((ip) => pool.ownerOf(ip) === UNCLAIMED_OWNER && pool.release(ip));
    log.info({ ips: released }, 'released IPs no pod record claimed after the grace period');
  }, graceMs);
  const cancel = () => clock.clearTimeout(timer);
  signal?.addEventListener('abort', cancel, { once: true });
}

async function retrying<T>(what: string, deps: RestoreDeps, call: () => Promise<T>): Promise<T> {
  let delay = RESTORE_RETRY_INITIAL_MS;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (deps.signal?.aborted) throw error;
      deps.log.warn({ err: toTerwayError(error), retryInMs: delay }, `restore: ${what} failed`);
      await sleep(deps.clock, delay);
      if (deps.signal?.aborted) throw error;
      delay = Math.min(RESTORE_RETRY_MAX_MS, delay * 2);
    }
  }
}
