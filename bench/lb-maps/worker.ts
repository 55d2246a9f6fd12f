/**
 * One measured phase of the LB map-programming benchmark, in a process of its own: the daemon
 * programs its 10,000 Services once, cold, so a JIT warmed up by an earlier run would flatter the
 * figure. The parent (run.ts) gives the phase as JSON in argv[2] and talks over the IPC channel.
 *
 * Modes:
 * - `reconciler`: desired frontends (built before the clock) handed to LbReconciler → idle.
 * - `table`: Service and EndpointSlice objects (built before the clock) through ServiceTable
 *   (replaceAll, the services-file path) → translation → LbReconciler → idle.
 * - `informer`: the cluster path: client-node informers list/watch the parent's apiserver over
 *   loopback HTTP → ServiceTable → LbReconciler. Reports the sync and the process's memory, then
 *   times EndpointSlice changes the parent makes, until told to finish.
 *
 * Every mode loads the LB object into a fresh pin dir, so the maps are real kernel maps, empty.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import pino from 'pino';

import { planLbLoad, SYSTEM_LB_OBJECT_PROBES } from '../../src/dataplane/bpf/lb-object.js';
import { loadObject, NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';
import { ensureBpffs } from '../../src/dataplane/bpf/bpffs.js';
import { InformerSource } from '../../src/k8s/informer-source.js';
import { KubeConfig } from '../../src/k8s/kube-client.js';
import { projectEndpointSlice } from '../../src/k8s/object-projection.js';
import { ServiceTable } from '../../src/k8s/service-table.js';
import { translateService } from '../../src/k8s/service-translation.js';
import type { DesiredFrontend } from '../../src/lb/desired-frontend.js';
import { closeLbMaps, openLbMaps } from '../../src/lb/lb-maps.js';
import { LbReconciler, type LbPassReport } from '../../src/lb/lb-reconciler.js';
import { firstTouchCost, minorFaults } from '../support/page-faults.js';
import { rssOf } from '../support/process-memory.js';
import { makeCluster, serviceKeyOf, type FixtureShape } from './fixture.js';
import { checkMaps, liveBackendIps, type MapsCheck } from './maps-check.js';

export type WorkerMode = 'reconciler' | 'table' | 'informer';

export interface WorkerConfig extends FixtureShape {
  mode: WorkerMode;
  objectPath: string;
  pinDir: string;
  /** informer mode: the apiserver to list and watch. */
  apiserverUrl?: string;
}

export interface MemoryFigures {
  /** /proc/self/status, MiB. */
  rssMb: number;
  rssAnonMb: number;
  rssFileMb: number;
  rssShmemMb: number;
  /** V8, after two forced GCs, MiB. */
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** False when the worker ran without --expose-gc. */
  gcForced: boolean;
}

export interface SyncFigures {
  mode: WorkerMode;
  /** Clock start (first object handed over, or informer start) → reconciler idle. */
  wallMs: number;
  /** Clock start → the sink held everything (the source's part, before the map pass). */
  handOverMs: number;
  /** The reconciler's passes during the sync (usually one). */
  passes: LbPassReport[];
  check: MapsCheck;
  /** Minor page faults the process took in the clock's window. */
  minorFaults: number;
  /**
   * What one first touch of a fresh page cost in this process, measured after the sync (µs). Not
   * in informer mode, whose process goes on to time changes.
   */
  usPerFault?: number;
}

/** Parent → worker, informer mode. */
export type ParentMessage =
  | { type: 'expect'; id: number; ip: string; newIp: string; oldIp: string }
  | { type: 'finish'; overrides: Array<[number, string[]]> };

/** Worker → parent. */
export type WorkerMessage =
  | { type: 'result'; sync: SyncFigures; memory: MemoryFigures }
  | { type: 'armed'; id: number }
  | { type: 'seen'; id: number; atNs: string; passMs: number; passes: number }
  | { type: 'final'; check: MapsCheck }
  | { type: 'error'; message: string };

const MIB = 1024 * 1024;

/** Resolves once the message is handed to the channel, so exiting after it loses nothing. */
function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

async function memoryNow(): Promise<MemoryFigures> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    await sleep(50);
    gc();
  }
  await sleep(100);
  const rss = rssOf(process.pid);
  const usage = process.memoryUsage();
  return {
    rssMb: rss.rssMb,
    rssAnonMb: rss.anonMb,
    rssFileMb: rss.fileMb,
    rssShmemMb: rss.shmemMb,
    heapUsedMb: usage.heapUsed / MIB,
    externalMb: usage.external / MIB,
    arrayBuffersMb: usage.arrayBuffers / MIB,
    gcForced: gc !== undefined,
  };
}

function openMaps(config: WorkerConfig) {
  const plan = planLbLoad(config.objectPath, SYSTEM_LB_OBJECT_PROBES);
  ensureBpffs(config.pinDir); // as terwayd does: a fresh host may have none mounted
  loadObject(plan.object, config.pinDir, plan.constants);
  return openLbMaps(config.pinDir, (path) => NativeBpfMap.openPinned(path));
}

/** Quiet but not blind: warnings and errors (a failed pass) still reach stderr. */
const logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));

