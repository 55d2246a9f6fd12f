/**
 * How terwayd loads the Service LB on this kernel (src/dataplane/bpf/lb-object.ts): both builds of
 * the object load; the clock constants reach the kernel's copy of the object's .rodata; and a
 * packet run through the loaded egress program stamps its flow from jiffies, on CLOCK_MONOTONIC's
 * scale. Bad constants are refused by name.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { lbClockConstants, readKernelTick } from '../../src/dataplane/bpf/kernel-clock.js';
import {
  compatObjectPath,
  KERN_CTX_KFUNC,
  planLbLoad,
  SYSTEM_LB_OBJECT_PROBES,
} from '../../src/dataplane/bpf/lb-object.js';
import {
  kernelHasFunction,
  loadObject,
  NativeBpfMap,
  progInfo,
} from '../../src/dataplane/bpf/native-bpf.js';
import { addonCandidates } from '../../src/dataplane/native/addon-loader.js';
import { isTerwayError } from '../../src/errors/terway-error.js';
import { backendKeyOf, type DesiredFrontend } from '../../src/lb/desired-frontend.js';
import { closeLbMaps, openLbMaps } from '../../src/lb/lb-maps.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { buildLbObject, decodeFlow, LB_OBJECT, LbPins } from '../support/bpf-lab.js';
import { kernelAtLeast, requireRoot } from '../support/netns.js';

requireRoot();

const VIP = '10.96.0.10';
const CLIENT = '10.0.0.10';
const BACKEND = '10.0.0.20';

let work: string;
let object: string;
const pinDirs: LbPins[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'terway-load-plan-'));
  buildLbObject();
  object = LB_OBJECT;
});

afterEach(() => {
  for (const pins of pinDirs.splice(0)) pins.cleanup();
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function freshPins(): LbPins {
  const pins = new LbPins();
  pinDirs.push(pins);
  return pins;
}

/** The u64 constants in the .rodata a loaded program reads, from its loadData. */
function rodataOf(programPath: string): bigint[] {
  const match = /^\.rodata=([0-9a-f]*);$/.exec(progInfo(programPath).loadData);
  if (!match) throw new Error(`${programPath} reads no .rodata map`);
  const bytes = Buffer.from(match[1]!, 'hex');
  return Array.from({ length: bytes.length / 8 }, (_, i) => bytes.readBigUInt64LE(i * 8));
}

/** An Ethernet + IPv4 + TCP SYN from the client to the frontend (checksums are not checked). */
function synToFrontend(clientPort: number): Buffer {
  const frame = Buffer.alloc(14 + 20 + 20);
  frame.writeUInt16BE(0x0800, 12);
  const ip = 14;
  frame.writeUInt8(0x45, ip);
  frame.writeUInt16BE(40, ip + 2);
  frame.writeUInt8(64, ip + 8);
  frame.writeUInt8(6, ip + 9);
  Buffer.from(CLIENT.split('.').map(Number)).copy(frame, ip + 12);
  Buffer.from(VIP.split('.').map(Number)).copy(frame, ip + 16);
  const tcp = ip + 20;
  frame.writeUInt16BE(clientPort, tcp);
  frame.writeUInt16BE(80, tcp + 2);
  frame.writeUInt8(5 << 4, tcp + 12);
  frame.writeUInt8(0x02, tcp + 13);
  return frame;
}

/** Loads `objectPath` as terwayd would, programs one frontend, runs one SYN through egress. */
async function stampOneFlow(
  objectPath: string,
  constants: Record<string, bigint>,
  clientPort: number,
): Promise<{
  firstSeenNs: bigint;
  before: bigint;
  after: bigint;
  rodata: bigint[];
}> {
  const pins = freshPins();
  const loaded = loadObject(objectPath, pins.dir, constants);
  const maps = openLbMaps(pins.dir, (path) => NativeBpfMap.openPinned(path));
  try {
    const reconciler = new LbReconciler({ maps, logger: pino({ level: 'silent' }) });
    const frontend: DesiredFrontend = {
      address: { ip: VIP, port: 80, protocol: 'TCP' },
      service: { namespace: 'default', name: 'clock', portName: 'http' },
      external: false,
      affinityTimeoutSeconds: 0,
      ready: [backendKeyOf({ ip: BACKEND, port: 8080 })],
      draining: [],
    };
    reconciler.replaceService('default/clock', [frontend]);
    reconciler.markSynced();
    await reconciler.whenIdle();
    const packet = join(work, `syn-${clientPort}.bin`);
    writeFileSync(packet, synToFrontend(clientPort));
    const before = process.hrtime.bigint();
    execFileSync('bpftool', [
      'prog',
      'run',
      'pinned',
      loaded.programs.tw_lb_egress!,
      'data_in',
      packet,
      'repeat',
      '1',
    ]);
    const after = process.hrtime.bigint();
    const flows = NativeBpfMap.openPinned(pins.map('tw_flow_v1'));
    try {
      const dump = flows.dump();
      expect(dump.count).toBe(1);
      const flow = decodeFlow(dump.values.subarray(0, dump.values.length / dump.count));
      expect(flow.backendAddr).toBe(BACKEND);
      return {
        firstSeenNs: flow.firstSeenNs,
        before,
        after,
        rodata: rodataOf(loaded.programs.tw_lb_egress!),
      };
    } finally {
      flows.close();
    }
  } finally {
    closeLbMaps(maps);
  }
}

