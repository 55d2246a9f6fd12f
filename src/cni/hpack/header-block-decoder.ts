/**
 * HPACK (RFC 7541) header block decoding for the shim's one call: the static table, a dynamic
 * table carried from one block to the next (response headers, then trailers), integers, and
 * string literals raw or Huffman-coded. Decoding only: the shim's own request headers are plain
 * literals that need no HPACK state (../http2-frames.ts).
 *
 * Hand-written because the shim is a fresh process per pod: the HPACK libraries on npm come
 * with stream machinery whose loading costs more than decoding the two header blocks a call gets.
 */
import { Http2ProtocolError } from '../http2-frames.js';
import { decodeHuffman } from './huffman.js';
import { STATIC_TABLE } from './static-table.js';

/** Header fields by name; a repeated name keeps every value, in order. */
export type IncomingHeaders = Record<string, string | string[]>;

/** SETTINGS_HEADER_TABLE_SIZE's initial value; the client never advertises another. */
const TABLE_SIZE = 4096;
/** RFC 7541 §4.1: an entry's size is its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;

interface Field {
  name: string;
  value: string;
  /** The entry's table size: name and value octets, plus 32. */
  size: number;
}

function field(name: Buffer | string, value: Buffer | string): Field {
  const size = Buffer.byteLength(name) + Buffer.byteLength(value) + ENTRY_OVERHEAD;
  return { name: name.toString(), value: value.toString(), size };
}

class Cursor {
  offset = 0;

  constructor(readonly block: Buffer) {}

  get done(): boolean {
    return this.offset >= this.block.length;
  }

  byte(): number {
    const value = this.block[this.offset];
    if (value === undefined) throw new Http2ProtocolError('a truncated header block');
    this.offset++;
    return value;
  }

  /** An integer with an N-bit prefix (§5.1), starting at the current byte. */
  integer(prefixBits: number): number {
    const max = 2 ** prefixBits - 1;
    let value = this.byte() & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw new Http2ProtocolError('an HPACK integer too large');
      const next = this.byte();
      value += (next & 0x7f) * 2 ** shift;
      if ((next & 0x80) === 0) return value;
    }
  }

  /** A string literal's octets (§5.2). */
  string(): Buffer {
    const huffman = ((this.block[this.offset] ?? 0) & 0x80) !== 0;
    const length = this.integer(7);
    if (this.offset + length > this.block.length) {
      throw new Http2ProtocolError('a truncated header block');
    }
    const raw = this.block.subarray(this.offset, this.offset + length);
    this.offset += length;
    if (!huffman) return raw;
    try {
      return decodeHuffman(raw);
    } catch (error) {
      throw new Http2ProtocolError(
        `an undecodable header block: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

export class HeaderBlockDecoder {
  /** Newest first, as the indexes count (§2.3.3). */
  private readonly dynamic: Field[] = [];
  private dynamicSize = 0;
  private maxSize = TABLE_SIZE;

  decode(block: Buffer): IncomingHeaders {
    const headers: IncomingHeaders = {};
    const cursor = new Cursor(block);
    while (!cursor.done) {
      const first = block[cursor.offset] ?? 0;
      let decoded: Field;
      if ((first & 0x80) !== 0) {
        decoded = this.lookup(cursor.integer(7));
      } else if ((first & 0xc0) === 0x40) {
        decoded = this.literal(cursor, 6);
        this.insert(decoded);
      } else if ((first & 0xe0) === 0x20) {
        this.resize(cursor.integer(5));
        continue;
      } else {
        // Without indexing (0000) or never indexed (0001): neither touches the table.
        decoded = this.literal(cursor, 4);
      }
      const { name, value } = decoded;
      const seen = headers[name];
      if (seen === undefined) headers[name] = value;
      else headers[name] = [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    return headers;
  }

  private literal(cursor: Cursor, prefixBits: number): Field {
    const index = cursor.integer(prefixBits);
    const name = index === 0 ? cursor.string() : this.lookup(index).name;
    return field(name, cursor.string());
  }

  private lookup(index: number): Field {
    if (index === 0) throw new Http2ProtocolError('HPACK index 0');
    const fromStatic = STATIC_TABLE[index - 1];
    if (fromStatic !== undefined) return field(fromStatic[0], fromStatic[1]);
    const fromDynamic = this.dynamic[index - STATIC_TABLE.length - 1];
    if (fromDynamic === undefined) {
      throw new Http2ProtocolError(`HPACK index ${index} is beyond the tables`);
    }
    return fromDynamic;
  }

  private insert(entry: Field): void {
    this.dynamic.unshift(entry);
    this.dynamicSize += entry.size;
    this.evict();
  }

  private resize(size: number): void {
    if (size > TABLE_SIZE) {
      throw new Http2ProtocolError(`an HPACK table size update to ${size}, above ${TABLE_SIZE}`);
    }
    this.maxSize = size;
    this.evict();
  }

  private evict(): void {
    while (this.dynamicSize > this.maxSize) {
      const oldest = this.dynamic.pop();
      if (oldest === undefined) break;
      this.dynamicSize -= oldest.size;
    }
  }
}
