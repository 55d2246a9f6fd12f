/**
 * Puts the Service LB program on a pod's interface. The daemon attaches it during ADD, before the
 * runtime starts the pod's containers, so the first connection a container makes is already
 * load-balanced. The attachments (a clsact filter, or tcx) live in the pod's netns and outlive
 * the daemon: pods that existed before a restart keep their program until refresh() replaces it
 * in place, which is how an upgraded program reaches them.
 */
import type { NetnsRef } from '../kernel/netns-ref.js';
import type { DriverName } from '../pod-attachment.js';
import { describeNetns } from '../kernel/netns-ref.js';
import { TerwayError } from '../../errors/terway-error.js';
import {
  DEFAULT_TC_HOOK,
  progInfo,
  tcAttach,
  tcQuery,
  type ProgInfo,
  type TcAttachment,
  type TcDirection,
  type TcHookChoice,
} from './native-bpf.js';

/** A pinned program: its kernel name and its path on bpffs. */
export interface PinnedProgram {
  readonly name: string;
  readonly path: string;
}

export interface LbPrograms {
  /**
   * Egress for L2 pods (ipvlan): DNAT of new flows to a Service, then the next hop resolved
   * again, since the ClusterIP was routed to the gateway and the backend may be on-link.
   */
  readonly egress: PinnedProgram;
  /** Egress for veth pods, whose every route goes through one gateway: DNAT only. */
  readonly egressGateway: PinnedProgram;
  /** Ingress, any pod: reverse translation of the replies. */
  readonly ingress: PinnedProgram;
}

/** What refresh() found on a pod. */
export type LbRefreshOutcome =
  /** Both directions ran this daemon's programs (same code, same maps): nothing was touched. */
  | 'current'
  /** Some direction ran another build, or read other maps: replaced in place, on its hook. */
  | 'replaced'
  /** Some direction had no program of ours: attached again, on this daemon's hook. */
  | 'restored';

export interface PodProgramAttacher {
  attach(netns: NetnsRef, ifname: string, driver: DriverName): void;
  /** Sentences describing what is missing or foreign; empty when both run this daemon's program. */
  check(netns: NetnsRef, ifname: string, driver: DriverName): string[];
  /**
   * For a pod that was running before this daemon started: makes both directions run this
   * daemon's programs. A program is replaced in place (the hook swaps it atomically, so no packet
   * goes untranslated) only when it differs from this daemon's in code or in maps: a plain
   * restart touches nothing, an upgrade reaches every running pod.
   */
  refresh(netns: NetnsRef, ifname: string, driver: DriverName): LbRefreshOutcome;
}

/** Attaches through the addon, in the pod's netns, without a process per pod. */
export class TcLbAttacher implements PodProgramAttacher {
  /** The pinned programs' code and maps, read once: they change only with the next daemon. */
  private readonly identities = new Map<string, ProgInfo>();

  constructor(
    private readonly programs: LbPrograms,
    /** clsact by default: a tcx attach waits out an RCU grace period, on every pod's ADD. */
    private readonly hook: TcHookChoice = DEFAULT_TC_HOOK,
  ) {}

  attach(netns: NetnsRef, ifname: string, driver: DriverName): void {
    const path = netnsPath(netns);
    for (const [direction, program] of this.plan(driver)) {
      tcAttach(path, ifname, program.path, direction, this.hook);
    }
  }

  check(netns: NetnsRef, ifname: string, driver: DriverName): string[] {
    const path = netnsPath(netns);
    const problems: string[] = [];
    for (const [direction, program] of this.plan(driver)) {
      const attached = tcQuery(path, ifname, direction);
      const problem =
        attached === null
          ? `the pod's ${ifname} has no Service LB program on tc ${direction}`
          : this.mismatch(attached, program, ifname, direction);
      if (problem !== undefined) problems.push(problem);
    }
    return problems;
  }

