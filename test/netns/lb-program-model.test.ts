/**
 * The Service LB's tc programs against a model of what they promise, on random traffic: the real
 * egress programs (tw_lb_egress_gw of the veth mode, tw_lb_egress of the L2 modes) and
 * tw_lb_ingress, run through BPF_PROG_TEST_RUN on real pinned maps that the real LbReconciler
 * writes, while Services share backends, clients reuse a handful of ports towards several
 * Services and their backends at once (so 4-tuples clash on the wire), backends drain, come and
 * go, a Service scales to zero and back or is deleted and re-created, UDP flows expire, and the
 * daemon restarts.
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
 * - while a Service is deleted, its flows keep their tuples, their client packets leave as they
 *   are and their answers are still translated, and new connections to its address are left alone;
 * - every rewritten packet's checksums verify; traffic to a pod IP passes untouched.
 *
 * The traffic comes from a seeded generator (TERWAY_LB_MODEL_SEED replays a run); the programs'
 * own random draws are the kernel's. A direct connection the programs do not move is not modelled:
 * they find those in the client's socket table, and a test run has no sockets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { buildFrame, TCP_FLAGS } from '../../bench/lb-program/frames.js';
import { compatObjectPath } from '../../src/dataplane/bpf/lb-object.js';
import { NativeBpfMap, NativeBpfProgram } from '../../src/dataplane/bpf/native-bpf.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../../src/lb/lb-maps.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { FLOW } from '../../src/lb/maps/lb-layouts.js';
import { decode, encode } from '../../src/lb/maps/struct-codec.js';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';
import { buildLbObject, flowKey, LB_OBJECT, LbPins, UDP } from '../support/bpf-lab.js';
import {
  CLIENT_PORTS,
  CLIENTS,
  describeFlow,
  describeSeen,
  dialled,
  Model,
  OTHER_POD,
  PROTOCOLS,
  TARGET_PORT,
  TC_ACT_OK,
  type ModelFlow,
  type ModelPrograms,
  type ServiceState,
} from '../support/lb-model/model.js';
import { changeService, frontendsOf } from '../support/lb-model/services.js';
import {
  backendPacket,
  clientPacket,
  closeFlow,
  icmpErrors,
  open,
  openDirect,
} from '../support/lb-model/traffic.js';
import { LbClaims } from '../support/lb-claims.js';
import { SILENT_LOG } from '../support/pool-fixture.js';
import { requireRoot } from '../support/netns.js';
import { seededRandom } from '../support/seeded-random.js';

requireRoot();

/** Flows live 30 s (UDP) to 6 h: a run must end well inside the shortest, or the model's open
 *  flows would have ended for the programs. */
const RUN_BUDGET_MS = 15_000;
/** TERWAY_LB_MODEL_OPERATIONS makes a longer run (the time budget still ends it). */
const OPERATIONS = Number(process.env.TERWAY_LB_MODEL_OPERATIONS ?? 4_000);

const SEED = Number(process.env.TERWAY_LB_MODEL_SEED ?? Date.now() % 1_000_000);

let pins: LbPins;
let maps: LbMaps;
let reconciler: LbReconciler;
let ingress: NativeBpfProgram;
/** The programs' claims on 4-tuples and flow keys (lb.c): each lasts one program run. */
let claims: LbClaims | undefined;
const egressPrograms = new Map<EgressProgram, NativeBpfProgram>();

type EgressProgram = 'tw_lb_egress_gw' | 'tw_lb_egress';
const EGRESS_PROGRAMS: readonly EgressProgram[] = ['tw_lb_egress_gw', 'tw_lb_egress'];

/** The loaded programs, with `egressName` as the egress one. */
function programsFor(egressName: EgressProgram): ModelPrograms {
  return {
    egress: (frame) => egressPrograms.get(egressName)!.testRunFrame(frame),
    ingress: (frame) => ingress.testRunFrame(frame),
    egressMayRedirect: egressName === 'tw_lb_egress',
  };
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
    claims = LbClaims.open((name) => pins.map(name));
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
    claims?.close();
    claims = undefined;
    if (maps !== undefined) closeLbMaps(maps);
    pins?.cleanup();
  });
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

/** Past every lifetime lb.c gives a UDP flow (30 s, 60 s for a stream). */
const UDP_EXPIRED_NS = 61n * 1_000_000_000n;

/**
 * A UDP flow's time is up: its entry's packets are put 61 s back, as if it had been quiet that
 * long (the programs read CLOCK_MONOTONIC, as process.hrtime does). From then on it holds nothing,
 * and the client sends nothing more on it.
 */
function expire(model: Model, flow: ModelFlow): void {
  const to = dialled(flow);
  const key = flowKey({
    clientAddr: flow.client,
    frontendAddr: to.ip,
    clientPort: flow.clientPort,
    frontendPort: to.port,
    proto: UDP,
  });
  const entry = maps.flow.lookup(key);
  model.check(entry !== undefined, () => `${describeFlow(flow)}: no entry in the flow map`);
  if (entry === undefined) return;
  const past = process.hrtime.bigint() - UDP_EXPIRED_NS;
  const flowEntry = decode(FLOW, entry);
  maps.flow.updateBatch(
    key,
    encode(FLOW, { ...flowEntry, firstSeenNs: past, lastSeenNs: past }),
    1,
  );
  model.close(flow);
  model.counts.expired++;
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
      'random traffic over shared backends and clashing client ports, with direct connections, ICMP errors, drains, removals, scale-to-zero, deleted Services, expired flows and daemon restarts, keeps every promise of the programs',
      async () => {
        const random = seededRandom(SEED);
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
        const model = new Model(services, programsFor(egressName));

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
          } else if (roll < 0.78) {
            // Not one whose Service is deleted: the programs would not see the client's FIN.
            const tcp = model.flows.filter((f) => f.protocol === 'TCP' && !f.service?.deleted);
            if (tcp.length > 0) closeFlow(model, pick(tcp), random);
          } else if (roll < 0.8) {
            // UDP has no close: its flows end when their time is up.
            const udp = model.flows.filter((f) => f.protocol === 'UDP');
            if (udp.length > 0) expire(model, pick(udp));
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
            changeService(model, pick(services), random, freshBackend);
            await program(services);
            model.forgetUnlisted();
          }
          model.check(
            claims!.noneHeld(),
            () =>
              `operation ${operations}: a claim outlived the program run that took it ` +
              JSON.stringify(claims!.held()),
          );
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
        expect(model.counts.expired).toBeGreaterThan(0);
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
    const model = new Model(services, programsFor('tw_lb_egress_gw'));
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
