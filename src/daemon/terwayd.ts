import { mkdirSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { DaemonConfig } from '../config/eni-conf.js';
import type { TcHookChoice } from '../dataplane/bpf/native-bpf.js';
import { DEFAULT_CONFIG } from '../config/eni-conf.js';
import { loadConfigFile } from '../config/load-config.js';
import { checkDuration } from '../config/durations.js';
import { TerwayError, toTerwayError } from '../errors/terway-error.js';
import { createLogger } from '../log/logger.js';
import type { IpPool } from '../pool/ip-pool.js';
import { registerCniMetrics } from '../observe/cni-metrics.js';
import { serveMetrics, type MetricsServer } from '../observe/metrics-server.js';
import { registerPoolMetrics } from '../observe/pool-metrics.js';
import { LmdbPodStore } from '../store/lmdb-pod-store.js';
import type { PodStore } from '../store/pod-store.js';
import { systemClock } from '../util/clock.js';
import { parseListenAddress, type ListenAddress } from '../util/listen-address.js';
import { backendService } from './backend-service.js';
import type { CloudHandle } from './cloud-factory.js';
import { createCloud } from './cloud-factory.js';
import { serveOnUnixSocket, shutdownServer } from './grpc-server.js';
import { introspectionService } from './introspection-service.js';
import { createDatapath } from './datapath-factory.js';
import { Ipam } from './ipam.js';
import { PodNetwork } from './pod-network.js';
import { saveIdleIps, takeIdleIps } from './idle-ips-file.js';
import { chooseNodeName, chooseNodeZone, zoneFlag } from './node-topology.js';
import { restorePool } from './restore.js';
import { prepareSocketPath } from './socket-file.js';
import type { ServiceLb } from './service-lb.js';
import { DEFAULT_FLOW_COLLECT_INTERVAL_MS } from '../lb/flow-collector.js';
import { DEFAULT_FLOW_TABLE_SIZE, parseFlowTableSize } from '../lb/flow-table-size.js';
import { DEFAULT_LB_SYNC_WAIT_MS } from './service-sync-gate.js';
import { servicesPendingReason } from './services-readiness.js';
import type { StateDirLock } from './state-dir-lock.js';
import { lockStateDir } from './state-dir-lock.js';

/** In-flight calls get this long to finish after SIGTERM before waiting allocations are failed. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface DaemonFlags {
  config?: string | undefined;
  socket: string;
  stateDir: string;
  logLevel: string;
  /** Standalone Service source: a file of Services and EndpointSlices. */
  services?: string | undefined;
  kubeconfig?: string | undefined;
  bpfPinDir: string;
  bpfObject: string;
  /** The hook the Service LB programs go on (--lb-hook): clsact unless tcx is asked for. */
  lbHook?: TcHookChoice;
  /** This node's Kubernetes name (--node-name); chooseNodeName says what it defaults to. */
  nodeName?: string | undefined;
  /** This node's zone (--zone); chooseNodeZone says what it defaults to. */
  zone?: string | undefined;
  /** host:port to serve Prometheus metrics on (--metrics-address); none when not given. */
  metricsAddress?: string | undefined;
  /**
   * The longest pod ADDs wait, from the start, for the Service LB's first complete state
   * (--lb-sync-wait, a duration); DEFAULT_LB_SYNC_WAIT_MS when not given, "0" for not at all.
   */
  lbSyncWait?: string | undefined;
  /**
   * The longest wait between the conntrack collector's passes (--lb-collect-interval, a duration);
   * DEFAULT_FLOW_COLLECT_INTERVAL_MS when not given, "0" for none.
   */
  lbCollectInterval?: string | undefined;
  /**
   * How many flows the Service LB's conntrack tables hold (--lb-flow-table-size, a count);
   * DEFAULT_FLOW_TABLE_SIZE when not given. Pinned tables of another size are resized, their
   * flows kept (src/lb/flow-table-resize.ts).
   */
  lbFlowTableSize?: string | undefined;
}

