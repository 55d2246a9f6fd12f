/**
 * Just enough HTTP/2 framing (RFC 9113) for the shim's one unary gRPC call: the client preface,
 * frames out, frames in. The shim is a fresh process per pod, and node:http2 (with the tls and
 * crypto modules it drags in) costs more to load than the whole call takes; a handful of frame
 * types over a plain byte exchange (transport/) does the same job. Header blocks are decoded by
 * hpack/header-block-decoder.ts; the request's own headers need no HPACK state at all.
 */

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

const HEADER_BYTES = 9;
/** SETTINGS_INITIAL_WINDOW_SIZE's identifier. */
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
/** SETTINGS_MAX_FRAME_SIZE's initial value: what we may send and what we accept. */
export const MAX_FRAME_PAYLOAD = 16_384;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export class Http2ProtocolError extends Error {}

const EMPTY: Buffer = Buffer.alloc(0);

export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload = EMPTY,
): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new Http2ProtocolError(`a ${payload.length}-byte frame is over ${MAX_FRAME_PAYLOAD}`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUIntBE(payload.length, 0, 3);
  frame[3] = type;
  frame[4] = flags;
  frame.writeUInt32BE(streamId & 0x7fffffff, 5);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/** DATA frames for `body` on `streamId`, the last one ending the stream. */
export function encodeData(streamId: number, body: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  do {
    const chunk = body.subarray(offset, offset + MAX_FRAME_PAYLOAD);
    offset += chunk.length;
    frames.push(
      encodeFrame(FrameType.DATA, offset >= body.length ? Flag.END_STREAM : 0, streamId, chunk),
    );
  } while (offset < body.length);
  return frames;
}

/**
 * An HPACK header block of literals "without indexing" with raw (not Huffman) strings: valid for
 * any decoder, and it leaves the peer's dynamic table alone, so there is no encoder state.
 */
export function encodeLiteralHeaders(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const nameBytes = Buffer.from(name, 'latin1');
    const valueBytes = Buffer.from(value, 'latin1');
    parts.push(Buffer.of(0x00), hpackLength(nameBytes.length), nameBytes);
    parts.push(hpackLength(valueBytes.length), valueBytes);
  }
  return Buffer.concat(parts);
}

/** An HPACK integer with a 7-bit prefix and the Huffman bit clear (RFC 7541, 5.1). */
function hpackLength(value: number): Buffer {
  if (value < 0x7f) return Buffer.of(value);
  const bytes = [0x7f];
  let rest = value - 0x7f;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/**
 * The client's SETTINGS, then a connection WINDOW_UPDATE: both flow-control windows opened to
 * `windowBytes`, so a reply of up to that size arrives without this client ever sending a
 * WINDOW_UPDATE as it reads (the 64 KiB default would stall a larger one).
 */
export function encodeClientSettings(windowBytes: number): Buffer {
  const settings = Buffer.allocUnsafe(6);
  settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 0);
  settings.writeUInt32BE(windowBytes, 2);
  const increment = Buffer.allocUnsafe(4);
  increment.writeUInt32BE(windowBytes - DEFAULT_WINDOW_BYTES, 0);
  return Buffer.concat([
    encodeFrame(FrameType.SETTINGS, 0, 0, settings),
    encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, increment),
  ]);
}

/** Every flow-control window's size before SETTINGS or WINDOW_UPDATE change it. */
const DEFAULT_WINDOW_BYTES = 65_535;

/** Cuts a byte stream into frames; refuses frames over MAX_FRAME_PAYLOAD (we never raised it). */
export class FrameReader {
  private pending: Buffer = EMPTY;

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER_BYTES) {
      const length = this.pending.readUIntBE(0, 3);
      if (length > MAX_FRAME_PAYLOAD) {
        throw new Http2ProtocolError(`the peer sent a ${length}-byte frame`);
      }
      if (this.pending.length < HEADER_BYTES + length) break;
      frames.push({
        type: this.pending[3]!,
        flags: this.pending[4]!,
        streamId: this.pending.readUInt32BE(5) & 0x7fffffff,
        payload: this.pending.subarray(HEADER_BYTES, HEADER_BYTES + length),
      });
      this.pending = this.pending.subarray(HEADER_BYTES + length);
    }
    return frames;
  }
}

/** A DATA or HEADERS payload without its padding (and, for HEADERS, its priority fields). */
export function framePayload(frame: Frame): Buffer {
  let { payload } = frame;
  let padding = 0;
  if ((frame.flags & Flag.PADDED) !== 0) {
    if (payload.length < 1) throw new Http2ProtocolError('a padded frame without its pad length');
    padding = payload[0]!;
    payload = payload.subarray(1);
  }
  if (frame.type === FrameType.HEADERS && (frame.flags & Flag.PRIORITY) !== 0) {
    payload = payload.subarray(5);
  }
  if (padding > payload.length) throw new Http2ProtocolError('padding longer than the frame');
  return payload.subarray(0, payload.length - padding);
}
