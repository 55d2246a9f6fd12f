/**
 * The Service LB's tc programs against a model of what they promise, on random traffic: the real
 * egress programs (tw_lb_egress_gw of the veth mode, tw_lb_egress of the L2 modes) and
 * tw_lb_ingress, run through BPF_PROG_TEST_RUN on real pinned maps that the real LbReconciler
 * writes, while Services share backends, clients reuse a handful of ports towards several
 * Services and their backends at once (so 4-tuples clash on the wire), backends drain, come and
 * go, a Service scales to zero and back or is deleted and re-created, and the daemon restarts.
 *
 * After every packet the model checks:
 * - a new flow goes to a ready backend of its Service, or is refused only when it has none;
 * - its 4-tuple on the wire (client address and port, backend address and port) is held by no
 *   other open flow, and its client port moves only when every ready backend's tuple from its own
 *   port is taken;
 * - sessionAffinity keeps a client on its backend whenever that backend is ready and free;
 * - a direct connection to a backend from a port a Service flow holds towards it leaves from a
 *   moved port, and holds that tuple in turn;
 * - every later packet of an open flow goes to the same backend from the same port on the wire,
 *   and every answer reaches the client from the address it dialled, to its own port;
 * - an ICMP error about a flow's packet, either way, quotes that packet as its receiver sent it;
 * - every rewritten packet's checksums verify; traffic to a pod IP passes untouched.
 *
 * The traffic comes from a seeded generator (TERWAY_LB_MODEL_SEED replays a run); the programs'
 * own random draws are the kernel's. A direct connection the programs do not move is not modelled:
 * they find those in the client's socket table, and a test run has no sockets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import {
  buildFrame,
  checksumsValid,
  frameAddresses,
  TCP_FLAGS,
  type FrameProtocol,
} from '../../bench/lb-program/frames.js';
import { compatObjectPath } from '../../src/dataplane/bpf/lb-object.js';
import {
  NativeBpfMap,
  NativeBpfProgram,
  type TestRunResult,
} from '../../src/dataplane/bpf/native-bpf.js';
import {
  backendKeyOf,
  type BackendKey,
  type DesiredFrontend,
} from '../../src/lb/desired-frontend.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../../src/lb/lb-maps.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';
import { buildLbObject, LB_OBJECT, LbPins } from '../support/bpf-lab.js';
import { buildIcmpError, readIcmpError, type IcmpErrorSeen } from '../support/icmp-error-frames.js';
import { SILENT_LOG } from '../support/pool-fixture.js';
import { requireRoot } from '../support/netns.js';

requireRoot();

/** Addresses of the benchmarking range (RFC 2544): no socket of this host's uses them. */
const CLIENTS = ['198.18.0.10', '198.18.0.11'];
/** Few enough that ports towards different Services keep meeting on one backend. */
const CLIENT_PORTS = [40000, 40001, 40002, 40003, 40004];
const OTHER_POD = '198.18.0.99';
const MOVED_PORT_MIN = 61000; // TW_MOVED_PORT_MIN, lb_maps.h
const MOVED_PORT_COUNT = 4536;
const TARGET_PORT: Record<FrameProtocol, number> = { TCP: 8080, UDP: 5353 };
const SERVICE_PORT: Record<FrameProtocol, number> = { TCP: 80, UDP: 53 };
const PROTOCOLS: FrameProtocol[] = ['TCP', 'UDP'];
const TC_ACT_OK = 0;
const TC_ACT_REDIRECT = 7;
/** Flows live 30 s (UDP) to 6 h: a run must end well inside the shortest, or the model's open
 *  flows would have ended for the programs. */
const RUN_BUDGET_MS = 15_000;
/** TERWAY_LB_MODEL_OPERATIONS makes a longer run (the time budget still ends it). */
const OPERATIONS = Number(process.env.TERWAY_LB_MODEL_OPERATIONS ?? 4_000);

interface ServiceState {
  readonly name: string;
  readonly vip: string;
  readonly affinity: boolean;
  /** Deleted from the cluster (and so from the maps) until re-created. */
  deleted: boolean;
  /** Backend pod IPs; each listens on both target ports. */
  ready: string[];
  draining: string[];
}

interface ModelFlow {
  /** Undefined for a direct connection to the backend. */
  readonly service: ServiceState | undefined;
  readonly protocol: FrameProtocol;
  readonly client: string;
  readonly clientPort: number;
  readonly backend: string;
  readonly wirePort: number;
}