describe('the build this kernel gets', () => {
  test('the kernel BTF probe finds kfuncs by name, and the plan follows it', () => {
    expect(kernelHasFunction('tw_no_such_function')).toBe(false);
    const has = kernelHasFunction(KERN_CTX_KFUNC);
    expect(has).toBe(kernelAtLeast(6, 3));
    const plan = planLbLoad(object, SYSTEM_LB_OBJECT_PROBES);
    expect(plan.object).toBe(has ? object : compatObjectPath(object));
  });

  test('both builds load, with the same maps', () => {
    const builds = kernelAtLeast(6, 3)
      ? [object, compatObjectPath(object)]
      : [compatObjectPath(object)];
    const mapSets = builds.map((build) =>
      Object.keys(loadObject(build, freshPins().dir).maps).sort(),
    );
    for (const maps of mapSets) expect(maps).toEqual(mapSets[0]);
  });

  test('a load succeeds while the CPU profiler signals the loading thread', () => {
    // The verifier gives up with EAGAIN on a pending signal; --cpu-prof sends SIGPROF every 20 µs
    // here, so an unguarded load fails every one of libbpf's attempts.
    const addon = addonCandidates().find((candidate) => existsSync(candidate));
    if (addon === undefined) throw new Error('the terway_bpf addon is not built');
    const build = planLbLoad(object, SYSTEM_LB_OBJECT_PROBES).object;
    const pins = freshPins();
    const load = `require(${JSON.stringify(addon)}).loadObject(${JSON.stringify(build)}, ${JSON.stringify(pins.dir)}, {}, {})`;
    const run = spawnSync(
      process.execPath,
      ['--cpu-prof', '--cpu-prof-interval=20', `--cpu-prof-dir=${work}`, '-e', load],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(existsSync(join(pins.dir, 'progs', 'tw_lb_egress'))).toBe(true);
  });
});

describe('the clock', () => {
  const tick = readKernelTick();
  const constants = lbClockConstants(tick);
  const jiffyNs = constants.tw_jiffy_ns;

  (jiffyNs === undefined ? test.skip : test)(
    'with the tick known, both builds stamp flows from jiffies on the monotonic scale',
    async () => {
      const builds = kernelAtLeast(6, 3)
        ? [object, compatObjectPath(object)]
        : [compatObjectPath(object)];
      for (const [i, build] of builds.entries()) {
        const stamp = await stampOneFlow(build, constants, 40_000 + i);
        // tw_jiffy_ns, then tw_initial_jiffies, as bpf/lb.c declares them.
        expect(stamp.rodata).toEqual([jiffyNs, constants.tw_initial_jiffies]);
        // Jiffies times the tick: a whole number of ticks since INITIAL_JIFFIES.
        expect(stamp.firstSeenNs % jiffyNs!).toBe(0n);
        // Behind CLOCK_MONOTONIC by the first tick's delay at boot, a fraction of a second.
        expect(stamp.firstSeenNs).toBeLessThanOrEqual(stamp.after);
        expect(stamp.before - stamp.firstSeenNs).toBeLessThan(5_000_000_000n);
      }
    },
    30_000,
  );

  test('without constants lb.o reads the coarse clock, on the same scale', async () => {
    const stamp = await stampOneFlow(object, {}, 40_100);
    expect(stamp.rodata).toEqual([0n, 0n]);
    expect(stamp.firstSeenNs).toBeLessThanOrEqual(stamp.after);
    expect(stamp.before - stamp.firstSeenNs).toBeLessThan(1_000_000_000n);
  }, 30_000);

  test('without constants lb-compat.o reads CLOCK_MONOTONIC itself (no coarse clock before 5.11)', async () => {
    const stamp = await stampOneFlow(compatObjectPath(object), {}, 40_200);
    expect(stamp.rodata).toEqual([0n, 0n]);
    // Not a tick behind, as the coarse clock may be: between the two reads around the packet.
    expect(stamp.firstSeenNs).toBeGreaterThanOrEqual(stamp.before);
    expect(stamp.firstSeenNs).toBeLessThanOrEqual(stamp.after);
  }, 30_000);

  test('an unknown constant, or a value that is not a u64 bigint, is refused by name', () => {
    const refused = (constants: Record<string, unknown>) => {
      try {
        loadObject(object, freshPins().dir, constants as Record<string, bigint>);
      } catch (error) {
        if (isTerwayError(error)) return error.message;
        throw error;
      }
      throw new Error('loaded');
    };
    expect(refused({ tw_jiffy_nss: 1n })).toContain('no constant named tw_jiffy_nss');
    expect(refused({ tw_jiffy_ns: 4 })).toContain('tw_jiffy_ns must be a u64 bigint');
    expect(refused({ tw_jiffy_ns: -1n })).toContain('tw_jiffy_ns must be a u64 bigint');
  });
});