/** Everything a running daemon holds, in the order it must be released. */
interface Running {
  server?: grpc.Server;
  metrics?: MetricsServer;
  pool?: IpPool;
  store?: PodStore;
  cloud?: CloudHandle;
  serviceLb?: ServiceLb;
  stateDir?: string;
  lock?: StateDirLock;
}

/**
 * Start-up order matters: lock the state dir, open the records, restore the pool from the cloud,
 * and only then bind the socket, so the first call ever served sees the restored state.
 */
export async function runDaemon(flags: DaemonFlags): Promise<void> {
  const log = createLogger({ level: flags.logLevel as never, name: 'terwayd' });
  const running: Running = {};
  const restoring = new AbortController();
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= shutdown(running, log, signal, restoring).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  try {
    const config: DaemonConfig =
      flags.config === undefined ? DEFAULT_CONFIG : loadConfigFile(flags.config);
    // Checked with the config: a typo must not first cost a restore from the cloud.
    const metricsAddress: ListenAddress | undefined =
      flags.metricsAddress === undefined
        ? undefined
        : parseListenAddress(flags.metricsAddress, '--metrics-address');
    const lbSyncWaitMs = durationFlagOf(
      '--lb-sync-wait',
      flags.lbSyncWait,
      DEFAULT_LB_SYNC_WAIT_MS,
      'for no wait',
    );
    const lbCollectIntervalMs = durationFlagOf(
      '--lb-collect-interval',
      flags.lbCollectInterval,
      DEFAULT_FLOW_COLLECT_INTERVAL_MS,
      'for no collection',
    );
    const lbFlowTableSize =
      flags.lbFlowTableSize === undefined
        ? DEFAULT_FLOW_TABLE_SIZE
        : parseFlowTableSize(flags.lbFlowTableSize, '--lb-flow-table-size');
    // Checked before the restore too; only the zone's default needs the cloud.
    const nodeName = nodeNameOf(flags.nodeName, log);
    const givenZone = zoneFlag(flags.zone);
    if (config.unknownKeys.length > 0) {
      log.warn({ keys: config.unknownKeys }, 'ignoring eni_conf keys terway-node does not know');
    }
    const stateDir = resolve(flags.stateDir);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    running.lock = await lockStateDir(stateDir);
    running.stateDir = stateDir;
    const socketPath = await prepareSocketPath(flags.socket);
    const store = await LmdbPodStore.open(stateDir);
    running.store = store;
    if (store.corruptKeys().length > 0) {
      log.error(
        { keys: store.corruptKeys(), store: store.path },
        'pod records that cannot be read were skipped: the IPs they held are not reserved and may be handed out again',
      );
    }
    // Served from here on, before the restore from the cloud: a start stuck on a failing cloud
    // shows its calls failing, and a port another process holds refuses the start at once. The
    // pool's and the CNI's series appear once those exist.
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    if (metricsAddress !== undefined) {
      running.metrics = await serveMetrics({ address: metricsAddress, registry, log });
      log.info({ url: running.metrics.url }, 'serving Prometheus metrics');
    }
    running.cloud = await createCloud({ config, stateDir, clock: systemClock, log, registry });
    const wiring = await createDatapath({
      config,
      cloud: running.cloud.cloud,
      cloudMode: running.cloud.mode,
      clock: systemClock,
      log,
      serviceLb: {
        pinDir: flags.bpfPinDir,
        objectPath: flags.bpfObject,
        hook: flags.lbHook,
        thisNode: {
          name: nodeName,
          zone: nodeZoneOf(givenZone, running.cloud.zoneId, log),
        },
        servicesFile: flags.services,
        kubeconfig: flags.kubeconfig,
        inCluster: flags.services === undefined && isInCluster(),
        registry,
        syncWaitMs: lbSyncWaitMs,
        flowCollectIntervalMs: lbCollectIntervalMs,
        flowTableSize: lbFlowTableSize,
      },
    });
    running.serviceLb = wiring.serviceLb;
    running.pool = await restorePool({
      cloud: wiring.cloud,
      store: running.store,
      options: config,
      clock: systemClock,
      log,
      signal: restoring.signal,
      unclaimedGraceMs: config.unclaimedIpGracePeriodMs,
      idleAtShutdown: takeIdleIps(stateDir),
    });
    registerPoolMetrics(registry, running.pool);
    const ipam = new Ipam(running.pool, running.store, systemClock, log);
    const pods = new PodNetwork(ipam, wiring.runtime, log, running.pool);
    const podsNotRefreshed = await pods.resync();
    await running.serviceLb?.finishStart(podsNotRefreshed);
    const observe = registerCniMetrics(registry);
    running.server = await serveOnUnixSocket(socketPath, {
      backend: backendService({
        pods,
        pool: running.pool,
        clock: systemClock,
        log,
        observe,
        serviceSync: running.serviceLb?.firstStateGate,
        servicesPending: () => servicesPendingReason(running.serviceLb),
      }),
      introspection: introspectionService({
        pods,
        pool: running.pool,
        cloud: running.cloud.cloud,
        ...(running.serviceLb === undefined ? {} : { lb: running.serviceLb }),
        log,
      }),
    });
    running.pool.start();
    log.info(
      { socket: socketPath, stateDir, pid: process.pid, config: flags.config ?? '(defaults)' },
      'terwayd is serving',
    );
  } catch (thrown) {
    if (stopping !== undefined) return;
    const error = toTerwayError(thrown);
    // Refusals (bad config, already running) are expected outcomes: a stack would only bury the
    // message. Anything else is a bug and keeps its stack.
    const detail = error.code === 'INTERNAL' ? { err: error } : {};
    log.fatal({ code: error.code, ...detail }, `terwayd cannot start: ${error.message}`);
    writeSync(2, `terwayd: ${error.message}\n`);
    await shutdown(running, log, 'startup failure', restoring);
    process.exit(error.code === 'INVALID_CONFIG' ? 2 : 1);
  }
}

