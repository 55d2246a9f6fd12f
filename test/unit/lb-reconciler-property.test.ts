/**
 * The reconciler against a model, over random histories: Services replaced and deleted, ClusterIPs
 * contested by two Services, batch writes that fail (once or several times in a row), rebuilds
 * whose reads of the maps fail too, daemon restarts that may land right after a failed pass,
 * before its retry, and connections made to programmed frontends, which live until time moves on.
 * Whenever the reconciler is idle, the maps must hold exactly what the model says: every desired
 * frontend with its ready backends, no backend entry, gate bit or slot that nothing desires, and
 * nothing missing; and no frontend may hold an id a live connection made to another frontend (or
 * to an earlier frontend of the same address) still counts under.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import pino from 'pino';

import { BPF_ANY, type BpfUpdateFlags } from '../../src/dataplane/bpf/bpf-maps.js';
import {
  BACKEND_PORT_SPACE,
  formatBackend,
  frontendKey,
  type BackendKey,
  type DesiredFrontend,
  type LbProtocol,
} from '../../src/lb/desired-frontend.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { readLbTable } from '../../src/lb/lb-table.js';
import { gateBit } from '../../src/lb/maps/key-gate.js';
import { ARRAY_INDEX, COUNTERS, FRONTEND } from '../../src/lb/maps/lb-layouts.js';
import { readBackend } from '../../src/lb/maps/shared-array.js';
import { decode, encode } from '../../src/lb/maps/struct-codec.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { protocolNumber } from '../../src/lb/programmed-state.js';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';
import { backends } from '../support/desired-frontends.js';
import { flowEntry } from '../support/lb-flows.js';

const log = pino({ level: 'silent' });

const SERVICES = ['a', 'b', 'c'] as const;
const FRONTEND_IPS = ['10.96.0.1', '10.96.0.2', '10.96.0.3'];
const BACKEND_IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'];
/** Ids, slots and gate words past these are never used by histories this small. */
const BACKEND_IDS_SCANNED = 256;
const SLOT_WORDS_SCANNED = 8192;

type Maps = ReturnType<typeof memoryLbMaps>;

interface FrontendSpec {
  ip: string;
  port: number;
  protocol: LbProtocol;
  ready: string[];
  draining: string[];
  affinityTimeoutSeconds: number;
  external: boolean;
}

type Action =
  | { kind: 'replace'; service: number; frontends: FrontendSpec[] }
  | { kind: 'delete'; service: number }
  | { kind: 'settle' }
  | { kind: 'tick' }
  | { kind: 'fail'; batch: 'update' | 'delete'; times: number }
  | { kind: 'failReads'; times: number }
  | { kind: 'restart' }
  | { kind: 'connect'; frontend: number }
  | { kind: 'expire' };

const frontendArb: fc.Arbitrary<FrontendSpec> = fc.record({
  ip: fc.constantFrom(...FRONTEND_IPS),
  port: fc.constantFrom(80, 53),
  protocol: fc.constantFrom<LbProtocol>('TCP', 'UDP'),
  ready: fc.subarray(BACKEND_IPS),
  draining: fc.subarray(BACKEND_IPS),
  affinityTimeoutSeconds: fc.constantFrom(0, 30),
  external: fc.boolean(),
});

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('replace' as const),
      service: fc.nat(SERVICES.length - 1),
      frontends: fc.uniqueArray(frontendArb, {
        maxLength: 3,
        selector: (spec) => `${spec.ip}:${spec.port}/${spec.protocol}`,
      }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      service: fc.nat(SERVICES.length - 1),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'tick' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fail' as const),
      batch: fc.constantFrom<'update' | 'delete'>('update', 'delete'),
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('failReads' as const),
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('connect' as const), frontend: fc.nat(5) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) },
);

/** Longer than any flow lives (an established TCP flow: 6 h of silence). */
const FLOWS_EXPIRE_NS = 7n * 3600n * 10n ** 9n;

