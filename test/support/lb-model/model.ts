/**
 * The model the Service LB's programs are checked against (test/netns/lb-program-model.test.ts):
 * the Services as the control plane holds them, the flows the programs must keep, and what a packet
 * looked like after a program ran on it.
 */
import {
  checksumsValid,
  frameAddresses,
  type FrameProtocol,
} from '../../../bench/lb-program/frames.js';
import type { TestRunResult } from '../../../src/dataplane/bpf/native-bpf.js';

/** Addresses of the benchmarking range (RFC 2544): no socket of this host's uses them. */
export const CLIENTS = ['198.18.0.10', '198.18.0.11'];
/** Few enough that ports towards different Services keep meeting on one backend. */
export const CLIENT_PORTS = [40000, 40001, 40002, 40003, 40004];
export const OTHER_POD = '198.18.0.99';
const MOVED_PORT_MIN = 61000; // TW_MOVED_PORT_MIN, lb_maps.h
const MOVED_PORT_COUNT = 4536;
export const TARGET_PORT: Record<FrameProtocol, number> = { TCP: 8080, UDP: 5353 };
export const SERVICE_PORT: Record<FrameProtocol, number> = { TCP: 80, UDP: 53 };
export const PROTOCOLS: FrameProtocol[] = ['TCP', 'UDP'];
export const TC_ACT_OK = 0;
const TC_ACT_REDIRECT = 7;

export interface ServiceState {
  readonly name: string;
  readonly vip: string;
  readonly affinity: boolean;
  /** Deleted from the cluster (and so from the maps) until re-created. */
  deleted: boolean;
  /** Backend pod IPs; each listens on both target ports. */
  ready: string[];
  draining: string[];
}

export interface ModelFlow {
  /** Undefined for a direct connection to the backend. */
  readonly service: ServiceState | undefined;
  readonly protocol: FrameProtocol;
  readonly client: string;
  readonly clientPort: number;
  readonly backend: string;
  readonly wirePort: number;
}

/** The programs under test, each run once on a frame (BPF_PROG_TEST_RUN). */
export interface ModelPrograms {
  egress(frame: Buffer): TestRunResult;
  ingress(frame: Buffer): TestRunResult;
  /** The L2 egress program hands what it translates to bpf_redirect_neigh (TC_ACT_REDIRECT). */
  readonly egressMayRedirect: boolean;
}

interface Seen {
  retval: number;
  protocol: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  tcpFlags: number;
  checksumsValid: boolean;
}

const IP_PROTOCOL: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP' };

function seenOf({ retval, frame: out }: TestRunResult): Seen {
  const protocol = out[14 + 9] ?? 0;
  const addresses = frameAddresses(out);
  return {
    retval,
    protocol,
    ...addresses,
    tcpFlags: protocol === 6 ? (out[14 + 20 + 13] ?? 0) : 0,
    checksumsValid: protocol === 1 || checksumsValid(out),
  };
}

export function describeSeen(seen: Seen): string {
  return `${IP_PROTOCOL[seen.protocol] ?? seen.protocol} ${seen.src}:${seen.sport} → ${seen.dst}:${seen.dport} (retval ${seen.retval})`;
}

/**
 * The model. Its open flows are those whose 4-tuple the programs must keep: not closed, and, for
 * a Service flow, with a backend that some Service still lists.
 */
export class Model {
  readonly flows: ModelFlow[] = [];
  /**
   * Service name → `client/protocol` → the backend affinity remembers (per client and frontend:
   * the TCP and the UDP port each remember their own); absent when the model cannot tell.
   */
  private readonly affinity = new Map<string, Map<string, string>>();
  /**
   * `contended`: new flows from a port whose tuple towards one of the ready backends was taken,
   * so the programs had to look past it (or might have, had they drawn it).
   */
  readonly counts = {
    opened: 0,
    moved: 0,
    contended: 0,
    refused: 0,
    direct: 0,
    /** New connections to a deleted Service's address. */
    unserved: 0,
    restarts: 0,
    icmp: 0,
    /** UDP flows whose time was made up (the test ages their entries). */
    expired: 0,
    packets: 0,
  };
  private readonly failures: string[] = [];

