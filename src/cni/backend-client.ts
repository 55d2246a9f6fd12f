// The shim's gRPC client: one unary call over HTTP/2 on the daemon's unix socket, with Node's
// built-in http2 and the static codecs scripts/gen-proto.mjs generates (protobufjs/minimal
// only). A full gRPC client library is start-up cost a one-call process never earns back.
import { connect as http2Connect, constants as h2 } from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
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
import type { MetadataLike } from '../rpc/error-metadata.js';
import { CNI_CODES, CniError } from './cni-error.js';
import type { DaemonTarget } from './daemon-target.js';
import { mapBackendError } from './grpc-error-map.js';

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

/** gRPC status codes the client itself produces. */
const DEADLINE_EXCEEDED = 4;
const INTERNAL = 13;
const UNAVAILABLE = 14;

interface CallFailure {
  code: number;
  details: string;
  metadata: MetadataLike;
}

function trailerView(headers: IncomingHttpHeaders): MetadataLike {
  return {
    get: (key) => {
      const value = headers[key];
      if (value === undefined) return [];
      return Array.isArray(value) ? value : [String(value)];
    },
  };
}

function failure(code: number, details: string, headers: IncomingHttpHeaders = {}): CallFailure {
  return { code, details, metadata: trailerView(headers) };
}

/** grpc-message is percent-encoded (gRPC over HTTP/2, "Status-Message"). */
function decodeMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Makes one unary call on a fresh HTTP/2 connection and closes it; failures are CniErrors. */
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
  return new Promise((resolve, reject) => {
    let settled = false;
    const session = http2Connect('http://localhost', {
      createConnection: () => netConnect(target.socketPath),
    });
    const timer = setTimeout(
      () => finish(failure(DEADLINE_EXCEEDED, 'Deadline exceeded')),
      target.timeoutMs,
    );
    const finish = (error: CallFailure | Error | null, reply?: BackendCalls[M]['reply']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      if (error !== null) reject(mapBackendError(error, context));
      else if (reply === undefined) {
        reject(new CniError(CNI_CODES.INTERNAL, `terwayd sent an empty ${method} reply`));
      } else resolve(reply);
    };
    session.on('error', (error) => finish(error));
    let body: Buffer;
    try {
      const message = serialize(request);
      body = Buffer.alloc(5 + message.length);
      body.writeUInt32BE(message.length, 1);
      message.copy(body, 5);
    } catch (error) {
      finish(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const stream = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${Math.max(1, Math.round(target.timeoutMs))}m`,
    });
    const chunks: Buffer[] = [];
    let status: IncomingHttpHeaders | undefined;
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined)
        status = headers; // trailers-only reply
      else if (Number(headers[h2.HTTP2_HEADER_STATUS]) !== 200) {
        finish(failure(UNAVAILABLE, `HTTP status ${String(headers[h2.HTTP2_HEADER_STATUS])}`));
      }
    });
    stream.on('trailers', (trailers) => (status = trailers));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (error) => finish(failure(UNAVAILABLE, error.message)));
    stream.on('close', () => {
      if (status === undefined) {
        finish(failure(UNAVAILABLE, 'the stream closed without a gRPC status'));
        return;
      }
      const code = Number(status['grpc-status']);
      if (code !== 0) {
        finish(failure(code, decodeMessage(status['grpc-message']), status));
        return;
      }
      const data = Buffer.concat(chunks);
      const length = data.length >= 5 ? data.readUInt32BE(1) : -1;
      if (length < 0 || data.length < 5 + length || data[0] !== 0) {
        finish(failure(INTERNAL, `a malformed ${method} reply (${data.length} bytes)`));
        return;
      }
      try {
        finish(null, deserialize(data.subarray(5, 5 + length)));
      } catch (error) {
        finish(failure(INTERNAL, `undecodable ${method} reply: ${String(error)}`));
      }
    });
    stream.end(body);
  });
}