/** mulberry32: small, seeded, good enough to pick operations. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const SEED = Number(process.env.TERWAY_LB_MODEL_SEED ?? Date.now() % 1_000_000);

let pins: LbPins;
let maps: LbMaps;
let reconciler: LbReconciler;
let ingress: NativeBpfProgram;
const egressPrograms = new Map<EgressProgram, NativeBpfProgram>();

type EgressProgram = 'tw_lb_egress_gw' | 'tw_lb_egress';
const EGRESS_PROGRAMS: readonly EgressProgram[] = ['tw_lb_egress_gw', 'tw_lb_egress'];

/** The verdicts an egress program gives a packet it lets go: the L2 one may redirect it. */
function passes(program: EgressProgram, retval: number): boolean {
  return retval === TC_ACT_OK || (program === 'tw_lb_egress' && retval === TC_ACT_REDIRECT);
}

/**
 * Loads `build` into a pin dir of its own for the tests of one describe block, and clears what a
 * test leaves for the next.
 */
function useBuild(build: string): void {
  beforeAll(() => {
    pins = new LbPins(build);
    maps = openLbMaps(pins.dir, (path) => NativeBpfMap.openPinned(path));
    reconciler = new LbReconciler({ maps, logger: SILENT_LOG });
    for (const name of EGRESS_PROGRAMS) {
      egressPrograms.set(name, NativeBpfProgram.openPinned(pins.prog(name)));
    }
    ingress = NativeBpfProgram.openPinned(pins.prog('tw_lb_ingress'));
  });

  /** Each test starts from empty conntrack and affinity tables, and its own addresses. */
  beforeEach(() => {
    for (const map of [maps.flow, maps.reverse, maps.movedPorts, maps.affinity]) {
      const dump = map.dump();
      if (dump.count > 0) map.deleteBatch(dump.keys, dump.count);
    }
  });

  afterAll(() => {
    reconciler?.stop();
    for (const program of egressPrograms.values()) program.close();
    egressPrograms.clear();
    ingress?.close();
    if (maps !== undefined) closeLbMaps(maps);
    pins?.cleanup();
  });
}

function frontendsOf(service: ServiceState): DesiredFrontend[] {
  const keys = (ips: string[], protocol: FrameProtocol): BackendKey[] =>
    ips.map((ip) => backendKeyOf({ ip, port: TARGET_PORT[protocol] })).sort((a, b) => a - b);
  return PROTOCOLS.map((protocol) => ({
    address: { ip: service.vip, port: SERVICE_PORT[protocol], protocol },
    service: { namespace: 'model', name: service.name, portName: protocol.toLowerCase() },
    external: false,
    affinityTimeoutSeconds: service.affinity ? 10_800 : 0,
    ready: keys(service.ready, protocol),
    draining: keys(service.draining, protocol),
  }));
}

async function program(services: readonly ServiceState[]): Promise<void> {
  for (const service of services) {
    const key = `model/${service.name}`;
    if (service.deleted) reconciler.deleteService(key);
    else reconciler.replaceService(key, frontendsOf(service));
  }
  reconciler.markSynced();
  await reconciler.whenIdle();
  if (reconciler.failure !== undefined) throw reconciler.failure;
}

/**
 * terwayd restarted: a new reconciler restores its view from the live maps, is handed the
 * Services again, and deletes what none of them lists.
 */
async function restartDaemon(services: readonly ServiceState[]): Promise<void> {
  reconciler.stop();
  reconciler = new LbReconciler({ maps, logger: SILENT_LOG });
  await program(services);
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

function describeSeen(seen: Seen): string {
  return `${IP_PROTOCOL[seen.protocol] ?? seen.protocol} ${seen.src}:${seen.sport} → ${seen.dst}:${seen.dport} (retval ${seen.retval})`;
}

/**
 * The model. Its open flows are those whose 4-tuple the programs must keep: not closed, and, for
 * a Service flow, with a backend that some Service still lists.
 */
class Model {
  readonly flows: ModelFlow[] = [];
  /** `client/service/protocol` → the backend affinity remembers; absent when the model cannot tell. */
  readonly affinity = new Map<string, string>();
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
    packets: 0,
  };
  private readonly failures: string[] = [];

  constructor(
    readonly services: readonly ServiceState[],
    readonly egressName: EgressProgram,
  ) {}

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
    return egressPrograms.get(this.egressName)!.testRunFrame(frame);
  }

  ingressRun(frame: Buffer): TestRunResult {
    this.counts.packets++;
    return ingress.testRunFrame(frame);
  }
}

