/**
 * A pod's whole network lifecycle: its IP (Ipam) and its wiring (PodDatapath), as one unit per
 * pod. ADD records the IP first and wires second, so a crash in between leaves a record that
 * the next ADD (or GC) completes or removes; a wiring failure removes what it made and gives the
 * IP back. Without a datapath (IPAM only) it is a thin pass-through to Ipam.
 */
import type { Logger } from 'pino';

import type { EniLinks } from '../dataplane/eni-links.js';
import { netnsAt } from '../dataplane/kernel/netns-ref.js';
import type {
  DriverName,
  PodAttachment,
  PodInterfaces,
  PodTeardown,
} from '../dataplane/pod-attachment.js';
import type { PodDatapath } from '../dataplane/pod-datapath.js';
import { TerwayError, toTerwayError } from '../errors/terway-error.js';
import type { IpPool } from '../pool/ip-pool.js';
import type { IpLease } from '../pool/ip-state.js';
import type { PodRecord } from '../store/pod-record.js';
import { podKey, recordKey } from '../store/pod-record.js';
import { failpoint } from '../util/failpoints.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { AllocateRequest, AllocateResult, Ipam, PodIdentity, PodNetworkView } from './ipam.js';

/** How long an ENI whose link is missing is kept from new pods before it is tried again. */
export const ENI_LINK_HOLD_MS = 30_000;

/** What wires pods: absent when the daemon runs IPAM only (`datapath: none`). */
export interface DatapathRuntime {
  datapath: PodDatapath;
  enis: EniLinks;
  /** The node's primary IP. */
  nodeIp: string;
}

export interface AddOutcome extends AllocateResult {
  interfaces: PodInterfaces | undefined;
  fallbackReason: string | undefined;
}

export interface CheckOutcome {
  view: PodNetworkView;
  drift: string[];
}

export class PodNetwork {
  /** As in Ipam: a DEL naming only its sandbox must not overtake that sandbox's ADD. */
  private readonly sandboxMutex = new KeyedMutex();
  private readonly podMutex = new KeyedMutex();

  constructor(
    private readonly ipam: Ipam,
    private readonly runtime: DatapathRuntime | undefined,
    private readonly log: Logger,
    /** Where an ENI without a link is held back; absent in tests that do not need it. */
    private readonly pool?: Pick<IpPool, 'holdEni'>,
  ) {}

  list(): PodNetworkView[] {
    return this.ipam.list();
  }

  get wired(): boolean {
    return this.runtime !== undefined;
  }

  add(request: AllocateRequest, deadlineMs: number, signal?: AbortSignal): Promise<AddOutcome> {
    const key = podKey(request.namespace, request.name);
    return this.sandboxMutex.run(request.containerId, () =>
      this.podMutex.run(key, () => this.addLocked(request, deadlineMs, signal, true)),
    );
  }

