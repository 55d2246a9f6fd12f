// The only module that loads @grpc/grpc-js. It is reached through a dynamic import from
// backend-call.ts, so VERSION and every bad-input path never pay for it.
//
// The messages go through the static codecs scripts/gen-proto.mjs generates from the Backend
// proto (protobufjs/minimal only) and a bare grpc-js Client: the shim never loads
// @grpc/proto-loader or builds protobufjs reflection, which cost more than the call itself.
import { Client, credentials } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { BACKEND_METHODS } from '../rpc/generated/backend-methods.js';
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

/** What grpc-js Client.makeUnaryRequest needs to make one call. */
interface UnaryMethod<Request, Reply> {
  path: string;
  serialize: (request: Request) => Buffer;
  deserialize: (bytes: Buffer) => Reply;
}

/** A generated method entry: its path and the static codecs of its two messages. */
interface GeneratedMethod<Request, Decoded> {
  path: string;
  requestType: { encode: (message: Request) => { finish: () => Uint8Array } };
  responseType: { decode: (bytes: Uint8Array) => Decoded };
}

/**
 * Adapts a generated method to grpc-js. A decoded message carries proto3's defaults on its
 * prototype ('' / 0 / false, null for an absent sub-message, [] for a repeated field), which is
 * exactly the proto-loader `__Output` shape (`defaults: true, arrays: true`) the verbs are
 * written against; `Reply extends Decoded` keeps that narrowing the only one allowed.
 */
function unaryMethod<Request, Decoded, Reply extends Decoded>(
  method: GeneratedMethod<Request, Decoded>,
): UnaryMethod<Request, Reply> {
  return {
    path: method.path,
    serialize: (request) => {
      const bytes = method.requestType.encode(request).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes) => method.responseType.decode(bytes) as Reply,
  };
}

const METHODS: {
  [M in BackendMethod]: UnaryMethod<BackendCalls[M]['request'], BackendCalls[M]['reply']>;
} = {
  AllocateIP: unaryMethod(BACKEND_METHODS.AllocateIP),
  ReleaseIP: unaryMethod(BACKEND_METHODS.ReleaseIP),
  GetIPInfo: unaryMethod(BACKEND_METHODS.GetIPInfo),
  Status: unaryMethod(BACKEND_METHODS.Status),
  GarbageCollect: unaryMethod(BACKEND_METHODS.GarbageCollect),
};

/** Makes one unary call on a fresh channel and closes it; failures arrive as CniErrors. */
export function invokeBackend<M extends BackendMethod>(
  target: DaemonTarget,
  method: M,
  request: BackendCalls[M]['request'],
  subject: string | undefined,
): Promise<BackendCalls[M]['reply']> {
  const context = { method, socketPath: target.socketPath, timeoutMs: target.timeoutMs, subject };
  const { path, serialize, deserialize } = METHODS[method] as UnaryMethod<
    BackendCalls[M]['request'],
    BackendCalls[M]['reply']
  >;
  const client = new Client(
    unixTarget(target.socketPath),
    credentials.createInsecure(),
    CHANNEL_OPTIONS,
  );
  return new Promise((resolve, reject) => {
    const finish = (error: ServiceError | null, reply?: BackendCalls[M]['reply']): void => {
      client.close();
      if (error !== null) reject(mapBackendError(error, context));
      else if (reply === undefined) {
        reject(new CniError(CNI_CODES.INTERNAL, `terwayd sent an empty ${method} reply`));
      } else resolve(reply);
    };
    try {
      client.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        request,
        { deadline: Date.now() + target.timeoutMs },
        finish,
      );
    } catch (error) {
      client.close();
      reject(mapBackendError(error, context));
    }
  });
}