/** The address and port the client's socket dialled: the frontend, or the backend itself. */
function dialled(flow: ModelFlow): { ip: string; port: number } {
  return flow.service === undefined
    ? { ip: flow.backend, port: TARGET_PORT[flow.protocol] }
    : { ip: flow.service.vip, port: SERVICE_PORT[flow.protocol] };
}

function describeFlow(flow: ModelFlow): string {
  const to =
    flow.service === undefined
      ? `${flow.backend} directly`
      : `${flow.service.name} (${flow.service.vip}) on ${flow.backend}`;
  return `${flow.protocol} ${flow.client}:${flow.clientPort} → ${to}, wire port ${flow.wirePort}`;
}

/**
 * A packet of an open flow, from the client: to its backend, from its port on the wire. While its
 * Service is deleted it leaves as it is (the flow waits for the address to come back as a
 * frontend; its backend's answers are still translated).
 */
function clientPacket(model: Model, flow: ModelFlow, tcpFlags: number): void {
  const to = dialled(flow);
  const seen = model.egress(
    buildFrame({
      protocol: flow.protocol,
      src: flow.client,
      sport: flow.clientPort,
      dst: to.ip,
      dport: to.port,
      tcpFlags,
    }),
  );
  if (flow.service?.deleted) {
    model.check(
      passes(model.egressName, seen.retval) &&
        seen.dst === to.ip &&
        seen.dport === to.port &&
        seen.sport === flow.clientPort,
      () =>
        `${describeFlow(flow)}: its Service is deleted, but a client packet became ${describeSeen(seen)}`,
    );
    return;
  }
  model.check(
    passes(model.egressName, seen.retval) &&
      seen.dst === flow.backend &&
      seen.dport === TARGET_PORT[flow.protocol] &&
      seen.src === flow.client &&
      seen.sport === flow.wirePort &&
      seen.checksumsValid,
    () =>
      `${describeFlow(flow)}: a client packet (flags ${tcpFlags}) became ${describeSeen(seen)}, checksums ${seen.checksumsValid ? 'valid' : 'INVALID'}`,
  );
}

/** A packet of an open flow, from its backend: to the client's own port, from what it dialled. */
function backendPacket(model: Model, flow: ModelFlow, tcpFlags: number): void {
  const from = dialled(flow);
  const seen = model.ingress(
    buildFrame({
      protocol: flow.protocol,
      src: flow.backend,
      sport: TARGET_PORT[flow.protocol],
      dst: flow.client,
      dport: flow.wirePort,
      tcpFlags,
    }),
  );
  model.check(
    seen.retval === TC_ACT_OK &&
      seen.src === from.ip &&
      seen.sport === from.port &&
      seen.dst === flow.client &&
      seen.dport === flow.clientPort &&
      seen.checksumsValid,
    () =>
      `${describeFlow(flow)}: a backend packet (flags ${tcpFlags}) became ${describeSeen(seen)}, checksums ${seen.checksumsValid ? 'valid' : 'INVALID'}`,
  );
}

/** The answer to a new flow's first packet (a SYN-ACK, or the reply datagram), and the ACK. */
function handshake(model: Model, flow: ModelFlow): void {
  backendPacket(model, flow, flow.protocol === 'TCP' ? TCP_FLAGS.syn | TCP_FLAGS.ack : 0);
  if (flow.protocol === 'TCP') clientPacket(model, flow, TCP_FLAGS.ack);
}

function inMovedRange(port: number): boolean {
  return port - MOVED_PORT_MIN >= 0 && port - MOVED_PORT_MIN < MOVED_PORT_COUNT;
}

