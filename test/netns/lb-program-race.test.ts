/**
 * The Service LB's egress programs on two CPUs at once: one client port opening connections to two
 * Services that share their only backend, both SYNs run at the same instant (BPF_PROG_TEST_RUN in
 * two worker threads, released together by a spin barrier). On the wire both would be one 4-tuple
 * (client address and port, backend address and port); the programs must give each its own, as
 * they do when the SYNs come one after the other: one keeps the client's port, the other leaves
 * from a moved port, and the backend's answers on each tuple reach the client from the Service it
 * dialled. Three situations of the tuple before the race: never used; held by an ended flow of a
 * third Service with the same backend; held by the client's own ended flow to the first Service,
 * which that Service's SYN restarts in place.
 *
 * Until the programs claimed a tuple while checking it (tw_claim in lb.c), about half of such
 * races put both connections on one tuple. The test also counts the trials whose two runs did
 * overlap in time, and fails if too few did to have tested anything.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';

import { buildFrame, frameAddresses, TCP_FLAGS } from '../../bench/lb-program/frames.js';
import { compatObjectPath } from '../../src/dataplane/bpf/lb-object.js';
import { NativeBpfMap, NativeBpfProgram } from '../../src/dataplane/bpf/native-bpf.js';
import { nativeAddonPath } from '../../src/dataplane/native/addon-loader.js';
import { backendKeyOf, type DesiredFrontend } from '../../src/lb/desired-frontend.js';
import { closeLbMaps, openLbMaps } from '../../src/lb/lb-maps.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';
import { REPO_ROOT } from '../support/bins.js';
import { buildLbObject, LB_OBJECT, LbPins } from '../support/bpf-lab.js';
import { requireRoot } from '../support/netns.js';
import { SILENT_LOG } from '../support/pool-fixture.js';

requireRoot();

const TRIALS = 1_500;
/** Of the trials, at least this share must have had both runs overlap in time. */
const MIN_OVERLAPPING_SHARE = 0.1;
const WORKER_SCRIPT = join(REPO_ROOT, 'test', 'support', 'lb-race-worker.mjs');

/** Addresses of the benchmarking range (RFC 2544): no socket of this host's uses them. */
const BACKEND = '198.19.0.20';
const TARGET_PORT = 8080;
const SERVICE_PORT = 80;
const CLIENT_PORT = 40000;
/** The two Services racing, and a third whose ended flow may hold the tuple before the race. */
const RACING_VIPS = ['198.19.1.1', '198.19.1.2'] as const;
const THIRD_VIP = '198.19.1.3';
/** First of the moved ports (TW_MOVED_PORT_MIN, lb_maps.h). */
const MOVED_PORT_MIN = 61_000;

type Situation = 'unused' | "another Service's ended flow" | "the client's own ended flow";
const SITUATIONS: readonly Situation[] = [
  'unused',
  "another Service's ended flow",
  "the client's own ended flow",
];

type EgressProgram = 'tw_lb_egress_gw' | 'tw_lb_egress';
const BUILDS: ReadonlyArray<readonly [string, string]> = [
  ['lb.o', LB_OBJECT],
  ['lb-compat.o', compatObjectPath(LB_OBJECT)],
];

/** A client address of its own per trial, so that no trial's moved ports crowd another's. */
function clientOf(trial: number): string {
  return intToIp(ipToInt('198.18.16.1') + trial);
}

function frontend(vip: string, name: string): DesiredFrontend[] {
  return [
    {
      address: { ip: vip, port: SERVICE_PORT, protocol: 'TCP' },
      service: { namespace: 'race', name, portName: 'http' },
      external: false,
      affinityTimeoutSeconds: 0,
      ready: [backendKeyOf({ ip: BACKEND, port: TARGET_PORT })],
      draining: [],
    },
  ];
}

function syn(trial: number, vip: string): Buffer {
  return buildFrame({
    protocol: 'TCP',
    src: clientOf(trial),
    sport: CLIENT_PORT,
    dst: vip,
    dport: SERVICE_PORT,
    tcpFlags: TCP_FLAGS.syn,
  });
}

interface RaceRun {
  retval: number;
  dst: string;
  dport: number;
  /** The client port on the wire. */
  sport: number;
  startNs: bigint;
  endNs: bigint;
}

/** Both workers' runs of every trial: [trial][role]. */
async function race(programPath: string, vips: readonly string[]): Promise<RaceRun[][]> {
  const arrivals = new SharedArrayBuffer(4 * TRIALS);
  const results = new SharedArrayBuffer(4 * 4 * TRIALS * 2);
  const times = new SharedArrayBuffer(8 * 2 * TRIALS * 2);
  const addonPath = nativeAddonPath();
  const side = (role: number) =>
    new Promise<void>((resolve, reject) => {
      const frames = Array.from({ length: TRIALS }, (_, trial) => syn(trial, vips[role]!));
      const worker = new Worker(WORKER_SCRIPT, {
        workerData: { addonPath, programPath, role, frames, arrivals, results, times },
      });
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => {
        if (code !== 0) reject(new Error(`race worker ${role} exited with ${code}`));
      });
    });
  await Promise.all([side(0), side(1)]);
  const seen = new Int32Array(results);
  const clock = new BigInt64Array(times);
  return Array.from({ length: TRIALS }, (_, trial) =>
    [0, 1].map((role) => {
      const slot = trial * 2 + role;
      return {
        retval: seen[slot * 4]!,
        dst: intToIp(seen[slot * 4 + 1]! >>> 0),
        dport: seen[slot * 4 + 2]!,
        sport: seen[slot * 4 + 3]!,
        startNs: clock[slot * 2]!,
        endNs: clock[slot * 2 + 1]!,
      };
    }),
  );
}