/** A connection the program counts under the frontend id it was made through. */
interface Connection {
  readonly frontendId: number;
  /** The frontend's key when the connection was made. */
  readonly frontend: string;
  /** Seen without that frontend: from then on no frontend may hold its id. */
  orphaned: boolean;
}

/**
 * Makes a connection through the `pick`-th frontend the maps hold (if any): a conntrack entry
 * under its id, counted in the id's `flows`, as the program writes one.
 */
function connect(maps: Maps, pick: number, nowNs: bigint, port: number): Connection | undefined {
  const rows = readLbTable(maps);
  if (rows.length === 0) return undefined;
  const row = rows[pick % rows.length]!;
  const { key, value } = flowEntry({
    frontendId: row.id,
    protocol: row.frontend.protocol,
    state: 'established',
    lastSeenNs: nowNs,
    clientPort: port,
  });
  maps.flow.updateBatch(key, value, 1);
  const index = encode(ARRAY_INDEX, { index: row.id });
  const counters = decode(COUNTERS, maps.frontendStats.lookup(index)!);
  maps.frontendStats.updateBatch(
    index,
    encode(COUNTERS, { ...counters, flows: counters.flows + 1n }),
    1,
  );
  return { frontendId: row.id, frontend: frontendKey(row.frontend), orphaned: false };
}

/** No frontend holds the id of a live connection made through another one. */
function expectNoConnectionCountedElsewhere(maps: Maps, live: Connection[]): void {
  const holder = new Map(readLbTable(maps).map((row) => [row.id, frontendKey(row.frontend)]));
  for (const connection of live) {
    const held = holder.get(connection.frontendId);
    if (!connection.orphaned && held === connection.frontend) continue;
    expect({ ...connection, heldBy: held }).toEqual({ ...connection, heldBy: undefined });
    connection.orphaned = true;
  }
}

function serviceName(index: number): string {
  return `default/${SERVICES[index]!}`;
}

/** As translation builds them: ready and draining disjoint and ascending, the Service named. */
function desiredOf(service: number, spec: FrontendSpec): DesiredFrontend {
  const ascending = (ips: string[]): BackendKey[] => backends(...ips).sort((x, y) => x - y);
  return {
    address: { ip: spec.ip, port: spec.port, protocol: spec.protocol },
    service: { namespace: 'default', name: SERVICES[service]!, portName: 'http' },
    external: spec.external,
    affinityTimeoutSeconds: spec.affinityTimeoutSeconds,
    ready: ascending(spec.ready),
    draining: ascending(spec.draining.filter((ip) => !spec.ready.includes(ip))),
  };
}

/**
 * What the reconciler is asked to hold, by the rules of DesiredStateSink: a Service's frontends
 * are its latest list; a frontend listed by two Services is the one delivered last, and a Service
 * dropping it removes it only if it is still that Service's.
 */
class Model {
  /** Each Service's latest list, in first-delivery order: a restarted source replays it so. */
  readonly lists = new Map<string, DesiredFrontend[]>();
  readonly desired = new Map<string, DesiredFrontend>();

  replace(service: string, frontends: DesiredFrontend[]): void {
    const previous = this.lists.get(service) ?? [];
    for (const frontend of frontends) this.desired.set(frontendKey(frontend.address), frontend);
    const kept = new Set(frontends.map((frontend) => frontendKey(frontend.address)));
    for (const frontend of previous) {
      const key = frontendKey(frontend.address);
      const held = this.desired.get(key);
      if (kept.has(key) || held === undefined) continue;
      if (`${held.service.namespace}/${held.service.name}` === service) this.desired.delete(key);
    }
    if (frontends.length === 0) this.lists.delete(service);
    else this.lists.set(service, frontends);
  }

  /** What a restarted daemon's source delivers, and so what the model becomes. */
  replay(): [string, DesiredFrontend[]][] {
    const lists = [...this.lists];
    this.lists.clear();
    this.desired.clear();
    for (const [service, frontends] of lists) this.replace(service, frontends);
    return lists;
  }
}

