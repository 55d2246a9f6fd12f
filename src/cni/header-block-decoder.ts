/**
 * HPACK header blocks from terwayd, decoded by hpack.js. One decoder per connection: its dynamic
 * table carries over from the response headers to the trailers.
 */
import hpack from 'hpack.js';

import { Http2ProtocolError } from './http2-frames.js';

/** Header fields by name; a repeated name keeps every value, in order. */
export type IncomingHeaders = Record<string, string | string[]>;

/** SETTINGS_HEADER_TABLE_SIZE's initial value; the client never advertises another. */
const TABLE_SIZE = 4096;

export class HeaderBlockDecoder {
  private readonly decompressor = hpack.decompressor.create({ table: { size: TABLE_SIZE } });
  private failure: Error | undefined;

  constructor() {
    this.decompressor.on('error', (error: Error) => (this.failure = error));
  }

  decode(block: Buffer): IncomingHeaders {
    this.decompressor.write(block);
    this.decompressor.execute();
    if (this.failure !== undefined) {
      throw new Http2ProtocolError(`an undecodable header block: ${this.failure.message}`);
    }
    const headers: IncomingHeaders = {};
    for (;;) {
      const field = this.decompressor.read() as { name: string; value: string } | null;
      if (field === null) return headers;
      const seen = headers[field.name];
      if (seen === undefined) headers[field.name] = field.value;
      else headers[field.name] = [...(Array.isArray(seen) ? seen : [seen]), field.value];
    }
  }
}
