/**
 * The datapath reconciler: the only code that applies driver plans to the kernel. ADD runs the
 * node-side ops then the pod-side ops (two `ip -batch` spawns), and on any failure removes
 * whatever it made before rethrowing, so a failed ADD leaves neither links nor routes behind.
 */
import type { Logger } from 'pino';

import { TerwayError, toTerwayError } from '../errors/terway-error.js';
import type { PodProgramAttacher } from './bpf/lb-attacher.js';
import type { DatapathDriver, EniSite } from './drivers/driver.js';
import { nodeSysctls } from './drivers/driver.js';
import { IpvlanDriver } from './drivers/ipvlan-driver.js';
import { VethDriver } from './drivers/veth-driver.js';
import { findDrift } from './expectations.js';
import type { KernelOp } from './kernel/kernel-ops.js';
import type { Kernel, KernelBatch } from './kernel/kernel.js';
import type { NetnsRef } from './kernel/netns-ref.js';
import { describeNetns } from './kernel/netns-ref.js';
import { ipvlanHostLinkName } from './pod-attachment.js';
import type {
  DriverName,
  EniLink,
  PodAttachment,
  PodInterfaces,
  PodTeardown,
} from './pod-attachment.js';

export interface PodDatapathOptions {
  kernel: Kernel;
  /** The node's namespace: the daemon's own in production, a lab node's in tests. */
  hostNetns: NetnsRef;
  /** What the operator asked for (eniip_virtual_type). */
  preferred: DriverName;
  log: Logger;
  /** Puts the Service LB program on every pod's interface; none when the LB is off. */
  lbAttacher?: PodProgramAttacher | undefined;
}

/** What refreshLbPrograms did, by pod key. */
export interface LbRefreshReport {
  /** Already running this daemon's programs: untouched. */
  current: number;
  replaced: string[];
  restored: string[];
  /** Their netns is gone: the runtime has not deleted them yet. */
  gone: string[];
  failed: string[];
}

const DRIVERS: Readonly<Record<DriverName, DatapathDriver>> = {
  ipvlan: new IpvlanDriver(),
  veth: new VethDriver(),
};

export class PodDatapath {
  /** ENIs whose node-wide state is in place (or being put in place), by driver, link and ifindex. */
  private readonly preparedEnis = new Map<string, Promise<void>>();

  constructor(private readonly options: PodDatapathOptions) {}

  get hostNetns(): NetnsRef {
    return this.options.hostNetns;
  }

  /** The driver a new pod gets: the preferred one, unless the kernel cannot do it. */
  async chooseDriver(): Promise<{ driver: DriverName; fallbackReason: string | undefined }> {
    if (this.options.preferred === 'ipvlan' && !(await this.options.kernel.supportsIpvlan())) {
      return { driver: 'veth', fallbackReason: 'this kernel has no ipvlan driver; using veth' };
    }
    return { driver: this.options.preferred, fallbackReason: undefined };
  }

  /** Refuses a path that is not a network namespace before anything (an IP included) is taken. */
  async requireNetns(netns: NetnsRef, podKey: string): Promise<void> {
    if (!(await this.options.kernel.netnsExists(netns))) {
      throw new TerwayError(
        'NETNS_NOT_FOUND',
        `${describeNetns(netns)} of ${podKey} does not exist or is not a network namespace`,
      );
    }
  }

  /**
   * Starts the pod side's `ip` before the plan exists, so its start overlaps the IP allocation
   * and the node side. setup applies it; the caller closes it either way (a no-op once applied).
   */
  openPodBatch(netns: NetnsRef): KernelBatch {
    return this.options.kernel.openBatch(netns);
  }