/** Makes the next `times` batch calls of one kind on the frontend hash throw, as a kernel might. */
function injectFailures(maps: Maps, batch: 'update' | 'delete', times: number): void {
  const hash = maps.frontend;
  let left = times;
  if (batch === 'update') {
    const real = hash.updateBatch.bind(hash);
    hash.updateBatch = (keys: Buffer, values: Buffer, count: number, flags?: BpfUpdateFlags) => {
      if (left-- > 0) throw new Error('injected: EAGAIN');
      return real(keys, values, count, flags ?? BPF_ANY);
    };
  } else {
    const real = hash.deleteBatch.bind(hash);
    hash.deleteBatch = (keys: Buffer, count: number) => {
      if (left-- > 0) throw new Error('injected: EINTR');
      return real(keys, count);
    };
  }
}

/**
 * Reads of the frontend hash (the rebuild after a failed pass) that throw while `left` > 0. The
 * reads the test makes itself, and a restarted daemon's first one, come after `left` is reset.
 */
function injectableReadFailures(maps: Maps): { left: number } {
  const reads = { left: 0 };
  const hash = maps.frontend;
  const real = hash.dump.bind(hash);
  hash.dump = () => {
    if (reads.left > 0) {
      reads.left--;
      throw new Error('injected: EIO');
    }
    return real();
  };
  return reads;
}

function setBits(words: Uint32Array): number[] {
  const bits: number[] = [];
  words.forEach((word, at) => {
    if (word === 0) return;
    for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) bits.push(at * 32 + bit);
  });
  return bits;
}

function sortedUnique(values: number[]): number[] {
  return [...new Set(values)].sort((x, y) => x - y);
}

/** The maps, read back as the datapath would see them, against the model. */
function expectMapsToHold(maps: Maps, model: Model, afterFailure: boolean): void {
  const wanted = [...model.desired.values()];
  const rows = readLbTable(maps);
  expect(
    Object.fromEntries(
      rows.map((row) => [
        frontendKey(row.frontend),
        {
          ready: row.backends.map((backend) => `${backend.ip}:${backend.port}`).sort(),
          affinity: row.affinityTimeoutSeconds,
          external: row.external,
        },
      ]),
    ),
  ).toEqual(
    Object.fromEntries(
      wanted.map((frontend) => [
        frontendKey(frontend.address),
        {
          ready: frontend.ready.map(formatBackend).sort(),
          affinity: frontend.affinityTimeoutSeconds,
          external: frontend.external,
        },
      ]),
    ),
  );

  // Every backend entry is one some desired frontend lists, ready or draining, and vice versa.
  const liveBackends: string[] = [];
  for (let id = 1; id < BACKEND_IDS_SCANNED; id++) {
    const backend = readBackend(maps.backend, id);
    if (backend) liveBackends.push(`${intToIp(backend.addr)}:${backend.port}/${backend.proto}`);
  }
  const backendKeysOf = (frontend: DesiredFrontend): string[] =>
    [...frontend.ready, ...frontend.draining].map(
      (key) => `${formatBackend(key)}/${protocolNumber(frontend.address.protocol)}`,
    );
  expect(liveBackends.sort()).toEqual([...new Set(wanted.flatMap(backendKeysOf))].sort());

  // The gates hold the bits of what exists and nothing else.
  expect(setBits(maps.frontendGate.words)).toEqual(
    sortedUnique(
      wanted.map(({ address }) =>
        gateBit(ipToInt(address.ip), address.port, protocolNumber(address.protocol)),
      ),
    ),
  );
  expect(setBits(maps.backendGate.words)).toEqual(
    sortedUnique(
      wanted.flatMap((frontend) =>
        [...frontend.ready, ...frontend.draining].map((key) =>
          gateBit(
            Math.floor(key / BACKEND_PORT_SPACE),
            key % BACKEND_PORT_SPACE,
            protocolNumber(frontend.address.protocol),
          ),
        ),
      ),
    ),
  );

  // Live frontends' slot blocks never overlap, and each count fits its block.
  const blocks = frontendBlocks(maps).sort((x, y) => x.base - y.base);
  blocks.forEach((block, at) => {
    expect(block.count).toBeLessThanOrEqual(block.capacity);
    if (at > 0)
      expect(block.base).toBeGreaterThanOrEqual(blocks[at - 1]!.base + blocks[at - 1]!.capacity);
  });

  // No slot outside a live frontend's count names a backend. Not after a failed pass: the slots
  // it wrote into blocks of frontends that never reached the hash stay (the datapath reads no slot
  // past a frontend's count, and a block is filled before a count covers it).
  if (!afterFailure) {
    const usedSlots = maps.slot.words
      .subarray(0, SLOT_WORDS_SCANNED)
      .filter((word) => word !== 0).length;
    expect(usedSlots).toBe(rows.reduce((sum, row) => sum + row.backends.length, 0));
  }
}

