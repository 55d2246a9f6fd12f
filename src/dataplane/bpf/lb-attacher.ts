/**
 * Puts the Service LB program on a pod's interface. The daemon attaches it during ADD, before the
 * runtime starts the pod's containers, so the first connection a container makes is already
 * load-balanced. The attachments (a clsact filter, or tcx) live in the pod's netns and outlive
 * the daemon: pods that existed before a restart keep their program, and re-attaching (replace) is
 * how an upgraded program reaches them.
 */
import type { NetnsRef } from '../kernel/netns-ref.js';
import type { DriverName } from '../pod-attachment.js';
import { describeNetns } from '../kernel/netns-ref.js';
import { TerwayError } from '../../errors/terway-error.js';
import {
  DEFAULT_TC_HOOK,
  tcAttach,
  tcQuery,
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

export interface PodProgramAttacher {
  attach(netns: NetnsRef, ifname: string, driver: DriverName): void;
  /** Sentences describing what is missing; empty when both directions carry our program. */
  check(netns: NetnsRef, ifname: string, driver: DriverName): string[];
}

/** Attaches through the addon, in the pod's netns, without a process per pod. */
export class TcLbAttacher implements PodProgramAttacher {
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
      if (attached === null) {
        problems.push(`the pod's ${ifname} has no Service LB program on tc ${direction}`);
      } else if (attached.name !== program.name) {
        problems.push(
          `the pod's ${ifname} runs ${attached.name} on tc ${direction}, not ${program.name}`,
        );
      }
    }
    return problems;
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
  failNext: Error | undefined;

  attach(netns: NetnsRef, ifname: string, _driver: DriverName): void {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.attached.add(`${describeNetns(netns)}/${ifname}`);
  }

  check(netns: NetnsRef, ifname: string, _driver: DriverName): string[] {
    return this.attached.has(`${describeNetns(netns)}/${ifname}`)
      ? []
      : [`the pod's ${ifname} has no Service LB program`];
  }
}

function netnsPath(netns: NetnsRef): string {
  if (netns.kind === 'path') return netns.path;
  // A pod is never the daemon's own netns; refusing beats attaching to the node's interface.
  throw new TerwayError('INVALID_ARGUMENT', 'the Service LB program is attached to pods only');
}