function setUp(config: WorkerConfig): {
  cluster: ReturnType<typeof makeCluster> | undefined;
  frontends: Array<[string, DesiredFrontend[]]>;
} {
  const cluster = makeCluster(config);
  if (config.mode !== 'reconciler') return { cluster, frontends: [] };
  const frontends = cluster.services.map((service, i): [string, DesiredFrontend[]] => [
    serviceKeyOf(i),
    translateService(service, [projectEndpointSlice(cluster.slices[i]!)]),
  ]);
  return { cluster: undefined, frontends };
}

async function syncOffline(config: WorkerConfig): Promise<void> {
  // Everything the clock must not see: the objects, their translation (reconciler mode), the
  // object load and the reconciler's restore from the (empty) maps. In reconciler mode the objects
  // are dropped once translated, as a daemon holds only the frontends; a forced GC then starts
  // the clock on a heap without the setup's garbage, in both modes.
  const { cluster, frontends } = setUp(config);
  const maps = openMaps(config);
  const reconciler = new LbReconciler({ maps, logger });
  const table = new ServiceTable({ sink: reconciler, logger });
  const passes: LbPassReport[] = [];
  reconciler.onPass = (report) => passes.push(report);

  (globalThis as { gc?: () => void }).gc?.();
  const faultsBefore = minorFaults();
  const started = performance.now();
  if (config.mode === 'reconciler') {
    for (const [key, list] of frontends) reconciler.replaceService(key, list);
    reconciler.markSynced();
  } else {
    // A complete state: replaceAll marks the table synced itself.
    table.replaceAll(cluster!.services, cluster!.slices);
  }
  const handedOver = performance.now();
  await reconciler.whenIdle();
  const idle = performance.now();
  const faults = minorFaults() - faultsBefore;
  if (reconciler.failure !== undefined) throw reconciler.failure;

  const check = checkMaps(maps, config);
  const memory = await memoryNow();
  const { usPerFault } = firstTouchCost();
  reconciler.stop();
  closeLbMaps(maps);
  await send({
    type: 'result',
    sync: {
      mode: config.mode,
      wallMs: idle - started,
      handOverMs: handedOver - started,
      passes,
      check,
      minorFaults: faults,
      usPerFault,
    },
    memory,
  });
}

function kubeConfigFor(url: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'bench', server: url, skipTLSVerify: true }],
    users: [{ name: 'bench' }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench' }],
    currentContext: 'bench',
  });
  return kubeConfig;
}

interface Expectation {
  ip: string;
  newIp: string;
  oldIp: string;
}

async function informer(config: WorkerConfig): Promise<void> {
  if (config.apiserverUrl === undefined) throw new Error('informer mode needs apiserverUrl');
  const maps = openMaps(config);
  const reconciler = new LbReconciler({ maps, logger });
  const source = new InformerSource({
    kubeConfig: kubeConfigFor(config.apiserverUrl),
    sink: reconciler,
    logger,
  });
  const passes: LbPassReport[] = [];
  const pending = new Map<number, Expectation>();
  let passCount = 0;
  reconciler.onPass = (report) => {
    passCount++;
    if (pending.size === 0) {
      passes.push(report);
      return;
    }
    // The reconciler calls this right after its writes; read the map back before calling it done.
    for (const [id, want] of pending) {
      const ips = liveBackendIps(maps, want.ip);
      if (ips.includes(want.newIp) && !ips.includes(want.oldIp)) {
        const atNs = process.hrtime.bigint();
        pending.delete(id);
        void send({
          type: 'seen',
          id,
          atNs: atNs.toString(),
          passMs: report.durationMs,
          passes: passCount,
        });
      }
    }
  };

  const faultsBefore = minorFaults();
  const started = performance.now();
  source.start();
  await source.whenSynced();
  const handedOver = performance.now();
  await reconciler.whenIdle();
  const idle = performance.now();
  const faults = minorFaults() - faultsBefore;
  if (reconciler.failure !== undefined) throw reconciler.failure;
  const check = checkMaps(maps, config);
  const memory = await memoryNow();
  await send({
    type: 'result',
    sync: {
      mode: 'informer',
      wallMs: idle - started,
      handOverMs: handedOver - started,
      passes,
      check,
      minorFaults: faults,
    },
    memory,
  });

  await new Promise<void>((resolve, reject) => {
    process.on('message', (message: ParentMessage) => {
      try {
        if (message.type === 'expect') {
          pending.set(message.id, { ip: message.ip, newIp: message.newIp, oldIp: message.oldIp });
          passCount = 0;
          void send({ type: 'armed', id: message.id });
        } else {
          void send({
            type: 'final',
            check: checkMaps(maps, config, new Map(message.overrides)),
          }).then(resolve);
        }
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
  await source.stop();
  reconciler.stop();
  closeLbMaps(maps);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
  try {
    if (config.mode === 'informer') await informer(config);
    else await syncOffline(config);
  } finally {
    rmSync(config.pinDir, { recursive: true, force: true });
  }
}

// Exits explicitly: client-node's keep-alive agents would hold the process open.
try {
  await main();
  process.exit(0);
} catch (error) {
  await send({
    type: 'error',
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
}
