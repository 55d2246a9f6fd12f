/**
 * Starts the Service load balancer: loads the tc program (reusing the pinned maps, so flows that
 * are established survive a restart or an upgrade), rebuilds the reconciler's view from those
 * maps, and connects the desired state's source: the Kubernetes API when a kubeconfig is given or
 * the daemon runs in a pod, else a services file. Without either, the maps are left exactly as
 * they are, and the daemon says so.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

import {
  TcLbAttacher,
  type PinnedProgram,
  type PodProgramAttacher,
} from '../dataplane/bpf/lb-attacher.js';
import { ensureBpffs } from '../dataplane/bpf/bpffs.js';
import { planLbLoad, SYSTEM_LB_OBJECT_PROBES } from '../dataplane/bpf/lb-object.js';
import {
  NativeBpfMap,
  NativeBpfProgram,
  releaseFreedHeap,
  type TcHookChoice,
} from '../dataplane/bpf/native-bpf.js';
import {
  loadOrReusePrograms,
  NATIVE_PROGRAM_LOADER,
  pinnedMapSize,
} from '../dataplane/bpf/program-reuse.js';
import { removeStaleMapPins } from '../dataplane/bpf/stale-pins.js';
import type { MemoryHeadroom } from '../dataplane/kernel/memory-cgroup.js';
import { ConntrackResize } from './conntrack-resize.js';
import { HeapSettler } from './heap-settler.js';
import {
  checkNewMapsFit,
  explainLoadFailure,
  mapMemoryHeadroom,
  memoryAllowedForMaps,
} from './lb-map-memory.js';
import { DEFAULT_LB_SYNC_WAIT_MS, ServiceSyncGate } from './service-sync-gate.js';
import { TerwayError } from '../errors/terway-error.js';
import { NO_ENDPOINT_PODS, type EndpointPodIndex } from '../k8s/endpoint-pods.js';
import type { NodeTopology } from '../k8s/lean-endpoint-slice.js';
import { ServicesFileSource } from '../k8s/services-file-source.js';
import { ProgramEndedFlowReaper } from '../lb/ended-flow-reaper.js';
import { DEFAULT_FLOW_COLLECT_INTERVAL_MS, FlowCollector } from '../lb/flow-collector.js';
import { oldFlowTablesPinned } from '../lb/flow-table-resize.js';
import { DEFAULT_FLOW_TABLE_SIZE, planFlowTableSize } from '../lb/flow-table-size.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../lb/lb-maps.js';
import { LbReconciler } from '../lb/lb-reconciler.js';
import { DEFAULT_PIN_DIR, LB_MAP_NAMES } from '../lb/maps/lb-layouts.js';
import { flowEntriesMade, readNodeFlowTotals } from '../lb/maps/node-counters.js';
import { registerConntrackMetrics, registerLbMetrics } from '../observe/lb-metrics.js';
import { registerInformerMetrics, registerServicesFileMetrics } from '../observe/source-metrics.js';
import { informerProblem, servicesFileProblem } from '../observe/source-problem.js';
import { systemClock } from '../util/clock.js';

export const DEFAULT_BPF_PIN_DIR = DEFAULT_PIN_DIR;
/** dist/src/daemon/ → dist/bpf/lb.o, where the build puts the compiled program. */
export const DEFAULT_BPF_OBJECT = fileURLToPath(new URL('../../bpf/lb.o', import.meta.url));

const PROGRAM_NAMES = {
  egress: 'tw_lb_egress',
  egressGateway: 'tw_lb_egress_gw',
  ingress: 'tw_lb_ingress',
  collect: 'tw_lb_collect',
} as const;

export interface ServiceLbOptions {
  readonly pinDir: string;
  readonly objectPath: string;
  /** Standalone mode: Services and EndpointSlices from this file, followed as it changes. */
  readonly servicesFile?: string | undefined;
  /** Cluster mode: this kubeconfig, or the in-cluster account when `inCluster`. */
  readonly kubeconfig?: string | undefined;
  readonly inCluster?: boolean;
  /** The hook the programs go on; see TcHookChoice for the trade-off. */
  readonly hook?: TcHookChoice | undefined;
  /**
   * The Kubernetes node this daemon serves and its zone: whose endpoints `internalTrafficPolicy:
   * Local` and topology hints keep.
   */
  readonly thisNode?: NodeTopology | undefined;
  /** Where the LB's metrics are registered; none without it. */
  readonly registry?: Registry | undefined;
  /**
   * How long from now pod ADDs may be held for the source's first complete state
   * (service-sync-gate.ts); DEFAULT_LB_SYNC_WAIT_MS when not given, 0 for not at all.
   */
  readonly syncWaitMs?: number | undefined;
  /** Between the conntrack collector's passes; DEFAULT_FLOW_COLLECT_INTERVAL_MS when not given. */
  readonly flowCollectIntervalMs?: number | undefined;
  /**
   * How many flows the conntrack tables hold when this load creates them; DEFAULT_FLOW_TABLE_SIZE
   * when not given. Tables already pinned keep their own size (flow-table-size.ts).
   */
  readonly flowTableSize?: number | undefined;
  /**
   * How much more memory the maps a load creates may take, under terwayd's memory cgroups (which the
   * kernel charges them to) and the node's own: mapMemoryHeadroom when not given (tests give their
   * own).
   */
  readonly memoryHeadroom?: () => MemoryHeadroom | undefined;
  readonly log: Logger;
}

