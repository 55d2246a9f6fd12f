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
import type { Ipam, PodIdentity } from './ipam.js';
import { toPodNetworkMessage } from './pod-network-message.js';
import { callAbortSignal, unary } from './unary-handler.js';

/** Upper bound on how long an allocation waits, whatever deadline the caller set (or none). */
const MAX_ALLOCATE_WAIT_MS = 300_000;
/** Answer this long before the caller's deadline, so it gets our error rather than its own. */
const DEADLINE_MARGIN_MS = 200;

export interface BackendDeps {
  ipam: Ipam;
  pool: IpPool;
  clock: Clock;
  log: Logger;
}

export function backendService(deps: BackendDeps): UntypedServiceImplementation {
  const { ipam, pool, clock, log } = deps;
  return {
    AllocateIP: unary(
      'AllocateIP',
      log,
      async (request: AllocateIPRequest__Output, call): Promise<AllocateIPReply> => {
        const pod = requirePod(request.pod, true);
        if (request.netns === '') throw invalid('netns is required');
        if (request.ifname === '') throw invalid('ifname is required');
        const deadline = allocationDeadline(call, clock.now());
        const result = await ipam.allocate(
          { ...pod, netns: request.netns, ifname: request.ifname },
          deadline,
          callAbortSignal(call),
        );
        return { network: toPodNetworkMessage(result), reused: result.reused };
      },
    ),
    ReleaseIP: unary(
      'ReleaseIP',
      log,
      async (request: ReleaseIPRequest__Output): Promise<ReleaseIPReply> => {
        const pod = requirePod(request.pod, false);
        const released = await ipam.release(pod);
        return { released: released !== undefined, ip: released?.ip ?? '' };
      },
    ),
    GetIPInfo: unary(
      'GetIPInfo',
      log,
      async (request: GetIPInfoRequest__Output): Promise<GetIPInfoReply> => {
        const pod = requirePod(request.pod, false);
        const view = ipam.get(pod);
        if (view === undefined) {
          return { network: null, ipState: '' };
        }
        return { network: toPodNetworkMessage(view), ipState: view.ipState ?? 'invalid' };
      },
    ),
    Status: unary('Status', log, async (): Promise<StatusReply> => {
      const canAllocate = pool.canAllocate();
      return {
        ready: true,
        canAllocate,
        reason: canAllocate ? '' : 'every IP slot of this node is in use',
      };
    }),
    GarbageCollect: unary(
      'GarbageCollect',
      log,
      async (request: GarbageCollectRequest__Output): Promise<GarbageCollectReply> => {
        const valid = new Set(request.validAttachments.map((a) => a.containerId));
        const released = await ipam.garbageCollect(valid);
        return {
          released: released.map((r) => ({
            namespace: r.namespace,
            name: r.name,
            containerId: r.containerId,
          })),
        };
      },
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
