// The only module that loads @grpc/grpc-js. It is reached through a dynamic import from
// backend-call.ts, so VERSION and every bad-input path never pay for it.
import { credentials } from '@grpc/grpc-js';
import type { CallOptions, ServiceError } from '@grpc/grpc-js';
import type { AllocateIPReply__Output } from '../rpc/generated/terway/v1/AllocateIPReply.js';
import type { AllocateIPRequest } from '../rpc/generated/terway/v1/AllocateIPRequest.js';
import type { GarbageCollectReply__Output } from '../rpc/generated/terway/v1/GarbageCollectReply.js';
import type { GarbageCollectRequest } from '../rpc/generated/terway/v1/GarbageCollectRequest.js';
import type { GetIPInfoReply__Output } from '../rpc/generated/terway/v1/GetIPInfoReply.js';
import type { GetIPInfoRequest } from '../rpc/generated/terway/v1/GetIPInfoRequest.js';
import type { ReleaseIPReply__Output } from '../rpc/generated/terway/v1/ReleaseIPReply.js';
import type { ReleaseIPRequest } from '../rpc/generated/terway/v1/ReleaseIPRequest.js';
import type { StatusReply__Output } from '../rpc/generated/terway/v1/StatusReply.js';
import type { StatusRequest } from '../rpc/generated/terway/v1/StatusRequest.js';
import { terwayProto } from '../rpc/proto.js';
import { unixTarget } from '../rpc/socket-address.js';
import { CNI_CODES, CniError } from './cni-error.js';
import type { DaemonTarget } from './daemon-target.js';
import { mapBackendError } from './grpc-error-map.js';

/** One call per process: channelz bookkeeping would be pure start-up cost. */
const CHANNEL_OPTIONS = { 'grpc.enable_channelz': 0 } as const;

export interface BackendCalls {
  AllocateIP: { request: AllocateIPRequest; reply: AllocateIPReply__Output };
  ReleaseIP: { request: ReleaseIPRequest; reply: ReleaseIPReply__Output };
  GetIPInfo: { request: GetIPInfoRequest; reply: GetIPInfoReply__Output };
  Status: { request: StatusRequest; reply: StatusReply__Output };
  GarbageCollect: { request: GarbageCollectRequest; reply: GarbageCollectReply__Output };
}

export type BackendMethod = keyof BackendCalls;

type UnaryCall<Req, Reply> = (
  request: Req,
  options: CallOptions,
  callback: (error: ServiceError | null, reply?: Reply) => void,
) => unknown;

/** Makes one unary call on a fresh channel and closes it; failures arrive as CniErrors. */
export function invokeBackend<M extends BackendMethod>(
  target: DaemonTarget,
  method: M,
  request: BackendCalls[M]['request'],
  subject: string | undefined,
): Promise<BackendCalls[M]['reply']> {
  const context = { method, socketPath: target.socketPath, timeoutMs: target.timeoutMs, subject };
  const Backend = terwayProto().terway.v1.Backend;
  const client = new Backend(
    unixTarget(target.socketPath),
    credentials.createInsecure(),
    CHANNEL_OPTIONS,
  );
  const call = client[method] as unknown as UnaryCall<
    BackendCalls[M]['request'],
    BackendCalls[M]['reply']
  >;
  return new Promise((resolve, reject) => {
    const finish = (error: ServiceError | null, reply?: BackendCalls[M]['reply']): void => {
      client.close();
      if (error !== null) reject(mapBackendError(error, context));
      else if (reply === undefined) {
        reject(new CniError(CNI_CODES.INTERNAL, `terwayd sent an empty ${method} reply`));
      } else resolve(reply);
    };
    try {
      call.call(client, request, { deadline: Date.now() + target.timeoutMs }, finish);
    } catch (error) {
      client.close();
      reject(mapBackendError(error, context));
    }
  });
}