async function shutdown(
  running: Running,
  log: Logger,
  reason: string,
  restoring: AbortController,
): Promise<void> {
  log.info({ reason }, 'terwayd is stopping');
  restoring.abort();
  // ADDs held for the Service LB's first state are answered now, within the grace period.
  running.serviceLb?.firstStateGate.close();
  if (running.server !== undefined) {
    await shutdownServer(running.server, SHUTDOWN_GRACE_MS, () =>
      log.warn(
        { graceMs: SHUTDOWN_GRACE_MS },
        'calls still running after the grace period; cutting them off',
      ),
    );
  }
  await running.metrics?.close();
  await running.pool?.stop();
  await running.serviceLb?.stop();
  if (running.pool !== undefined && running.stateDir !== undefined) {
    const idle = running.pool
      .snapshot()
      .enis.flatMap((eni) => eni.ips.filter((ip) => ip.state === 'idle').map((ip) => ip.address));
    try {
      saveIdleIps(running.stateDir, idle);
    } catch (error) {
      log.warn({ err: toTerwayError(error) }, 'could not record the idle IPs for the next start');
    }
  }
  await running.cloud?.close();
  await running.store?.close();
  await running.lock?.release();
  log.info('terwayd stopped');
}

function durationFlagOf(
  name: string,
  flag: string | undefined,
  defaultMs: number,
  zeroMeans: string,
): number {
  if (flag === undefined) return defaultMs;
  const result = checkDuration(flag);
  if (result.ok) return result.ms;
  throw new TerwayError(
    'INVALID_CONFIG',
    `${name} ${JSON.stringify(flag)}: ${result.reason}; expected a duration such as ` +
      `"500ms", "10s" or "1m", or 0 ${zeroMeans}`,
  );
}

function nodeNameOf(flag: string | undefined, log: Logger): string {
  const { name, source } = chooseNodeName(flag);
  log.info({ node: name, from: source }, 'node name');
  return name;
}

function nodeZoneOf(fromFlag: string | undefined, instanceZone: string, log: Logger): string {
  const { zone, source } = chooseNodeZone(fromFlag, instanceZone);
  log.info({ zone, from: source }, 'node zone (topology hints)');
  return zone;
}

/** The kubelet sets KUBERNETES_SERVICE_HOST in every pod: the DaemonSet finds its apiserver. */
function isInCluster(): boolean {
  return (process.env['KUBERNETES_SERVICE_HOST'] ?? '') !== '';
}
