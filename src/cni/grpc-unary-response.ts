/**
 * The response side of the shim's one gRPC call: frames in, a reply body or a CallFailure out.
 * It reads the header blocks (response headers, then trailers, or one trailers-only block) and
 * DATA of the single stream, answers SETTINGS and PING, and turns RST_STREAM and GOAWAY into
 * failures. backend-client.ts owns the connection and the request.
 */
import type { MetadataLike } from '../rpc/error-metadata.js';
import type { IncomingHeaders } from './hpack/header-block-decoder.js';
import { HeaderBlockDecoder } from './hpack/header-block-decoder.js';
import type { Frame } from './http2-frames.js';
import { encodeFrame, Flag, framePayload, FrameType, Http2ProtocolError } from './http2-frames.js';

/** gRPC status codes the client itself produces. */
export const DEADLINE_EXCEEDED = 4;
export const INTERNAL = 13;
export const UNAVAILABLE = 14;

/** The one stream this connection ever opens (client streams are odd, starting at 1). */
export const STREAM_ID = 1;

/** A failed call as the error map reads it: a gRPC status, its message and trailers. */
export interface CallFailure {
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

export function failure(code: number, details: string, headers: IncomingHeaders = {}): CallFailure {
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

/**
 * The response side of the one stream: header blocks (response headers, then trailers, or one
 * trailers-only block), DATA, and what the connection says about the stream.
 */
export class UnaryResponse {
  private readonly decoder = new HeaderBlockDecoder();
  private headerBlock: Buffer[] | undefined;
  private blockEndsStream = false;
  private headers: IncomingHeaders | undefined;
  private readonly chunks: Buffer[] = [];

  constructor(
    /** Writes on the connection: the acks HTTP/2 asks for. */
    private readonly send: (bytes: Buffer) => void,
    private readonly done: (outcome: CallFailure | Buffer) => void,
  ) {}

  onFrame(frame: Frame): void {
    if (this.headerBlock !== undefined && frame.type !== FrameType.CONTINUATION) {
      throw new Http2ProtocolError('a header block interrupted by another frame');
    }
    switch (frame.type) {
      case FrameType.SETTINGS:
        if ((frame.flags & Flag.ACK) === 0) {
          this.send(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
        }
        return;
      case FrameType.PING:
        if ((frame.flags & Flag.ACK) === 0) {
          this.send(encodeFrame(FrameType.PING, Flag.ACK, 0, frame.payload));
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