/** A client's new connection (TCP SYN, or a first datagram) from a port not open to that frontend. */
function open(
  model: Model,
  client: string,
  clientPort: number,
  service: ServiceState,
  protocol: FrameProtocol,
): void {
  const tuple = (backend: string, port: number) => model.holder(client, port, backend, protocol);
  const takenFromOwnPort = service.ready.filter((b) => tuple(b, clientPort) !== undefined);
  // Affinity is per client and frontend: the TCP and the UDP port each remember their own.
  const affinityKey = `${client}/${service.name}/${protocol}`;
  const remembered = service.affinity ? model.affinity.get(affinityKey) : undefined;
  const seen = model.egress(
    buildFrame({
      protocol,
      src: client,
      sport: clientPort,
      dst: service.vip,
      dport: SERVICE_PORT[protocol],
      tcpFlags: protocol === 'TCP' ? TCP_FLAGS.syn : 0,
    }),
  );
  const what = `${protocol} ${client}:${clientPort} → ${service.name} (${service.vip}, ready ${service.ready.join(' ') || 'none'})`;
  if (service.deleted) {
    // No frontend any more: the address is just an address, and the packet leaves as it is.
    model.check(
      passes(model.egressName, seen.retval) &&
        seen.dst === service.vip &&
        seen.dport === SERVICE_PORT[protocol] &&
        seen.sport === clientPort,
      () => `${what}: the Service is deleted, but its address became ${describeSeen(seen)}`,
    );
    model.counts.unserved++;
    return;
  }
  if (seen.dst === client) {
    // Turned back to the client: a reset, or ICMP port unreachable.
    model.counts.refused++;
    model.check(
      service.ready.length === 0,
      () => `${what}: refused (${describeSeen(seen)}) with ready backends`,
    );
    model.check(
      protocol === 'TCP' ? (seen.tcpFlags & TCP_FLAGS.rst) !== 0 : seen.protocol === 1,
      () => `${what}: refused with ${describeSeen(seen)}, neither a reset nor ICMP`,
    );
    return;
  }
  const backend = seen.dst;
  const wirePort = seen.sport;
  model.check(
    service.ready.length > 0,
    () => `${what}: balanced to ${describeSeen(seen)} with no ready backend`,
  );
  model.check(
    passes(model.egressName, seen.retval) &&
      service.ready.includes(backend) &&
      seen.dport === TARGET_PORT[protocol],
    () => `${what}: went to ${describeSeen(seen)}, not a ready backend`,
  );
  model.check(seen.checksumsValid, () => `${what}: ${describeSeen(seen)} with invalid checksums`);
  const holder = tuple(backend, wirePort);
  model.check(
    holder === undefined,
    () =>
      `${what}: took ${client}:${wirePort} → ${backend}, the 4-tuple of ${describeFlow(holder!)}`,
  );
  if (wirePort !== clientPort) {
    model.counts.moved++;
    model.check(
      inMovedRange(wirePort),
      () => `${what}: moved to port ${wirePort}, outside the moved range`,
    );
    // Moved only when no ready backend was free from the client's own port (up to four are
    // tried, and no Service here has more than four).
    model.check(
      takenFromOwnPort.length === service.ready.length,
      () =>
        `${what}: moved to ${wirePort} though ${service.ready.filter((b) => !takenFromOwnPort.includes(b)).join(' ')} was free from ${clientPort}`,
    );
  } else if (takenFromOwnPort.length > 0) {
    model.counts.contended++;
  }
  if (service.affinity) {
    const rememberedFree =
      remembered !== undefined &&
      service.ready.includes(remembered) &&
      tuple(remembered, clientPort) === undefined;
    if (rememberedFree) {
      model.check(
        backend === remembered && wirePort === clientPort,
        () =>
          `${what}: affinity remembers ${remembered}, free from ${clientPort}, but it went to ${describeSeen(seen)}`,
      );
    }
    // Affinity records the random draw, before its tuple is checked. With no tuple taken, the
    // draw is the backend seen; after a clash the model cannot tell which was drawn first, so it
    // stops predicting until the next clean draw.
    const drew = remembered === undefined || !service.ready.includes(remembered);
    if (drew && takenFromOwnPort.length === 0) model.affinity.set(affinityKey, backend);
    else if (drew) model.affinity.delete(affinityKey);
  }
  const flow: ModelFlow = { service, protocol, client, clientPort, backend, wirePort };
  model.flows.push(flow);
  model.counts.opened++;
  handshake(model, flow);
}

/**
 * A direct connection to the backend of an open Service flow, from the port that flow holds
 * towards it: the programs must move it, or the two would be one 4-tuple on the wire.
 */