const twoCpus = availableParallelism() >= 2;

beforeAll(() => {
  buildLbObject();
});

describe.each(BUILDS)('%s', (_name, build) => {
  let pins: LbPins | undefined;
  let reconciler: LbReconciler | undefined;
  let closeMaps: (() => void) | undefined;

  afterEach(() => {
    reconciler?.stop();
    closeMaps?.();
    pins?.cleanup();
    [pins, reconciler, closeMaps] = [undefined, undefined, undefined];
  });

  describe.each(['tw_lb_egress_gw', 'tw_lb_egress'] as const)('%s', (egressName: EgressProgram) => {
    (twoCpus ? test.each(SITUATIONS) : test.skip.each(SITUATIONS))(
      'two SYNs at once onto one 4-tuple, which was %s: each connection gets a tuple of its own, and the answers on each reach it from the Service it dialled',
      async (situation) => {
        pins = new LbPins(build);
        const maps = openLbMaps(pins.dir, (path) => NativeBpfMap.openPinned(path));
        closeMaps = () => closeLbMaps(maps);
        reconciler = new LbReconciler({ maps, logger: SILENT_LOG });
        reconciler.replaceService('race/first', frontend(RACING_VIPS[0], 'first'));
        reconciler.replaceService('race/second', frontend(RACING_VIPS[1], 'second'));
        reconciler.replaceService('race/third', frontend(THIRD_VIP, 'third'));
        reconciler.markSynced();
        await reconciler.whenIdle();
        expect(reconciler.failure).toBeUndefined();

        const egress = NativeBpfProgram.openPinned(pins.prog(egressName));
        const ingress = NativeBpfProgram.openPinned(pins.prog('tw_lb_ingress'));
        const claims = NativeBpfMap.openPinned(pins.map('tw_claim_v1'));
        try {
          if (situation !== 'unused') {
            const earlier =
              situation === "another Service's ended flow" ? THIRD_VIP : RACING_VIPS[0];
            for (let trial = 0; trial < TRIALS; trial++) {
              const opened = egress.testRunFrame(syn(trial, earlier));
              expect(frameAddresses(opened.frame)).toMatchObject({
                dst: BACKEND,
                sport: CLIENT_PORT,
              });
              const reset = buildFrame({
                protocol: 'TCP',
                src: clientOf(trial),
                sport: CLIENT_PORT,
                dst: earlier,
                dport: SERVICE_PORT,
                tcpFlags: TCP_FLAGS.rst | TCP_FLAGS.ack,
              });
              egress.testRunFrame(reset);
            }
          }

          const runs = await race(pins.prog(egressName), RACING_VIPS);

          const problems: string[] = [];
          let overlapping = 0;
          let moved = 0;
          runs.forEach(([first, second], trial) => {
            if (first!.startNs < second!.endNs && second!.startNs < first!.endNs) overlapping++;
            const client = clientOf(trial);
            [first!, second!].forEach((run, role) => {
              if (run.dst !== BACKEND || run.dport !== TARGET_PORT) {
                problems.push(
                  `trial ${trial}: the SYN to ${RACING_VIPS[role]} left as ${run.dst}:${run.dport} (verdict ${run.retval})`,
                );
                return;
              }
              if (run.sport !== CLIENT_PORT) {
                moved++;
                if (run.sport < MOVED_PORT_MIN) {
                  problems.push(`trial ${trial}: moved to ${run.sport}, outside the moved range`);
                }
              }
              // The backend's SYN-ACK on this run's tuple: it must reach the client's own port
              // from the Service this run dialled.
              const answer = ingress.testRunFrame(
                buildFrame({
                  protocol: 'TCP',
                  src: BACKEND,
                  sport: TARGET_PORT,
                  dst: client,
                  dport: run.sport,
                  tcpFlags: TCP_FLAGS.syn | TCP_FLAGS.ack,
                }),
              );
              const seen = frameAddresses(answer.frame);
              const expected = {
                src: RACING_VIPS[role],
                sport: SERVICE_PORT,
                dst: client,
                dport: CLIENT_PORT,
              };
              if (JSON.stringify(seen) !== JSON.stringify({ ...seen, ...expected })) {
                problems.push(
                  `trial ${trial}: the answer to the SYN for ${RACING_VIPS[role]} (wire port ${run.sport}) reached the client as ${seen.src}:${seen.sport} → ${seen.dst}:${seen.dport}`,
                );
              }
            });
            if (first!.dst === second!.dst && first!.sport === second!.sport) {
              problems.push(
                `trial ${trial}: both SYNs left on ${client}:${first!.sport} → ${first!.dst}:${first!.dport}`,
              );
            }
          });

          expect({ situation, problems: problems.slice(0, 10), count: problems.length }).toEqual({
            situation,
            problems: [],
            count: 0,
          });
          // Every trial moves one of its two connections: one tuple, two flows.
          expect(moved).toBe(TRIALS);
          // No claim outlives the run that took it.
          expect(claims.dump().count).toBe(0);
          expect(overlapping).toBeGreaterThanOrEqual(TRIALS * MIN_OVERLAPPING_SHARE);
        } finally {
          egress.close();
          ingress.close();
          claims.close();
        }
      },
    );
  });
});
