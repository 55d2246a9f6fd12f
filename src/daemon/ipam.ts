import type { Logger } from 'pino';
import type { DriverName } from '../dataplane/pod-attachment.js';
import { TerwayError, toTerwayError } from '../errors/terway-error.js';
import type { IpPool } from '../pool/ip-pool.js';
import type { IpLease, IpState } from '../pool/ip-state.js';
import type { PodRecord } from '../store/pod-record.js';
import { podKey } from '../store/pod-record.js';
import type { PodStore } from '../store/pod-store.js';
import type { Clock } from '../util/clock.js';
import { KeyedMutex } from '../util/keyed-mutex.js';

export interface PodIdentity {
  namespace: string;
  name: string;
  containerId: string;
}

export interface AllocateRequest extends PodIdentity {
  netns: string;
  ifname: string;
  /** The datapath driver that will wire the pod; recorded with its IP. */
  driver?: DriverName;
}

/** A record joined with where its IP lives now. */
export interface PodNetworkView {
  record: PodRecord;
  lease: IpLease | undefined;
  ipState: IpState | undefined;
}

export interface AllocateResult extends PodNetworkView {
  reused: boolean;
}

/**
 * Pod-level IPAM: the pool hands out IPs, the store makes each hand-out durable before the
 * caller hears about it, and every call for one pod runs alone (a retried ADD racing a DEL
 * cannot interleave).
 */
export class Ipam {
  private readonly mutex = new KeyedMutex();
  /**
   * A DEL may name only the container id; it is held per sandbox before the record is looked
   * up, so it cannot miss the record of an ADD for the same sandbox that is still running.
   * Always taken before the per-pod lock, so the two never deadlock.
   */
  private readonly sandboxMutex = new KeyedMutex();

  constructor(
    private readonly pool: IpPool,
    private readonly store: PodStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async allocate(
    request: AllocateRequest,
    deadlineMs: number,
    signal?: AbortSignal,
  ): Promise<AllocateResult> {
    const key = podKey(request.namespace, request.name);
    return this.sandboxMutex.run(request.containerId, () =>
      this.mutex.run(key, () => this.allocateLocked(key, request, deadlineMs, signal)),
    );
  }

  private async allocateLocked(
    key: string,
    request: AllocateRequest,
    deadlineMs: number,
    signal: AbortSignal | undefined,
  ): Promise<AllocateResult> {
    const existing = this.store.get(key);
    if (existing !== undefined) return this.reuse(existing, request);

    const lease = await this.pool.allocate(key, deadlineMs, signal);
    const record: PodRecord = {
      namespace: request.namespace,
      name: request.name,
      containerId: request.containerId,
      ip: lease.ip,
      eniId: lease.eniId,
      netns: request.netns,
      ifname: request.ifname,
      allocatedAtMs: this.clock.now(),
      ...(request.driver === undefined ? {} : { driver: request.driver }),
    };
    try {
      await this.store.put(record);
    } catch (error) {
      this.pool.release(lease.ip);
      throw new TerwayError('STORE_ERROR', `could not record ${key} -> ${lease.ip}`, {
        cause: error,
      });
    }
    this.log.info(
      { pod: key, containerId: request.containerId, ip: lease.ip, eniId: lease.eniId },
      'allocated pod IP',
    );
    return { record, lease, ipState: this.pool.stateOf(lease.ip), reused: false };
  }

  /**
   * The pod already has an IP: a retried ADD for the same sandbox gets it back unchanged; a new
   * sandbox of the same pod takes it over, as Terway does, so the pod keeps its address.
   */
  private async reuse(existing: PodRecord, request: AllocateRequest): Promise<AllocateResult> {
    let record = existing;
    if (
      existing.containerId !== request.containerId ||
      existing.netns !== request.netns ||
      existing.ifname !== request.ifname ||
      existing.driver !== request.driver
    ) {
      record = {
        ...existing,
        containerId: request.containerId,
        netns: request.netns,
        ifname: request.ifname,
        ...(request.driver === undefined ? {} : { driver: request.driver }),
      };
      await this.putOrFail(record);
      this.log.info(
        {
          pod: podKey(record.namespace, record.name),
          from: existing.containerId,
          to: record.containerId,
        },
        'pod sandbox changed; it keeps its IP',
      );
    }
    return { ...this.view(record), reused: true };
  }

  /**
   * Releases a pod's IP. Idempotent: nothing recorded, or a record owned by another sandbox (a
   * stale DEL), returns undefined. Without namespace/name the record is found by container id.
   */
  async release(identity: PodIdentity): Promise<PodRecord | undefined> {
    if (identity.containerId === '') return this.releaseBySandbox(identity);
    return this.sandboxMutex.run(identity.containerId, () => this.releaseBySandbox(identity));
  }

  private async releaseBySandbox(identity: PodIdentity): Promise<PodRecord | undefined> {
    const key = this.resolveKey(identity);
    if (key === undefined) return undefined;
    return this.mutex.run(key, async () => {
      const record = this.store.get(key);
      if (record === undefined) return undefined;
      if (identity.containerId !== '' && record.containerId !== identity.containerId) {
        this.log.info(
          { pod: key, staleContainerId: identity.containerId, owner: record.containerId },
          'ignored release from a stale sandbox',
        );
        return undefined;
      }
      try {
        await this.store.delete(key);
      } catch (error) {
        throw new TerwayError('STORE_ERROR', `could not delete the record of ${key}`, {
          cause: error,
        });
      }
      this.pool.release(record.ip);
      this.log.info(
        { pod: key, containerId: record.containerId, ip: record.ip },
        'released pod IP',
      );
      return record;
    });
  }

  get(identity: Pick<PodIdentity, 'namespace' | 'name'>): PodNetworkView | undefined {
    const record = this.store.get(podKey(identity.namespace, identity.name));
    return record === undefined ? undefined : this.view(record);
  }

  list(): PodNetworkView[] {
    return this.store.list().map((record) => this.view(record));
  }

  /** CNI GC: releases every record whose sandbox the runtime no longer lists. */
  async garbageCollect(validContainerIds: ReadonlySet<string>): Promise<PodRecord[]> {
    const released: PodRecord[] = [];
    for (const record of this.store.list()) {
      if (validContainerIds.has(record.containerId)) continue;
      try {
        const gone = await this.release(record);
        if (gone !== undefined) released.push(gone);
      } catch (error) {
        this.log.warn(
          { err: toTerwayError(error), pod: podKey(record.namespace, record.name) },
          'GC release failed',
        );
      }
    }
    return released;
  }

  private resolveKey(identity: PodIdentity): string | undefined {
    if (identity.namespace !== '' && identity.name !== '') {
      return podKey(identity.namespace, identity.name);
    }
    if (identity.containerId === '') return undefined;
    const record = this.store.list().find((r) => r.containerId === identity.containerId);
    return record === undefined ? undefined : podKey(record.namespace, record.name);
  }

  private view(record: PodRecord): PodNetworkView {
    return {
      record,
      lease: this.pool.leaseOf(record.ip),
      ipState: this.pool.stateOf(record.ip),
    };
  }

  private async putOrFail(record: PodRecord): Promise<void> {
    try {
      await this.store.put(record);
    } catch (error) {
      throw new TerwayError(
        'STORE_ERROR',
        `could not update the record of ${record.namespace}/${record.name}`,
        {
          cause: error,
        },
      );
    }
  }
}