function openDirect(model: Model, over: ModelFlow): void {
  const { client, wirePort: clientPort, backend, protocol } = over;
  const seen = model.egress(
    buildFrame({
      protocol,
      src: client,
      sport: clientPort,
      dst: backend,
      dport: TARGET_PORT[protocol],
      tcpFlags: protocol === 'TCP' ? TCP_FLAGS.syn : 0,
    }),
  );
  const what = `${protocol} ${client}:${clientPort} → ${backend} directly, over ${describeFlow(over)}`;
  model.check(
    passes(model.egressName, seen.retval) &&
      seen.src === client &&
      seen.dst === backend &&
      seen.dport === TARGET_PORT[protocol] &&
      inMovedRange(seen.sport) &&
      seen.checksumsValid,
    () => `${what}: became ${describeSeen(seen)}, not moved off the held port`,
  );
  if (!inMovedRange(seen.sport)) return;
  const holder = model.holder(client, seen.sport, backend, protocol);
  model.check(
    holder === undefined,
    () => `${what}: moved to ${seen.sport}, the 4-tuple of ${describeFlow(holder!)}`,
  );
  const flow: ModelFlow = {
    service: undefined,
    protocol,
    client,
    clientPort,
    backend,
    wirePort: seen.sport,
  };
  model.flows.push(flow);
  model.counts.direct++;
  handshake(model, flow);
}

function describeIcmp(retval: number, seen: IcmpErrorSeen): string {
  const { quoted: q } = seen;
  return `ICMP ${seen.src} → ${seen.dst} about ${q.src}:${q.sport} → ${q.dst}:${q.dport} (retval ${retval}, checksums ${seen.checksumsValid ? 'valid' : 'INVALID'})`;
}

/**
 * ICMP errors about an open flow's packets, both ways (a port unreachable each): each must reach
 * its receiver naming the packet as that side sent it, or the kernel finds no socket to tell.
 * Errors are translated whatever became of the frontend: the flow is what they are about.
 */
function icmpErrors(model: Model, flow: ModelFlow): void {
  const to = dialled(flow);
  const target = TARGET_PORT[flow.protocol];
  // From the backend, about the client's packet as it arrived there.
  const up = model.ingressRun(
    buildIcmpError({
      src: flow.backend,
      dst: flow.client,
      quoted: {
        protocol: flow.protocol,
        src: flow.client,
        sport: flow.wirePort,
        dst: flow.backend,
        dport: target,
      },
    }),
  );
  const fromBackend = readIcmpError(up.frame);
  model.check(
    up.retval === TC_ACT_OK &&
      fromBackend.protocol === 1 &&
      fromBackend.src === to.ip &&
      fromBackend.dst === flow.client &&
      fromBackend.quoted.src === flow.client &&
      fromBackend.quoted.sport === flow.clientPort &&
      fromBackend.quoted.dst === to.ip &&
      fromBackend.quoted.dport === to.port &&
      fromBackend.checksumsValid,
    () =>
      `${describeFlow(flow)}: the backend's ICMP error became ${describeIcmp(up.retval, fromBackend)}`,
  );
  // From the client, about the backend's packet as it arrived there.
  const down = model.egressRun(
    buildIcmpError({
      src: flow.client,
      dst: to.ip,
      quoted: {
        protocol: flow.protocol,
        src: to.ip,
        sport: to.port,
        dst: flow.client,
        dport: flow.clientPort,
      },
    }),
  );
  const fromClient = readIcmpError(down.frame);
  model.check(
    passes(model.egressName, down.retval) &&
      fromClient.protocol === 1 &&
      fromClient.src === flow.client &&
      fromClient.dst === flow.backend &&
      fromClient.quoted.src === flow.backend &&
      fromClient.quoted.sport === target &&
      fromClient.quoted.dst === flow.client &&
      fromClient.quoted.dport === flow.wirePort &&
      fromClient.checksumsValid,
    () =>
      `${describeFlow(flow)}: the client's ICMP error became ${describeIcmp(down.retval, fromClient)}`,
  );
  model.counts.icmp++;
}

/** Both sides close a TCP flow, or the client resets it; its tuple is free from then on. */
function closeFlow(model: Model, flow: ModelFlow, random: () => number): void {
  const roll = random();
  if (roll < 0.2) {
    clientPacket(model, flow, TCP_FLAGS.rst);
  } else if (roll < 0.6) {
    clientPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    backendPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    clientPacket(model, flow, TCP_FLAGS.ack);
  } else {
    backendPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    clientPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    backendPacket(model, flow, TCP_FLAGS.ack);
  }
  model.close(flow);
}

/**
 * The control plane moves: a drain or its end, a backend removed or added, scale to zero, the
 * Service deleted or re-created.
 */
