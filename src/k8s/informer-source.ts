/**
 * Cluster mode: Services and EndpointSlices from the Kubernetes API, each through a
 * ResilientInformer (client-node's ListWatch, restarted on failure), into a ServiceTable that
 * tells the sink. The sink hears nothing until both initial lists are in.
 */
import type { V1Service } from '@kubernetes/client-node';

import { TerwayError } from '../errors/terway-error.js';
import type { DesiredStateSink } from '../lb/desired-frontend.js';
import type { Logger } from '../log/logger.js';
import { systemClock } from '../util/clock.js';
import type { Clock } from '../util/clock.js';
import { messageOf } from '../errors/error-message.js';
import {
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  ResilientInformer,
} from './resilient-informer.js';
import { KubeConfig } from './kube-client.js';
import type { LeanEndpointSlice, NodeTopology } from './lean-endpoint-slice.js';
import { projectEndpointSlice, projectService } from './object-projection.js';
import { rawLister } from './raw-list.js';
import type { InformerStatus } from './resilient-informer.js';
import type { EndpointPodIndex } from './endpoint-pods.js';
import { ServiceTable } from './service-table.js';

export const SERVICES_PATH = '/api/v1/services';
export const ENDPOINT_SLICES_PATH = '/apis/discovery.k8s.io/v1/endpointslices';
/** Set by the kubelet in every pod; its absence means there is no in-cluster apiserver. */
const IN_CLUSTER_HOST_ENV = 'KUBERNETES_SERVICE_HOST';

export interface InformerSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly sink: DesiredStateSink;
  readonly logger: Logger;
  /** Schedules restarts; tests pass a FakeClock. */
  readonly clock?: Clock;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Server-side watch timeout; default a random 300–600 s per watch. */
  readonly watchTimeoutSeconds?: number;
  /** The daemon's node and zone: which endpoints `internalTrafficPolicy: Local` and hints keep. */
  readonly thisNode?: NodeTopology;
}

export interface InformerSourceStatus {
  readonly synced: boolean;
  readonly informers: readonly InformerStatus[];
}

/** Loads `--kubeconfig <path>`, or the in-cluster service account when no path is given. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  // client-node would otherwise build `https://undefined:undefined` and fail only at first list.
  if (path === undefined && (process.env[IN_CLUSTER_HOST_ENV] ?? '') === '') {
    throw new TerwayError(
      'INVALID_CONFIG',
      `no kubeconfig given and ${IN_CLUSTER_HOST_ENV} is unset (not running in a pod)`,
    );
  }
  const kubeConfig = new KubeConfig();
  try {
    if (path !== undefined) kubeConfig.loadFromFile(path);
    else kubeConfig.loadFromCluster();
  } catch (error) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `cannot load kubeconfig ${path ?? '(in-cluster)'}: ${messageOf(error)}`,
      { cause: error },
    );
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new TerwayError('INVALID_CONFIG', `kubeconfig ${path ?? '(in-cluster)'} has no cluster`);
  }
  return kubeConfig;
}

export class InformerSource {
  private readonly options: InformerSourceOptions;
  private readonly table: ServiceTable;
  private readonly services: ResilientInformer<V1Service>;
  private readonly endpointSlices: ResilientInformer<LeanEndpointSlice>;
  private readonly syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private started = false;
  private stopped = false;

  constructor(options: InformerSourceOptions) {
    this.options = options;
    this.table = new ServiceTable({
      sink: options.sink,
      logger: options.logger,
      thisNode: options.thisNode,
    });
    const projectSlice = (raw: unknown): LeanEndpointSlice =>
      projectEndpointSlice(raw, options.thisNode);
    const common = {
      kubeConfig: options.kubeConfig,
      logger: options.logger,
      clock: options.clock ?? systemClock,
      initialBackoffMs: options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
      maxBackoffMs: options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      onListed: () => this.maybeSynced(),
    };
    this.services = new ResilientInformer<V1Service>({
      ...common,
      resource: 'services',
      path: SERVICES_PATH,
      list: rawLister(options.kubeConfig, SERVICES_PATH, projectService),
      project: projectService,
      onUpsert: (service) => this.table.upsertService(service),
      onDelete: (service) => this.table.removeService(service),
    });
    this.endpointSlices = new ResilientInformer<LeanEndpointSlice>({
      ...common,
      resource: 'endpointslices',
      path: ENDPOINT_SLICES_PATH,
      list: rawLister(options.kubeConfig, ENDPOINT_SLICES_PATH, projectSlice),
      project: projectSlice,
      onUpsert: (slice) => this.table.upsertEndpointSlice(slice),
      onDelete: (slice) => this.table.removeEndpointSlice(slice),
    });
  }

  /** Starts listing and watching; returns at once. `whenSynced` tells when the lists are in. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { kubeConfig, logger } = this.options;
    logger.info(
      {
        mode: 'cluster',
        apiserver: kubeConfig.getCurrentCluster()?.server,
        context: kubeConfig.getCurrentContext(),
        node: this.options.thisNode?.name,
        zone: this.options.thisNode?.zone,
      },
      'service source: watching Services and EndpointSlices on the Kubernetes API',
    );
    this.services.start();
    this.endpointSlices.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.services.stop(), this.endpointSlices.stop()]);
    for (const waiter of this.syncWaiters.splice(0)) {
      waiter.reject(new TerwayError('NOT_READY', 'service source stopped before it synced'));
    }
  }

  isSynced(): boolean {
    return this.table.isSynced();
  }

  /** The pods the EndpointSlices name, by backend address (for inspection). */
  endpointPods(): EndpointPodIndex {
    return this.table.endpointPods();
  }

  /** Resolves once both initial lists have reached the sink; rejects if stopped before that. */
  whenSynced(): Promise<void> {
    if (this.table.isSynced()) return Promise.resolve();
    if (this.stopped) {
      return Promise.reject(new TerwayError('NOT_READY', 'service source is stopped'));
    }
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  status(): InformerSourceStatus {
    return {
      synced: this.table.isSynced(),
      informers: [this.services.status(), this.endpointSlices.status()],
    };
  }

  private maybeSynced(): void {
    if (this.table.isSynced() || !this.services.isListed() || !this.endpointSlices.isListed()) {
      return;
    }
    this.table.markSynced();
    this.options.logger.info(
      { mode: 'cluster', ...this.table.stats() },
      'service source synced: initial Services and EndpointSlices delivered',
    );
    for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
  }
}
