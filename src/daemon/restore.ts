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

const RESTORE_RETRY_INITIAL_MS = 500;
const RESTORE_RETRY_MAX_MS = 30_000;

export interface RestoreDeps {
  cloud: CloudProvider;
  store: PodStore;
  options: PoolOptions;
  clock: Clock;
  log: Logger;
  /** Aborted when the daemon is told to stop while it is still restoring. */
  signal?: AbortSignal;
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
  const conflicts = pool.restore(
    enis,
    records.map((record) => ({ ip: record.ip, eniId: record.eniId, owner: recordKey(record) })),
  );
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
    },
    'restored pool from the cloud and the pod records',
  );
  return pool;
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