function changeBackends(
  model: Model,
  service: ServiceState,
  random: () => number,
  freshBackend: () => string,
): void {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const { services } = model;
  if (service.deleted) {
    service.deleted = false;
    service.ready = [freshBackend()];
    return;
  }
  const roll = random();
  if (roll < 0.05) {
    // Its flows keep their 4-tuples and backends, and go on once the address is a frontend
    // again. A re-created frontend may get another id, so what affinity remembered is the
    // model's to forget.
    service.deleted = true;
    service.ready = [];
    service.draining = [];
    for (const key of [...model.affinity.keys()]) {
      if (key.startsWith(`${service.name}/`, key.indexOf('/') + 1)) model.affinity.delete(key);
    }
    return;
  }
  const listed = [...service.ready, ...service.draining];
  if (roll < 0.4 && service.ready.length > 0) {
    const backend = pick(service.ready);
    service.ready = service.ready.filter((b) => b !== backend);
    service.draining = [...service.draining, backend];
  } else if (roll < 0.6 && service.draining.length > 0) {
    const backend = pick(service.draining);
    service.draining = service.draining.filter((b) => b !== backend);
    service.ready = [...service.ready, backend];
  } else if (roll < 0.75 && listed.length > 0) {
    const backend = pick(listed);
    service.ready = service.ready.filter((b) => b !== backend);
    service.draining = service.draining.filter((b) => b !== backend);
  } else if (roll < 0.95 && service.ready.length < 4) {
    // A backend another Service has, or a new pod.
    const elsewhere = services.flatMap((s) => s.ready).filter((b) => !listed.includes(b));
    service.ready = [
      ...service.ready,
      elsewhere.length > 0 && random() < 0.5 ? pick(elsewhere) : freshBackend(),
    ];
  } else if (roll >= 0.95) {
    service.draining = [...service.draining, ...service.ready];
    service.ready = [];
  }
}

/**
 * Both builds, each on this kernel: the one it loads, and the one for kernels without
 * bpf_cast_to_kern_ctx (its gate bits set under a spin lock, its own clock), which terwayd loads
 * on Linux 5.10 to 6.1.
 */
const BUILDS: readonly [string, string][] = [
  ['lb.o', LB_OBJECT],
  ['lb-compat.o', compatObjectPath(LB_OBJECT)],
];

beforeAll(() => {
  buildLbObject();
});