  async setup(
    pod: PodAttachment,
    driverName: DriverName,
    podBatch?: KernelBatch,
  ): Promise<PodInterfaces> {
    const { kernel, hostNetns, log } = this.options;
    const driver = DRIVERS[driverName];
    const plan = driver.planSetup(pod);
    await this.requireNetns(pod.netns, pod.podKey);
    try {
      await this.prepareEni(pod.eni, { gateway: pod.gateway, nodeIp: pod.nodeIp }, driver);
      await kernel.apply(hostNetns, plan.host);
      await (podBatch === undefined ? kernel.apply(pod.netns, plan.pod) : podBatch.apply(plan.pod));
      this.options.lbAttacher?.attach(pod.netns, pod.ifname, driverName);
    } catch (thrown) {
      const error = asEniLinkMissing(toTerwayError(thrown), pod);
      log.warn(
        { pod: pod.podKey, driver: driverName, err: error },
        'pod datapath setup failed; removing what it made',
      );
      await this.teardown(pod, driverName);
      throw error;
    }
    log.info(
      {
        pod: pod.podKey,
        driver: driverName,
        ip: pod.ip,
        eni: pod.eni.name,
        netns: describeNetns(pod.netns),
      },
      'pod datapath set up',
    );
    return driver.interfaces(pod);
  }

  /** The interfaces a wired pod has, without asking the kernel. */
  interfacesOf(pod: PodAttachment, driverName: DriverName): PodInterfaces {
    return DRIVERS[driverName].interfaces(pod);
  }