  refresh(netns: NetnsRef, ifname: string, driver: DriverName): LbRefreshOutcome {
    const path = netnsPath(netns);
    let outcome: LbRefreshOutcome = 'current';
    for (const [direction, program] of this.plan(driver)) {
      const attached = tcQuery(path, ifname, direction);
      if (attached !== null && this.mismatch(attached, program, ifname, direction) === undefined) {
        continue;
      }
      // The pod keeps its hook: --lb-hook is for pods added from now on.
      tcAttach(path, ifname, program.path, direction, attached?.hook ?? this.hook);
      if (attached === null) outcome = 'restored';
      else if (outcome === 'current') outcome = 'replaced';
    }
    return outcome;
  }

  /**
   * How the attached program differs from this daemon's, as CHECK words it: another program, or
   * ours in another build (code) or over other maps. Undefined when it is this daemon's.
   */
  private mismatch(
    attached: TcAttachment,
    program: PinnedProgram,
    ifname: string,
    direction: TcDirection,
  ): string | undefined {
    if (attached.name !== program.name) {
      return `the pod's ${ifname} runs ${attached.name} on tc ${direction}, not ${program.name}`;
    }
    let pinned = this.identities.get(program.path);
    if (pinned === undefined) {
      pinned = progInfo(program.path);
      this.identities.set(program.path, pinned);
    }
    const another = `the pod's ${ifname} runs another ${program.name} on tc ${direction}`;
    if (attached.tag !== pinned.tag) {
      return `${another}: its code (tag ${attached.tag}) is not this daemon's (tag ${pinned.tag})`;
    }
    if (attached.mapIds.join() !== pinned.mapIds.join()) {
      return (
        `${another}: same code, other maps (ids ${attached.mapIds.join(',')}, this daemon's ` +
        `${pinned.mapIds.join(',')})`
      );
    }
    if (attached.loadData !== pinned.loadData) {
      return (
        `${another}: same code and maps, other constants (${attached.loadData || 'none'}, ` +
        `this daemon's ${pinned.loadData || 'none'})`
      );
    }
    return undefined;
  }

  private plan(driver: DriverName): [TcDirection, PinnedProgram][] {
    return [
      ['egress', driver === 'veth' ? this.programs.egressGateway : this.programs.egress],
      ['ingress', this.programs.ingress],
    ];
  }
}

/** Records attachments: for unit tests of the datapath reconciler. */
export class MemoryLbAttacher implements PodProgramAttacher {
  readonly attached = new Set<string>();
  /** Attached, but by an older daemon: refresh replaces these. */
  private readonly outdated = new Set<string>();
  failNext: Error | undefined;

  /** As if an older daemon had attached the pod's program. */
  markOutdated(netns: NetnsRef, ifname: string): void {
    this.outdated.add(`${describeNetns(netns)}/${ifname}`);
  }

  attach(netns: NetnsRef, ifname: string, _driver: DriverName): void {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.attached.add(`${describeNetns(netns)}/${ifname}`);
  }

  check(netns: NetnsRef, ifname: string, _driver: DriverName): string[] {
    const key = `${describeNetns(netns)}/${ifname}`;
    if (!this.attached.has(key)) return [`the pod's ${ifname} has no Service LB program`];
    if (this.outdated.has(key)) return [`the pod's ${ifname} runs another Service LB program`];
    return [];
  }

  refresh(netns: NetnsRef, ifname: string, driver: DriverName): LbRefreshOutcome {
    const key = `${describeNetns(netns)}/${ifname}`;
    const outcome = !this.attached.has(key)
      ? 'restored'
      : this.outdated.has(key)
        ? 'replaced'
        : 'current';
    if (outcome !== 'current') this.attach(netns, ifname, driver);
    this.outdated.delete(key);
    return outcome;
  }
}

function netnsPath(netns: NetnsRef): string {
  if (netns.kind === 'path') return netns.path;
  // A pod is never the daemon's own netns; refusing beats attaching to the node's interface.
  throw new TerwayError('INVALID_ARGUMENT', 'the Service LB program is attached to pods only');
}
