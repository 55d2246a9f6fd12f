// The shim's gRPC client: one unary call over HTTP/2 on the daemon's unix socket, framed by hand
// (http2-frames.ts) on node:net, with the static codecs scripts/gen-proto.mjs generates
// (protobufjs/minimal only). A gRPC library, or even node:http2, is start-up cost a one-call
// process never earns back.
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
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
import type { IncomingHeaders } from './header-block-decoder.js';
import { HeaderBlockDecoder } from './header-block-decoder.js';
import type { Frame } from './http2-frames.js';
import {
  CLIENT_PREFACE,
  encodeClientSettings,
  encodeData,
  encodeFrame,
  encodeLiteralHeaders,
  Flag,
  FrameReader,
  framePayload,
  FrameType,
  Http2ProtocolError,
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

/** gRPC status codes the client itself produces. */
const DEADLINE_EXCEEDED = 4;
const INTERNAL = 13;
const UNAVAILABLE = 14;

/** Far above any reply terwayd sends (a few hundred bytes); a bigger one waits for the deadline. */
const REPLY_WINDOW_BYTES = 4 * 1024 * 1024;

/** The one stream this connection ever opens (client streams are odd, starting at 1). */
const STREAM_ID = 1;

interface CallFailure {
  code: number;
  details: string;
  metadata: MetadataLike;
}

function trailerView(headers: IncomingHeaders): MetadataLike {
  return {
    get: (key) => {
      const value = headers[key];
      if (value === undefined) return [];
      return Array.isArray(value) ? value : [value];
    },
  };
}

function failure(code: number, details: string, headers: IncomingHeaders = {}): CallFailure {
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

/** A gRPC length-prefixed message: uncompressed flag, 4-byte length, the bytes. */
function lengthPrefixed(message: Buffer): Buffer {
  const body = Buffer.allocUnsafe(5 + message.length);
  body[0] = 0;
  body.writeUInt32BE(message.length, 1);
  message.copy(body, 5);
  return body;
}

/**
 * The response side of the one stream: header blocks (response headers, then trailers, or one
 * trailers-only block), DATA, and what the connection says about the stream.
 */
class UnaryResponse {
  private readonly decoder = new HeaderBlockDecoder();
  private headerBlock: Buffer[] | undefined;
  private blockEndsStream = false;
  private headers: IncomingHeaders | undefined;
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly done: (outcome: CallFailure | Buffer) => void,
  ) {}

  onFrame(frame: Frame): void {
    if (this.headerBlock !== undefined && frame.type !== FrameType.CONTINUATION) {
      throw new Http2ProtocolError('a header block interrupted by another frame');
    }
    switch (frame.type) {
      case FrameType.SETTINGS:
        if ((frame.flags & Flag.ACK) === 0) {
          this.socket.write(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
        }
        return;
      case FrameType.PING:
        if ((frame.flags & Flag.ACK) === 0) {
          this.socket.write(encodeFrame(FrameType.PING, Flag.ACK, 0, frame.payload));
        }
        return;
      case FrameType.GOAWAY:
        this.onGoaway(frame.payload);
        return;
      case FrameType.RST_STREAM:
        if (frame.streamId === STREAM_ID) {
          const code = frame.payload.length >= 4 ? frame.payload.readUInt32BE(0) : -1;
          this.done(failure(UNAVAILABLE, `terwayd reset the stream (HTTP/2 error ${code})`));
        }
        return;
      case FrameType.HEADERS:
        if (frame.streamId !== STREAM_ID) return;
        this.headerBlock = [framePayload(frame)];
        this.blockEndsStream = (frame.flags & Flag.END_STREAM) !== 0;
        if ((frame.flags & Flag.END_HEADERS) !== 0) this.endHeaderBlock();
        return;
      case FrameType.CONTINUATION:
        if (this.headerBlock === undefined || frame.streamId !== STREAM_ID) {
          throw new Http2ProtocolError('a CONTINUATION frame outside a header block');
        }
        this.headerBlock.push(frame.payload);
        if ((frame.flags & Flag.END_HEADERS) !== 0) this.endHeaderBlock();
        return;
      case FrameType.DATA:
        if (frame.streamId !== STREAM_ID) return;
        this.chunks.push(framePayload(frame));
        if ((frame.flags & Flag.END_STREAM) !== 0) {
          this.done(failure(UNAVAILABLE, 'the stream closed without a gRPC status'));
        }
        return;
      default:
      // WINDOW_UPDATE, PRIORITY and unknown types change nothing for one small unary call.
    }
  }

  private onGoaway(payload: Buffer): void {
    const lastStream = payload.length >= 8 ? payload.readUInt32BE(0) & 0x7fffffff : 0;
    const code = payload.length >= 8 ? payload.readUInt32BE(4) : -1;
    // A graceful GOAWAY that covers our stream still lets it finish.
    if (code === 0 && lastStream >= STREAM_ID) return;
    const debug = payload.length > 8 ? `: ${payload.subarray(8).toString('utf8')}` : '';
    this.done(failure(UNAVAILABLE, `terwayd closed the connection (HTTP/2 error ${code}${debug})`));
  }

  private endHeaderBlock(): void {
    const block = Buffer.concat(this.headerBlock ?? []);
    this.headerBlock = undefined;
    const fields = this.decoder.decode(block);
    if (this.headers === undefined && !this.blockEndsStream) {
      this.headers = fields;
      const status = fields[':status'];
      if (status !== '200') {
        this.done(failure(UNAVAILABLE, `HTTP status ${String(status)}`));
      }
      return;
    }
    // Trailers, or a trailers-only reply: the call's status is here.
    if (fields['grpc-status'] === undefined) {
      this.done(failure(UNAVAILABLE, 'the stream closed without a gRPC status'));
      return;
    }
    const code = Number(fields['grpc-status']);
    if (code !== 0) {
      this.done(failure(code, decodeMessage(fields['grpc-message']), fields));
      return;
    }
    this.done(Buffer.concat(this.chunks));
  }
}

/** Makes one unary call on a fresh connection and closes it; failures are CniErrors. */
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
    let body: Buffer;
    try {
      body = lengthPrefixed(serialize(request));
    } catch (error) {
      reject(mapBackendError(error instanceof Error ? error : new Error(String(error)), context));
      return;
    }
    const socket = netConnect(target.socketPath);
    const timer = setTimeout(
      () => finish(failure(DEADLINE_EXCEEDED, 'Deadline exceeded')),
      target.timeoutMs,
    );
    const finish = (outcome: CallFailure | Error | Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
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
    const response = new UnaryResponse(socket, finish);
    const reader = new FrameReader();
    socket.on('error', (error) => finish(error));
    socket.on('close', () =>
      finish(failure(UNAVAILABLE, 'terwayd closed the connection mid-call')),
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) {
          response.onFrame(frame);
          if (settled) return;
        }
      } catch (error) {
        finish(
          failure(
            INTERNAL,
            `a broken HTTP/2 reply: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
      }
    });
    // Everything in one write: the server may act on the request before its SETTINGS arrive.
    const headers = encodeLiteralHeaders([
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', path],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['grpc-timeout', `${Math.max(1, Math.round(target.timeoutMs))}m`],
    ]);
    socket.write(
      Buffer.concat([
        CLIENT_PREFACE,
        encodeClientSettings(REPLY_WINDOW_BYTES),
        encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, STREAM_ID, headers),
        ...encodeData(STREAM_ID, body),
      ]),
    );
  });
}