  /** Idempotent: what is already gone counts as removed, and a vanished netns is fine. */
  async teardown(pod: PodTeardown, driverName: DriverName): Promise<void> {
    const { kernel, hostNetns, log } = this.options;
    const plan = DRIVERS[driverName].planTeardown(pod);
    const failures: unknown[] = [];
    try {
      await kernel.apply(hostNetns, plan.host);
    } catch (error) {
      failures.push(error);
    }
    if (plan.pod.length > 0 && (await kernel.netnsExists(pod.netns))) {
      try {
        await kernel.apply(pod.netns, plan.pod);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) {
      const error = toTerwayError(failures[0]);
      log.warn(
        { pod: pod.podKey, driver: driverName, err: error },
        'pod datapath teardown left something behind',
      );
      throw error;
    }
  }

  /** Every difference between the kernel and what setup makes, as sentences; empty when none. */
  async check(pod: PodAttachment, driverName: DriverName): Promise<string[]> {
    const { kernel, hostNetns } = this.options;
    const expected = DRIVERS[driverName].expectations(pod);
    if (!(await kernel.netnsExists(pod.netns)))
      return [`${describeNetns(pod.netns)} does not exist`];
    const [host, inPod] = await Promise.all([kernel.read(hostNetns), kernel.read(pod.netns)]);
    return [
      ...findDrift(host, expected.host, 'the node'),
      ...findDrift(inPod, expected.pod, 'the pod'),
      ...(this.options.lbAttacher?.check(pod.netns, pod.ifname, driverName) ?? []),
    ];
  }

  /**
   * After a daemon restart: puts back the node side of existing pods (ENI state, routes, rules)
   * without touching a single pod namespace, so running pods never notice.
   */
  async resyncHost(
    pods: ReadonlyArray<{ pod: PodAttachment; driver: DriverName }>,
  ): Promise<{ resynced: number; skipped: string[] }> {
    const { kernel, hostNetns, log } = this.options;
    this.preparedEnis.clear();
    const links = new Set((await kernel.read(hostNetns)).links.map((link) => link.name));
    const ready: Array<{ pod: PodAttachment; ops: KernelOp[] }> = [];
    const skipped: string[] = [];
    for (const { pod, driver } of pods) {
      // A pod whose ADD died before its node-side link existed has nothing to re-sync; its next
      // ADD or a GC completes or removes it. Leaving it in would fail everyone's batch.
      const own = DRIVERS[driver].interfaces(pod).host.name;
      if (driver === 'veth' && !links.has(own)) {
        skipped.push(pod.podKey);
        continue;
      }
      await this.prepareEni(pod.eni, { gateway: pod.gateway, nodeIp: pod.nodeIp }, DRIVERS[driver]);
      ready.push({ pod, ops: DRIVERS[driver].planHostResync(pod) });
    }
    let failed = 0;
    try {
      await kernel.apply(
        hostNetns,
        ready.flatMap((entry) => entry.ops),
      );
    } catch {
      // One pod's trouble must not cost the others their routes: retry pod by pod.
      for (const entry of ready) {
        await kernel.apply(hostNetns, entry.ops).catch((error: unknown) => {
          failed++;
          skipped.push(entry.pod.podKey);
          log.warn(
            { pod: entry.pod.podKey, err: toTerwayError(error) },
            'node side of a pod not re-synced',
          );
        });
      }
    }
    return { resynced: ready.length - failed, skipped };
  }

  /**
   * After a daemon start: brings the Service LB programs of existing pods to this daemon's build
   * (PodProgramAttacher.refresh), so an upgrade reaches running pods. The one step of a restart
   * that enters pod namespaces, and only to swap a program in place, which the pod never notices.
   * A pod that fails is reported and skipped: the others still get theirs. Undefined when the
   * Service LB is off.
   */
  async refreshLbPrograms(
    pods: ReadonlyArray<{ pod: PodAttachment; driver: DriverName }>,
  ): Promise<LbRefreshReport | undefined> {
    const { kernel, log, lbAttacher } = this.options;
    if (lbAttacher === undefined) return undefined;
    const report: LbRefreshReport = {
      current: 0,
      replaced: [],
      restored: [],
      gone: [],
      failed: [],
    };
    for (const { pod, driver } of pods) {
      try {
        if (!(await kernel.netnsExists(pod.netns))) {
          report.gone.push(pod.podKey);
          continue;
        }
        const outcome = lbAttacher.refresh(pod.netns, pod.ifname, driver);
        if (outcome === 'current') report.current++;
        else report[outcome].push(pod.podKey);
      } catch (error) {
        report.failed.push(pod.podKey);
        log.warn(
          { pod: pod.podKey, err: toTerwayError(error, 'BPF_ERROR') },
          "cannot bring the pod's Service LB programs to this daemon's build",
        );
      }
    }
    return report;
  }

  /** Once per ENI link (again if its ifindex changed); concurrent ADDs share one preparation. */
  private prepareEni(eni: EniLink, site: EniSite, driver: DatapathDriver): Promise<void> {
    const key = `${driver.name}/${eni.name}/${eni.ifindex}`;
    let prepared = this.preparedEnis.get(key);
    if (prepared === undefined) {
      prepared = this.applyEni(eni, site, driver);
      this.preparedEnis.set(key, prepared);
      // A failed preparation is retried by the next pod rather than remembered.
      prepared.catch(() => this.preparedEnis.delete(key));
    }
    return prepared;
  }

  private async applyEni(eni: EniLink, site: EniSite, driver: DatapathDriver): Promise<void> {
    const { kernel, hostNetns, log } = this.options;
    const links = [eni.name, ...(driver.name === 'ipvlan' ? [ipvlanHostLinkName(eni)] : [])];
    await kernel.apply(hostNetns, driver.planEni(eni, site));
    await kernel.setSysctls(hostNetns, nodeSysctls(links));
    log.info(
      { eni: eni.name, mac: eni.mac, ifindex: eni.ifindex, driver: driver.name },
      'ENI link prepared for pods',
    );
  }
}

/**
 * The ENI's link vanished between lookup and use (detached, or deleted behind our back): say so
 * with the retryable code, not as an opaque kernel failure.
 */
function asEniLinkMissing(error: TerwayError, pod: PodAttachment): TerwayError {
  if (
    error.code !== 'KERNEL_ERROR' ||
    !error.message.includes(`Cannot find device "${pod.eni.name}"`)
  ) {
    return error;
  }
  return new TerwayError(
    'ENI_LINK_MISSING',
    `the link ${pod.eni.name} of ENI MAC ${pod.eni.mac} is gone from the node`,
    { cause: error, retryable: true },
  );
}