  private async addLocked(
    request: AllocateRequest,
    deadlineMs: number,
    signal: AbortSignal | undefined,
    mayRetry: boolean,
  ): Promise<AddOutcome> {
    const runtime = this.runtime;
    if (runtime === undefined) {
      const result = await this.ipam.allocate(request, deadlineMs, signal);
      return { ...result, interfaces: undefined, fallbackReason: undefined };
    }
    await runtime.datapath.requireNetns(
      netnsAt(request.netns),
      podKey(request.namespace, request.name),
    );
    const previous = this.ipam.get(request)?.record;
    if (
      previous !== undefined &&
      (previous.containerId !== request.containerId || previous.netns !== request.netns)
    ) {
      // A new sandbox of the pod takes the IP over; the old one must not keep using it (two
      // ipvlan slaves cannot hold one address).
      await this.unwire(previous).catch((error: unknown) =>
        this.log.warn(
          { pod: recordKey(previous), err: toTerwayError(error) },
          'could not unwire the replaced sandbox',
        ),
      );
    }
    const { driver, fallbackReason } = await runtime.datapath.chooseDriver();
    // The pod side's ip starts now; the allocation and the node side hide its start-up.
    const podBatch = runtime.datapath.openPodBatch(netnsAt(request.netns));
    try {
      const result = await this.ipam.allocate({ ...request, driver }, deadlineMs, signal);
      // A crash here leaves a record with nothing wired: the next ADD or GC must cope with it.
      failpoint('pod-network/after-allocate');
      try {
        const attachment = await this.attachment(result.record, result.lease);
        const interfaces = await runtime.datapath.setup(attachment, driver, podBatch);
        if (fallbackReason !== undefined) {
          this.log.warn(
            { pod: attachment.podKey, driver, reason: fallbackReason },
            'VirtualModeChanged: pod wired with a fallback driver',
          );
        }
        return { ...result, interfaces, fallbackReason };
      } catch (thrown) {
        const error = toTerwayError(thrown);
        if (result.lease !== undefined) runtime.enis.forget(result.lease.eniMac);
        await this.ipam
          .release(result.record)
          .catch((releaseError: unknown) =>
            this.log.error(
              { pod: recordKey(result.record), err: toTerwayError(releaseError) },
              'could not give back the IP of a pod that failed to wire',
            ),
          );
        if (error.code === 'ENI_LINK_MISSING' && result.lease !== undefined && mayRetry) {
          // Without this, the ENI selection policy would keep picking the same linkless ENI and
          // every ADD on the node would fail while other ENIs have IPs to give.
          this.pool?.holdEni(result.lease.eniId, ENI_LINK_HOLD_MS, error.message);
          return await this.addLocked(request, deadlineMs, signal, false);
        }
        throw error;
      }
    } finally {
      // setup applies or lets go of the batch; this covers an ADD that never got that far.
      podBatch.close();
    }
  }

  /**
   * Idempotent. The wiring goes first: if it cannot be removed the record stays, DEL fails and
   * the runtime retries it, rather than an IP going back to the pool with a link still holding it.
   */
  async del(identity: PodIdentity): Promise<PodRecord | undefined> {
    if (identity.containerId === '') return this.delBySandbox(identity);
    return this.sandboxMutex.run(identity.containerId, () => this.delBySandbox(identity));
  }

  private async delBySandbox(identity: PodIdentity): Promise<PodRecord | undefined> {
    const record = this.find(identity);
    if (record === undefined) return undefined;
    return this.podMutex.run(recordKey(record), async () => {
      const current = this.find(identity);
      if (current === undefined) return undefined;
      const stale = identity.containerId !== '' && current.containerId !== identity.containerId;
      if (!stale) await this.unwire(current);
      return this.ipam.release(identity);
    });
  }

  async check(
    identity: Pick<PodIdentity, 'namespace' | 'name'>,
  ): Promise<CheckOutcome | undefined> {
    const view = this.ipam.get(identity);
    if (view === undefined) return undefined;
    const runtime = this.runtime;
    const driver = view.record.driver;
    if (runtime === undefined || driver === undefined) return { view, drift: [] };
    return this.podMutex.run(recordKey(view.record), async () => {
      let attachment: PodAttachment;
      try {
        attachment = await this.attachment(view.record, view.lease);
      } catch (error) {
        return { view, drift: [toTerwayError(error).message] };
      }
      return { view, drift: await runtime.datapath.check(attachment, driver) };
    });
  }

  /** CNI GC: every record whose sandbox the runtime no longer lists is unwired and released. */
  async garbageCollect(validContainerIds: ReadonlySet<string>): Promise<PodRecord[]> {
    const released: PodRecord[] = [];
    for (const record of this.ipam.list().map((view) => view.record)) {
      if (validContainerIds.has(record.containerId)) continue;
      try {
        const gone = await this.del(record);
        if (gone !== undefined) released.push(gone);
      } catch (error) {
        this.log.warn({ err: toTerwayError(error), pod: recordKey(record) }, 'GC release failed');
      }
    }
    return released;
  }