  constructor(
    readonly services: readonly ServiceState[],
    private readonly programs: ModelPrograms,
  ) {}

  /** Whether an egress verdict lets the packet go: the L2 program may redirect it. */
  passes(retval: number): boolean {
    return retval === TC_ACT_OK || (this.programs.egressMayRedirect && retval === TC_ACT_REDIRECT);
  }

  check(ok: boolean, what: () => string): void {
    if (!ok && this.failures.length < 20) this.failures.push(what());
  }

  get problems(): readonly string[] {
    return this.failures;
  }

  /** The open flow of this client socket, if any. */
  flowOf(
    client: string,
    port: number,
    service: ServiceState | undefined,
    protocol: FrameProtocol,
    backend?: string,
  ): ModelFlow | undefined {
    return this.flows.find(
      (f) =>
        f.client === client &&
        f.clientPort === port &&
        f.service === service &&
        f.protocol === protocol &&
        (service !== undefined || f.backend === backend),
    );
  }

  /** The open flow whose 4-tuple on the wire this is, if any. */
  holder(
    client: string,
    wirePort: number,
    backend: string,
    protocol: FrameProtocol,
  ): ModelFlow | undefined {
    return this.flows.find(
      (f) =>
        f.client === client &&
        f.wirePort === wirePort &&
        f.backend === backend &&
        f.protocol === protocol,
    );
  }

  /** What affinity remembers for `service`'s clients, as the model knows it. */
  affinityOf(service: ServiceState): Map<string, string> {
    let remembered = this.affinity.get(service.name);
    if (remembered === undefined) {
      remembered = new Map();
      this.affinity.set(service.name, remembered);
    }
    return remembered;
  }

  /** A re-created frontend may get another id: what affinity remembered is past knowing. */
  forgetAffinity(service: ServiceState): void {
    this.affinity.delete(service.name);
  }

  listed(backend: string): boolean {
    return this.services.some((s) => s.ready.includes(backend) || s.draining.includes(backend));
  }

  /**
   * A backend no Service lists is deleted from the maps: its Service flows end with it. A direct
   * connection is the client's own, and outlives it.
   */
  forgetUnlisted(): void {
    for (let i = this.flows.length - 1; i >= 0; i--) {
      const flow = this.flows[i]!;
      if (flow.service !== undefined && !this.listed(flow.backend)) this.flows.splice(i, 1);
    }
  }

  close(flow: ModelFlow): void {
    this.flows.splice(this.flows.indexOf(flow), 1);
  }

  egress(frame: Buffer): Seen {
    return seenOf(this.egressRun(frame));
  }

  ingress(frame: Buffer): Seen {
    return seenOf(this.ingressRun(frame));
  }

  egressRun(frame: Buffer): TestRunResult {
    this.counts.packets++;
    return this.programs.egress(frame);
  }

  ingressRun(frame: Buffer): TestRunResult {
    this.counts.packets++;
    return this.programs.ingress(frame);
  }
}

/** The address and port the client's socket dialled: the frontend, or the backend itself. */
export function dialled(flow: ModelFlow): { ip: string; port: number } {
  return flow.service === undefined
    ? { ip: flow.backend, port: TARGET_PORT[flow.protocol] }
    : { ip: flow.service.vip, port: SERVICE_PORT[flow.protocol] };
}

export function describeFlow(flow: ModelFlow): string {
  const to =
    flow.service === undefined
      ? `${flow.backend} directly`
      : `${flow.service.name} (${flow.service.vip}) on ${flow.backend}`;
  return `${flow.protocol} ${flow.client}:${flow.clientPort} → ${to}, wire port ${flow.wirePort}`;
}

export function inMovedRange(port: number): boolean {
  return port - MOVED_PORT_MIN >= 0 && port - MOVED_PORT_MIN < MOVED_PORT_COUNT;
}
