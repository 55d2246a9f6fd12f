import type { ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { TerwayError } from '../errors/terway-error.js';
import type { IpPool } from '../pool/ip-pool.js';
import type { AllocateIPReply } from '../rpc/generated/terway/v1/AllocateIPReply.js';
import type { AllocateIPRequest__Output } from '../rpc/generated/terway/v1/AllocateIPRequest.js';
import type { GarbageCollectReply } from '../rpc/generated/terway/v1/GarbageCollectReply.js';
import type { GarbageCollectRequest__Output } from '../rpc/generated/terway/v1/GarbageCollectRequest.js';
import type { GetIPInfoReply } from '../rpc/generated/terway/v1/GetIPInfoReply.js';
import type { GetIPInfoRequest__Output } from '../rpc/generated/terway/v1/GetIPInfoRequest.js';
import type { PodRef__Output } from '../rpc/generated/terway/v1/PodRef.js';
import type { ReleaseIPReply } from '../rpc/generated/terway/v1/ReleaseIPReply.js';
import type { ReleaseIPRequest__Output } from '../rpc/generated/terway/v1/ReleaseIPRequest.js';
import type { StatusReply } from '../rpc/generated/terway/v1/StatusReply.js';
import type { Clock } from '../util/clock.js';
import type { PodIdentity } from './ipam.js';
import type { PodNetwork } from './pod-network.js';
import type { ServiceSyncGate } from './service-sync-gate.js';
import { toPodNetworkMessage } from './pod-network-message.js';
import type { CallObserver } from '../observe/cni-metrics.js';
import { callAbortSignal, unary } from './unary-handler.js';

/** Upper bound on how long an allocation waits, whatever deadline the caller set (or none). */
const MAX_ALLOCATE_WAIT_MS = 300_000;
/** Answer this long before the caller's deadline, so it gets our error rather than its own. */
const DEADLINE_MARGIN_MS = 200;

export interface BackendDeps {
  pods: PodNetwork;
  pool: IpPool;
  clock: Clock;
  log: Logger;
  /** Hears of every call's outcome and duration (metrics). */
  observe?: CallObserver;
  /** Holds ADD replies until the Service LB has its first complete state (service-sync-gate.ts). */
  serviceSync?: Pick<ServiceSyncGate, 'waitUntil'>;
  /**
   * Why the Service LB's first complete state is not in its maps yet, undefined once it is
   * (services-readiness.ts): reported by Status, for readiness probes, never for CNI STATUS.
   */
  servicesPending?: () => string | undefined;
}

export function backendService(deps: BackendDeps): UntypedServiceImplementation {
  const { pods, pool, clock, log, observe, serviceSync, servicesPending } = deps;
  return {
    AllocateIP: unary(
      'AllocateIP',
      log,
      async (request: AllocateIPRequest__Output, call): Promise<AllocateIPReply> => {
        const pod = requirePod(request.pod, true);
        requireNetnsPath(request.netns);
        requireIfname(request.ifname);
        const deadline = allocationDeadline(call, clock.now());
        const result = await pods.add(
          { ...pod, netns: request.netns, ifname: request.ifname },
          deadline,
          callAbortSignal(call),
        );
        // After the wiring, not before: the pod's IP and links are made while the LB syncs.
        const held = await serviceSync?.waitUntil(deadline);
        if (held !== undefined && held.waitedMs > 0) {
          log.info(
            { pod: `${pod.namespace}/${pod.name}`, ...held },
            "pod ADD held for the Service LB's first complete state",
          );
        }
        return {
          network: toPodNetworkMessage(result, result.interfaces),
          reused: result.reused,
          fallbackReason: result.fallbackReason ?? '',
        };
      },
      observe,
    ),
    ReleaseIP: unary(
      'ReleaseIP',
      log,
      async (request: ReleaseIPRequest__Output): Promise<ReleaseIPReply> => {
        const pod = requirePod(request.pod, false);
        const released = await pods.del(pod);
        return { released: released !== undefined, ip: released?.ip ?? '' };
      },
      observe,
    ),
    GetIPInfo: unary(
      'GetIPInfo',
      log,
      async (request: GetIPInfoRequest__Output): Promise<GetIPInfoReply> => {
        const pod = requirePod(request.pod, false);
        const checked = await pods.check(pod);
        if (checked === undefined) return { network: null, ipState: '', drift: [] };
        const { view, drift } = checked;
        return {
          network: toPodNetworkMessage(view, await pods.interfacesOf(view)),
          ipState: view.ipState ?? 'invalid',
          drift,
        };
      },
      observe,
    ),
    Status: unary(
      'Status',
      log,
      async (): Promise<StatusReply> => {
        const canAllocate = pool.canAllocate();
        const servicesPendingReason = servicesPending?.();
        return {
          ready: true,
          canAllocate,
          reason: canAllocate ? '' : 'every IP slot of this node is in use',
          servicesPending: servicesPendingReason !== undefined,
          servicesPendingReason: servicesPendingReason ?? '',
        };
      },
      observe,
    ),
    GarbageCollect: unary(
      'GarbageCollect',
      log,
      async (request: GarbageCollectRequest__Output): Promise<GarbageCollectReply> => {
        const valid = new Set(request.validAttachments.map((a) => a.containerId));
        const released = await pods.garbageCollect(valid);
        return {
          released: released.map((r) => ({
            namespace: r.namespace,
            name: r.name,
            containerId: r.containerId,
          })),
        };
      },
      observe,
    ),
  };
}

function requirePod(pod: PodRef__Output | null, full: boolean): PodIdentity {
  if (pod === null) throw invalid('pod is required');
  const identity = { namespace: pod.namespace, name: pod.name, containerId: pod.containerId };
  if (full && (identity.namespace === '' || identity.name === '' || identity.containerId === '')) {
    throw invalid('pod namespace, name and container id are all required');
  }
  if (!full && identity.containerId === '' && (identity.namespace === '' || identity.name === '')) {
    throw invalid('either the pod namespace and name, or its container id, is required');
  }
  return identity;
}

/** Linux's IFNAMSIZ less the terminating NUL. */
const MAX_IFNAME_BYTES = 15;

/**
 * The shim checks these too, but the socket is the trust boundary: nothing that could walk out
 * of a path or smuggle a word into an `ip` command line gets past it.
 */
function requireNetnsPath(netns: string): void {
  if (netns === '') throw invalid('netns is required');
  if (!netns.startsWith('/') || netns.split('/').some((part) => part === '..' || part === '.')) {
    throw invalid(
      `netns ${JSON.stringify(netns)} must be an absolute path without . or .. segments`,
    );
  }
  if (/[\s\0#"'\\]/.test(netns))
    throw invalid(`netns ${JSON.stringify(netns)} has forbidden characters`);
}

function requireIfname(ifname: string): void {
  if (ifname === '') throw invalid('ifname is required');
  if (
    Buffer.byteLength(ifname) > MAX_IFNAME_BYTES ||
    ifname === '.' ||
    ifname === '..' ||
    /[/:\s\0#"'\\]/.test(ifname)
  ) {
    throw invalid(`ifname ${JSON.stringify(ifname)} is not a valid interface name`);
  }
}

function invalid(message: string): TerwayError {
  return new TerwayError('INVALID_ARGUMENT', message);
}

function allocationDeadline(call: ServerUnaryCall<unknown, unknown>, nowMs: number): number {
  const deadline = call.getDeadline();
  const callerMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const cap = nowMs + MAX_ALLOCATE_WAIT_MS;
  if (!Number.isFinite(callerMs)) return cap;
  return Math.min(cap, callerMs - DEADLINE_MARGIN_MS);
}