export interface ServiceLb {
  readonly attacher: PodProgramAttacher;
  readonly reconciler: LbReconciler;
  readonly maps: LbMaps;
  readonly source: 'kubernetes' | 'file' | 'none';
  readonly pinDir: string;
  readonly thisNode: NodeTopology | undefined;
  /** Why the source is not delivering (source-problem.ts); undefined while it is. */
  sourceProblem(): string | undefined;
  /** The pods the source's EndpointSlices name, by backend address. */
  endpointPods(): EndpointPodIndex;
  /** Holds pod ADDs until the source's first complete state is in the maps (bounded). */
  readonly firstStateGate: ServiceSyncGate;
  /**
   * Once the running pods were offered this daemon's programs (PodNetwork.resync): finishes a
   * conntrack table resize this start took on, if any; `podsOnOldTables` are pods whose programs
   * could not be swapped. Nothing to do otherwise.
   */
  finishStart(podsOnOldTables: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startServiceLb(options: ServiceLbOptions): Promise<ServiceLb> {
  const { pinDir, objectPath, log } = options;
  if (options.servicesFile !== undefined && options.kubeconfig !== undefined) {
    throw new TerwayError(
      'INVALID_CONFIG',
      'give either --services (standalone) or --kubeconfig (cluster), not both',
    );
  }
  const bpffs = ensureBpffs(pinDir);
  if (bpffs.mountedNow) {
    log.warn(
      { mountPoint: bpffs.bpffs, pinDir },
      'mounted a bpffs: nothing was mounted there, and the Service LB pins its maps on one',
    );
  }
  const plan = planLbLoad(objectPath, SYSTEM_LB_OBJECT_PROBES);
  const requestedSize = options.flowTableSize ?? DEFAULT_FLOW_TABLE_SIZE;
  const headroom = (options.memoryHeadroom ?? mapMemoryHeadroom)();
  const resize = await ConntrackResize.prepare(
    pinDir,
    requestedSize,
    log,
    memoryAllowedForMaps(headroom),
  );
  const flowTable = planFlowTableSize(requestedSize, (name) => pinnedMapSize(join(pinDir, name)));
  // Nothing pinned yet (a node's first start, or after a reboot): this load creates every map.
  if (!existsSync(join(pinDir, LB_MAP_NAMES.frontend))) {
    checkNewMapsFit(flowTable.entries, headroom, log);
  }
  if (flowTable.keptPinned !== undefined && !resize.refused) {
    // The new tables of a resize under way, made at another size than this start asks for.
    log.warn(
      { pinDir, flowTableSize: flowTable.keptPinned, requested: flowTable.requested },
      'the conntrack tables keep their size while a resize to it is under way; ' +
        '--lb-flow-table-size takes effect at a start after it has finished',
    );
  }
  let loaded: ReturnType<typeof loadOrReusePrograms>;
  try {
    loaded = loadOrReusePrograms(
      plan.object,
      pinDir,
      plan.constants,
      Object.values(PROGRAM_NAMES),
      NATIVE_PROGRAM_LOADER,
      flowTable.mapSizes,
    );
  } catch (error) {
    throw explainLoadFailure(error, headroom);
  }
  const pinned = (role: keyof typeof PROGRAM_NAMES): PinnedProgram => {
    const name = PROGRAM_NAMES[role];
    const path = loaded.programs[name];
    if (path === undefined) {
      throw new TerwayError(
        'BPF_ERROR',
        `${plan.object} has no program ${name}: not this daemon's Service LB object`,
      );
    }
    return { name, path };
  };
  const programs = {
    egress: pinned('egress'),
    egressGateway: pinned('egressGateway'),
    ingress: pinned('ingress'),
  };
  const collectProgram = pinned('collect');
  const maps = openLbMaps(pinDir, (path) => NativeBpfMap.openPinned(path));
  await resize.afterLoad(maps);
  const reconciler = new LbReconciler({ maps, logger: log.child({ component: 'lb' }) });
  const settler = new HeapSettler({
    logger: log.child({ component: 'memory' }),
    releaseNative: releaseFreedHeap,
  });
  const observePass =
    options.registry === undefined ? undefined : registerLbMetrics(options.registry, reconciler);
  reconciler.onPass = (report) => {
    settler.changed(report.frontendsWritten + report.frontendsDeleted);
    observePass?.(report);
  };
  log.info(
    {
      pinDir,
      object: plan.object,
      build: `${plan.build}: ${plan.buildReason}`,
      clock: plan.clock,
      flowTableSize: flowTable.entries,
      reusedMaps: loaded.reusedMaps,
      reusedPrograms: loaded.reusedPrograms,
    },
    loaded.reusedPrograms
      ? 'Service LB programs of this build found pinned, not loaded again; maps pinned'
      : 'Service LB program loaded; maps pinned',
  );
  const stale = removeStaleMapPins(pinDir, Object.keys(loaded.maps));
  if (stale.removed.length > 0) {
    log.info({ pinDir, removed: stale.removed }, 'removed the pins of another map layout version');
  }
  if (stale.failed.length > 0) {
    log.warn({ pinDir, failed: stale.failed }, 'could not remove pins of another map layout');
  } else {
    // Only then may a restart take these programs without a load (and its cleanup) of its own.
    loaded.commit();
  }
  const sourceLog = log.child({ component: 'service-source' });
  let stopSource = (): Promise<void> => Promise.resolve();
  let sourceProblem = (): string | undefined => undefined;
  let endpointPods = (): EndpointPodIndex => NO_ENDPOINT_PODS;
  let source: ServiceLb['source'] = 'none';
  if (options.servicesFile !== undefined) {
    const file = new ServicesFileSource({
      path: options.servicesFile,
      sink: reconciler,
      logger: sourceLog,
      thisNode: options.thisNode,
      afterWorkerExit: releaseFreedHeap,
    });
    file.start();
    if (options.registry !== undefined) registerServicesFileMetrics(options.registry, file);
    stopSource = () => file.stop();
    sourceProblem = () => servicesFileProblem(file);
    endpointPods = () => file.endpointPods();
    source = 'file';
  } else if (options.kubeconfig !== undefined || options.inCluster === true) {
    // Loaded only here: @kubernetes/client-node costs the process about 75 MB, which a node fed
    // by a services file has no reason to pay.
    const { InformerSource, loadKubeConfig } = await import('../k8s/informer-source.js');
    const informers = new InformerSource({
      kubeConfig: loadKubeConfig(options.kubeconfig),
      sink: reconciler,
      logger: sourceLog,
      thisNode: options.thisNode,
    });
    informers.start();
    if (options.registry !== undefined) registerInformerMetrics(options.registry, informers);
    stopSource = () => informers.stop();
    sourceProblem = () => informerProblem(informers);
    endpointPods = () => informers.endpointPods();
    source = 'kubernetes';
  } else {
    log.warn(
      { pinDir },
      'NO SERVICE SOURCE: neither --services nor a kubeconfig; the Service LB maps are kept as they are',
    );
  }
  const collectIntervalMs = options.flowCollectIntervalMs ?? DEFAULT_FLOW_COLLECT_INTERVAL_MS;
  const onCollection =
    options.registry === undefined
      ? undefined
      : registerConntrackMetrics(options.registry, maps.flow.maxEntries, () =>
          oldFlowTablesPinned(pinDir),
        );
  // Held open for the daemon's life: a pass runs the program once per 64 ended flows.
  const collectRuns = NativeBpfProgram.openPinned(collectProgram.path);
  const flowCollector = new FlowCollector({
    flows: maps.flow,
    reaper: new ProgramEndedFlowReaper((frame) => collectRuns.testRun(frame)),
    intervalMs: collectIntervalMs,
    flowsMade: () => flowEntriesMade(readNodeFlowTotals(maps.nodeStats)),
    logger: log.child({ component: 'conntrack' }),
    onPass: onCollection,
  });
  flowCollector.start();
  if (collectIntervalMs === 0) {
    log.warn(
      { pinDir },
      'conntrack collector off (--lb-collect-interval 0): ended flows leave the tables only when new ones evict them, live or not',
    );
  }
  // Counted from here: the pool's restore, after this, usually outlasts a source's first list.
  const firstStateGate = new ServiceSyncGate({
    lb: source === 'none' ? undefined : reconciler,
    waitMs: options.syncWaitMs ?? DEFAULT_LB_SYNC_WAIT_MS,
    clock: systemClock,
    log,
  });
  return {
    attacher: new TcLbAttacher(programs, options.hook),
    reconciler,
    maps,
    source,
    pinDir,
    thisNode: options.thisNode,
    sourceProblem,
    endpointPods,
    firstStateGate,
    finishStart: (podsOnOldTables) => resize.finish(podsOnOldTables),
    stop: async () => {
      firstStateGate.close();
      flowCollector.stop();
      await flowCollector.whenIdle();
      collectRuns.close();
      await stopSource();
      settler.stop();
      reconciler.stop();
      resize.close();
      closeLbMaps(maps);
    },
  };
}