describe.each(BUILDS)('%s', (_name, build) => {
  useBuild(build);

  describe.each(EGRESS_PROGRAMS)('%s and tw_lb_ingress', (egressName) => {
    test(
      'random traffic over shared backends, clashing client ports, direct connections, drains, removals and scale-to-zero keeps every promise of the programs',
      async () => {
        const random = generator(SEED);
        const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
        // Addresses of this test's own: the maps keep what the other program's test programmed.
        const net = EGRESS_PROGRAMS.indexOf(egressName) + 1;
        const backendBase = ipToInt(`198.18.${16 * net}.0`);
        let nextBackend = 1;
        const freshBackend = () => intToIp(backendBase + nextBackend++);
        const services: ServiceState[] = ['a', 'b', 'c'].map((name, index) => ({
          name,
          vip: `198.19.${net}.${10 + index}`,
          affinity: name === 'c',
          deleted: false,
          ready: [],
          draining: [],
        }));
        const [b1, b2, b3] = [freshBackend(), freshBackend(), freshBackend()];
        services[0]!.ready = [b1, b2, b3];
        services[1]!.ready = [b2, b3];
        services[2]!.ready = [b1, b3];
        await program(services);
        const model = new Model(services, egressName);

        const started = Date.now();
        let operations = 0;
        for (; operations < OPERATIONS && Date.now() - started < RUN_BUDGET_MS; operations++) {
          const roll = random();
          if (roll < 0.45) {
            const client = pick(CLIENTS);
            const port = pick(CLIENT_PORTS);
            const service = pick(services);
            const protocol = pick(PROTOCOLS);
            if (model.flowOf(client, port, service, protocol) === undefined) {
              open(model, client, port, service, protocol);
            }
          } else if (roll < 0.64) {
            if (model.flows.length === 0) continue;
            const flow = pick(model.flows);
            clientPacket(model, flow, TCP_FLAGS.ack);
            backendPacket(model, flow, TCP_FLAGS.ack);
          } else if (roll < 0.68) {
            if (model.flows.length > 0) icmpErrors(model, pick(model.flows));
          } else if (roll < 0.8) {
            // Not one whose Service is deleted: the programs would not see the client's FIN.
            const tcp = model.flows.filter((f) => f.protocol === 'TCP' && !f.service?.deleted);
            if (tcp.length > 0) closeFlow(model, pick(tcp), random);
          } else if (roll < 0.85) {
            // From a port an open Service flow holds towards its backend, not yet dialled directly.
            const held = model.flows.filter(
              (f) =>
                f.service !== undefined &&
                f.wirePort === f.clientPort &&
                model.flowOf(f.client, f.clientPort, undefined, f.protocol, f.backend) ===
                  undefined,
            );
            if (held.length > 0) openDirect(model, pick(held));
          } else if (roll < 0.88) {
            // Traffic to a pod that backs nothing: left alone.
            const client = pick(CLIENTS);
            const protocol = pick(PROTOCOLS);
            const seen = model.egress(
              buildFrame({
                protocol,
                src: client,
                sport: 50000,
                dst: OTHER_POD,
                dport: TARGET_PORT[protocol],
              }),
            );
            model.check(
              seen.retval === TC_ACT_OK && seen.dst === OTHER_POD && seen.sport === 50000,
              () => `traffic to a pod IP became ${describeSeen(seen)}`,
            );
          } else if (roll < 0.883) {
            // Rare: a restart reads the maps back, some 50 ms.
            await restartDaemon(services);
            model.counts.restarts++;
          } else {
            changeBackends(model, pick(services), random, freshBackend);
            await program(services);
            model.forgetUnlisted();
          }
        }

        // The seed beside the problems: a failure names the run to replay.
        expect({ seed: SEED, problems: model.problems }).toEqual({ seed: SEED, problems: [] });
        // The run exercised what it is for: enough traffic, and every path it checks.
        expect(operations).toBeGreaterThan(OPERATIONS / 4);
        expect(model.counts.opened).toBeGreaterThan(100);
        expect(model.counts.moved + model.counts.contended).toBeGreaterThan(0);
        expect(model.counts.direct).toBeGreaterThan(0);
        expect(model.counts.refused).toBeGreaterThan(0);
        expect(model.counts.unserved).toBeGreaterThan(0);
        expect(model.counts.restarts).toBeGreaterThan(0);
        expect(model.counts.icmp).toBeGreaterThan(0);
      },
      RUN_BUDGET_MS + 30_000,
    );
  });

  test('a flow restarted on another backend leaves alone the reverse entry another flow has taken from its old 4-tuple', async () => {
    // A client port's flow to one Service ends; a flow to another Service with the same backend
    // then takes that 4-tuple; the first flow's next connection, finding it held, goes to another
    // backend. Replacing its old flow entry must not delete the reverse entry the second flow owns.
    const [backend, other] = ['198.18.64.1', '198.18.64.2'];
    const first: ServiceState = {
      name: 'first',
      vip: '198.19.64.10',
      affinity: false,
      deleted: false,
      ready: [backend],
      draining: [],
    };
    const second: ServiceState = { ...first, name: 'second', vip: '198.19.64.11' };
    const third: ServiceState = { ...first, name: 'third', vip: '198.19.64.12' };
    const services = [first, second, third];
    await program(services);
    const model = new Model(services, 'tw_lb_egress_gw');
    const [client] = CLIENTS as [string];
    const port = CLIENT_PORTS[0]!;

    open(model, client, port, first, 'TCP');
    closeFlow(model, model.flowOf(client, port, first, 'TCP')!, () => 0.5);
    open(model, client, port, second, 'TCP');
    const taker = model.flowOf(client, port, second, 'TCP')!;
    expect(taker).toMatchObject({ backend, wirePort: port });

    first.ready = [backend, other];
    await program(services);
    open(model, client, port, first, 'TCP');
    expect(model.flowOf(client, port, first, 'TCP')).toMatchObject({
      backend: other,
      wirePort: port,
    });
    // The second flow's answers are still its own, and its 4-tuple is still held: a third
    // Service's flow from the same port to the same backend leaves from a moved port.
    backendPacket(model, taker, TCP_FLAGS.ack);
    clientPacket(model, taker, TCP_FLAGS.ack);
    open(model, client, port, third, 'TCP');
    expect(model.problems).toEqual([]);
    expect(model.counts.moved).toBe(1);
  });
});