function frontendBlocks(maps: Maps): { base: number; capacity: number; count: number }[] {
  const dump = maps.frontend.dump();
  return Array.from({ length: dump.count }, (_, index) => {
    const value = decode(FRONTEND, dump.values, index * FRONTEND.size);
    return { base: value.slotBase, capacity: value.slotCapacity, count: value.backendCount };
  });
}

const running: LbReconciler[] = [];
afterEach(() => {
  for (const each of running.splice(0)) each.stop();
});

function start(maps: Maps, clock: () => bigint): LbReconciler {
  const reconciler = new LbReconciler({
    maps,
    logger: log,
    initialRetryMs: 1,
    maxRetryMs: 4,
    parkedCheckMs: 1,
    monotonicNs: clock,
  });
  running.push(reconciler);
  return reconciler;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('LbReconciler against a model', () => {
  test('whenever it is idle, the maps hold exactly the desired state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { maxLength: 30, size: 'medium' }), async (actions) => {
        const maps = memoryLbMaps();
        const reads = injectableReadFailures(maps);
        const model = new Model();
        let nowNs = 10n ** 12n;
        const clock = () => nowNs;
        let live: Connection[] = [];
        let clientPort = 1024;
        let reconciler = start(maps, clock);
        reconciler.markSynced();
        let failed = false;
        try {
          for (const action of actions) {
            switch (action.kind) {
              case 'replace': {
                const frontends = action.frontends.map((spec) => desiredOf(action.service, spec));
                model.replace(serviceName(action.service), frontends);
                reconciler.replaceService(serviceName(action.service), frontends);
                break;
              }
              case 'delete':
                model.replace(serviceName(action.service), []);
                reconciler.deleteService(serviceName(action.service));
                break;
              case 'settle':
                await reconciler.whenIdle();
                reads.left = 0;
                expectMapsToHold(maps, model, failed);
                expectNoConnectionCountedElsewhere(maps, live);
                break;
              case 'tick':
                await nextTurn();
                break;
              case 'fail':
                injectFailures(maps, action.batch, action.times);
                failed = true;
                break;
              case 'failReads':
                reads.left = action.times;
                break;
              case 'restart':
                // Whatever the last pass left, failed or not, is what the new daemon finds.
                reconciler.stop();
                reads.left = 0;
                reconciler = start(maps, clock);
                for (const [service, frontends] of model.replay()) {
                  reconciler.replaceService(service, frontends);
                }
                reconciler.markSynced();
                break;
              case 'connect': {
                // The test's own read of the maps: any injected read failures wait for the daemon.
                const pending = reads.left;
                reads.left = 0;
                const made = connect(maps, action.frontend, nowNs, clientPort++);
                reads.left = pending;
                if (made) live.push(made);
                break;
              }
              case 'expire':
                nowNs += FLOWS_EXPIRE_NS;
                live = [];
                break;
            }
          }
          await reconciler.whenIdle();
          reads.left = 0;
          expectMapsToHold(maps, model, failed);
          expectNoConnectionCountedElsewhere(maps, live);
          expect(reconciler.blockedFrontends).toEqual([]);
        } finally {
          reconciler.stop();
        }
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
