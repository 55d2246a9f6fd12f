// The shim's gRPC client: one unary call over HTTP/2 on the daemon's unix socket, framed by hand
// (http2-frames.ts) over an exchange (transport/: blocking syscalls, or node:net), with the static
// codecs scripts/gen-proto.mjs generates (protobufjs/minimal only). A gRPC library, or even node:http2, is start-up cost a one-call
// process never earns back.
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
import { CNI_CODES, CniError } from './cni-error.js';
import type { DaemonTarget } from './daemon-target.js';
import { mapBackendError } from './grpc-error-map.js';
import type { CallFailure } from './grpc-unary-response.js';
import { failure, INTERNAL, STREAM_ID, UnaryResponse } from './grpc-unary-response.js';
import { chooseExchange } from './transport/choose-exchange.js';
import type { Exchange } from './transport/exchange.js';
import {
  CLIENT_PREFACE,
  encodeClientSettings,
  encodeData,
  encodeFrame,
  encodeLiteralHeaders,
  Flag,
  FrameReader,
  FrameType,
} from './http2-frames.js';

export interface BackendCalls {
  AllocateIP: { request: AllocateIPRequest; reply: AllocateIPReply__Output };
  ReleaseIP: { request: ReleaseIPRequest; reply: ReleaseIPReply__Output };
  GetIPInfo: { request: GetIPInfoRequest; reply: GetIPInfoReply__Output };
  Status: { request: StatusRequest; reply: StatusReply__Output };
  GarbageCollect: { request: GarbageCollectRequest; reply: GarbageCollectReply__Output };
}

export type BackendMethod = keyof BackendCalls;

/** What one call needs: the method's path and its two codecs. */
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
 * Adapts a generated method. A decoded message carries proto3's defaults on its prototype
 * ('' / 0 / false, null for an absent sub-message, [] for a repeated field), which is exactly the
 * proto-loader `__Output` shape (`defaults: true, arrays: true`) the verbs are written against;
 * `Reply extends Decoded` keeps that narrowing the only one allowed.
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

/** Far above any reply terwayd sends (a few hundred bytes); a bigger one waits for the deadline. */
const REPLY_WINDOW_BYTES = 4 * 1024 * 1024;

/** A gRPC length-prefixed message: uncompressed flag, 4-byte length, the bytes. */
function lengthPrefixed(message: Buffer): Buffer {
  const body = Buffer.allocUnsafe(5 + message.length);
  body[0] = 0;
  body.writeUInt32BE(message.length, 1);
  message.copy(body, 5);
  return body;
}

/** The request as one write: the server may act on it before our SETTINGS arrive. */
function requestBytes(path: string, body: Buffer, timeoutMs: number): Buffer {
  const headers = encodeLiteralHeaders([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ['grpc-timeout', `${Math.max(1, Math.round(timeoutMs))}m`],
  ]);
  return Buffer.concat([
    CLIENT_PREFACE,
    encodeClientSettings(REPLY_WINDOW_BYTES),
    encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, STREAM_ID, headers),
    ...encodeData(STREAM_ID, body),
  ]);
}

/** Makes one unary call on a fresh connection and closes it; failures are CniErrors. */
export async function invokeBackend<M extends BackendMethod>(
  target: DaemonTarget,
  method: M,
  request: BackendCalls[M]['request'],
  subject: string | undefined,
  exchange?: Exchange,
): Promise<BackendCalls[M]['reply']> {
  const context = { method, socketPath: target.socketPath, timeoutMs: target.timeoutMs, subject };
  const { path, serialize, deserialize } = METHODS[method] as UnaryMethod<
    BackendCalls[M]['request'],
    BackendCalls[M]['reply']
  >;
  let body: Buffer;
  try {
    body = lengthPrefixed(serialize(request));
  } catch (error) {
    throw mapBackendError(error instanceof Error ? error : new Error(String(error)), context);
  }
  const send = exchange ?? (await chooseExchange());
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (outcome: CallFailure | Error | Buffer): void => {
      if (settled) return;
      settled = true;
      if (!Buffer.isBuffer(outcome)) {
        reject(mapBackendError(outcome, context));
        return;
      }
      const length = outcome.length >= 5 ? outcome.readUInt32BE(1) : -1;
      if (length < 0 || outcome.length < 5 + length || outcome[0] !== 0) {
        reject(
          mapBackendError(
            failure(INTERNAL, `a malformed ${method} reply (${outcome.length} bytes)`),
            context,
          ),
        );
        return;
      }
      let reply: BackendCalls[M]['reply'] | undefined;
      try {
        reply = deserialize(outcome.subarray(5, 5 + length));
      } catch (error) {
        reject(
          mapBackendError(
            failure(INTERNAL, `undecodable ${method} reply: ${String(error)}`),
            context,
          ),
        );
        return;
      }
      if (reply === undefined) {
        reject(new CniError(CNI_CODES.INTERNAL, `terwayd sent an empty ${method} reply`));
      } else resolve(reply);
    };
    let reply: (bytes: Buffer) => void = () => undefined;
    const response = new UnaryResponse((bytes) => reply(bytes), finish);
    const reader = new FrameReader();
    send(target, requestBytes(path, body, target.timeoutMs), {
      onData: (chunk, sendBack) => {
        reply = sendBack;
        try {
          for (const frame of reader.push(chunk)) {
            response.onFrame(frame);
            if (settled) return true;
          }
        } catch (error) {
          finish(
            failure(
              INTERNAL,
              `a broken HTTP/2 reply: ${error instanceof Error ? error.message : String(error)}`,
            ),
          );
        }
        return settled;
      },
      onFailure: finish,
    });
  });
}
