/**
 * Puts the Service LB program on a pod's interface. The daemon attaches it during ADD, before the
 * runtime starts the pod's containers, so the first connection a container makes is already
 * load-balanced. tc filters live in the pod's netns and outlive the daemon: pods that existed
 * before a restart keep their program, and re-attaching (replace) is how an upgraded program
 * reaches them.
 */
import type { NetnsRef } from '../kernel/netns-ref.js';
import { describeNetns } from '../kernel/netns-ref.js';
import { TerwayError } from '../../errors/terway-error.js';
import { tcAttach, tcQuery, type TcDirection } from './native-bpf.js';

export interface LbProgramPaths {
  /** Pinned egress program: DNAT of new flows to a Service. */
  readonly egress: string;
  /** Pinned ingress program: reverse translation of the replies. */
  readonly ingress: string;
}

export interface PodProgramAttacher {
  attach(netns: NetnsRef, ifname: string): void;
  /** Sentences describing what is missing; empty when both directions carry our program. */
  check(netns: NetnsRef, ifname: string): string[];
}

const DIRECTIONS: readonly TcDirection[] = ['egress', 'ingress'];

/** Attaches through the addon, in the pod's netns, without a process per pod. */
export class TcLbAttacher implements PodProgramAttacher {
  constructor(
    private readonly programs: LbProgramPaths,
    private readonly programNames: { egress: string; ingress: string },
  ) {}

  attach(netns: NetnsRef, ifname: string): void {
    const path = netnsPath(netns);
    for (const direction of DIRECTIONS) tcAttach(path, ifname, this.programs[direction], direction);
  }

  check(netns: NetnsRef, ifname: string): string[] {
    const path = netnsPath(netns);
    const problems: string[] = [];
    for (const direction of DIRECTIONS) {
      const attached = tcQuery(path, ifname, direction);
      if (attached === null) {
        problems.push(`the pod's ${ifname} has no Service LB program on tc ${direction}`);
      } else if (attached.name !== this.programNames[direction]) {
        problems.push(
          `the pod's ${ifname} runs ${attached.name} on tc ${direction}, not ${this.programNames[direction]}`,
        );
      }
    }
    return problems;
  }
}

/** Records attachments: for unit tests of the datapath reconciler. */
export class MemoryLbAttacher implements PodProgramAttacher {
  readonly attached = new Set<string>();
  failNext: Error | undefined;

  attach(netns: NetnsRef, ifname: string): void {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.attached.add(`${describeNetns(netns)}/${ifname}`);
  }

  check(netns: NetnsRef, ifname: string): string[] {
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