  /**
   * After a restart: the node side of every wired pod is put back (routes, rules, ipvl links),
   * and each pod's Service LB programs are swapped in place for this daemon's when they differ
   * (an upgrade); nothing else in a pod namespace is touched. Pods that cannot be resynced are
   * logged, not failed: the daemon must serve the others. Returns the pods whose programs may not
   * be this daemon's: those whose programs could not be swapped, and those it could not reach.
   */
  async resync(): Promise<string[]> {
    const runtime = this.runtime;
    if (runtime === undefined) return [];
    const pods: Array<{ pod: PodAttachment; driver: DriverName }> = [];
    const unreached: string[] = [];
    for (const { record, lease } of this.ipam.list()) {
      if (record.driver === undefined) continue;
      try {
        pods.push({ pod: await this.attachment(record, lease), driver: record.driver });
      } catch (error) {
        unreached.push(recordKey(record));
        this.log.warn(
          { pod: recordKey(record), err: toTerwayError(error) },
          'cannot resync the node side of a pod',
        );
      }
    }
    try {
      const { resynced, skipped } = await runtime.datapath.resyncHost(pods);
      this.log.info({ resynced, skipped }, 'node side of existing pods resynced');
    } catch (error) {
      this.log.error(
        { err: toTerwayError(error) },
        'resync of the node side of existing pods failed',
      );
    }
    const programs = await runtime.datapath.refreshLbPrograms(pods);
    if (programs !== undefined) {
      const { current, replaced, restored, gone, failed } = programs;
      // Each list names pods; "current" is most of a plain restart, so only its count is logged.
      this.log.info(
        { current, replaced, restored, gone, failed },
        "existing pods' Service LB programs checked against this daemon's build",
      );
    }
    return programs === undefined ? [] : [...unreached, ...programs.failed];
  }

  /** The node interface of the ENI with this MAC, when pods are wired and the link exists. */
  async eniLink(mac: string): Promise<string | undefined> {
    if (this.runtime === undefined || mac === '') return undefined;
    try {
      return (await this.runtime.enis.lookup(mac))?.name;
    } catch {
      return undefined;
    }
  }

  /** How a recorded pod is wired, for replies and `terway-cli`; undefined when it is not (yet). */
  async interfacesOf(view: PodNetworkView): Promise<PodInterfaces | undefined> {
    const runtime = this.runtime;
    const driver = view.record.driver;
    if (runtime === undefined || driver === undefined) return undefined;
    try {
      return runtime.datapath.interfacesOf(await this.attachment(view.record, view.lease), driver);
    } catch {
      return undefined;
    }
  }

  private find(identity: PodIdentity): PodRecord | undefined {
    if (identity.namespace !== '' && identity.name !== '') return this.ipam.get(identity)?.record;
    if (identity.containerId === '') return undefined;
    return this.ipam.list().find((view) => view.record.containerId === identity.containerId)
      ?.record;
  }

  private async unwire(record: PodRecord): Promise<void> {
    if (this.runtime === undefined || record.driver === undefined) return;
    await this.runtime.datapath.teardown(teardownOf(record), record.driver);
  }

  private async attachment(record: PodRecord, lease: IpLease | undefined): Promise<PodAttachment> {
    const runtime = this.runtime!;
    if (lease === undefined) {
      throw new TerwayError(
        'ENI_LINK_MISSING',
        `the IP ${record.ip} of ${recordKey(record)} is no longer on any ENI of this node`,
      );
    }
    const eni = await runtime.enis.lookup(lease.eniMac);
    if (eni === undefined) {
      throw new TerwayError(
        'ENI_LINK_MISSING',
        `ENI ${lease.eniId} (MAC ${lease.eniMac}) has no link on this node`,
        { retryable: true },
      );
    }
    return {
      ...teardownOf(record),
      prefixLength: lease.prefixLength,
      gateway: lease.gateway,
      eni,
      nodeIp: runtime.nodeIp,
    };
  }
}

function teardownOf(record: PodRecord): PodTeardown {
  return {
    podKey: recordKey(record),
    containerId: record.containerId,
    netns: netnsAt(record.netns),
    ifname: record.ifname,
    ip: record.ip,
  };
}
