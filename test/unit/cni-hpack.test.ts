/**
 * The shim's HPACK decoder against RFC 7541's own examples and against hpack.js as a reference
 * encoder (Huffman on and off, the dynamic table filling, evicting and resized, never-indexed
 * fields), and its refusals of malformed blocks.
 */
import { describe, expect, test } from '@jest/globals';
import hpack from 'hpack.js';

import { Http2ProtocolError } from '../../src/cni/http2-frames.js';
import { HeaderBlockDecoder } from '../../src/cni/hpack/header-block-decoder.js';
import { decodeHuffman } from '../../src/cni/hpack/huffman.js';
import { STATIC_TABLE } from '../../src/cni/hpack/static-table.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** Encodes each header list as one block with one long-lived compressor. */
function encodeBlocks(
  lists: Array<Array<{ name: string; value: string; huffman?: boolean; neverIndex?: boolean }>>,
  tableSize = 4096,
): Buffer[] {
  const compressor = hpack.compressor.create({ table: { size: tableSize } });
  return lists.map((list) => {
    compressor.write(list);
    const chunks: Buffer[] = [];
    for (
      let chunk = compressor.read() as Buffer | null;
      chunk !== null;
      chunk = compressor.read()
    ) {
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  });
}

/** A deterministic stream of pseudo-random numbers, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('HPACK decoding', () => {
  test('the static table is RFC 7541 Appendix A', () => {
    expect(STATIC_TABLE.map(([name, value]) => ({ name, value }))).toEqual(
      hpack['static-table'].table.map(({ name, value }) => ({ name, value })),
    );
  });

  test('RFC 7541 C.4: three requests with Huffman, sharing one dynamic table', () => {
    const decoder = new HeaderBlockDecoder();
    expect(decoder.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))).toEqual({
      ':method': 'GET',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'www.example.com',
    });
    expect(decoder.decode(hex('8286 84be 5886 a8eb 1064 9cbf'))).toEqual({
      ':method': 'GET',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'www.example.com',
      'cache-control': 'no-cache',
    });
    expect(
      decoder.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')),
    ).toEqual({
      ':method': 'GET',
      ':scheme': 'https',
      ':path': '/index.html',
      ':authority': 'www.example.com',
      'custom-key': 'custom-value',
    });
  });

  test('every byte value survives Huffman coding', () => {
    const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    const [block] = encodeBlocks([[{ name: 'x-all', value, huffman: true }]]);
    // Literal with incremental indexing, new name: 0x40, then the Huffman-coded name and value.
    const decoded = new HeaderBlockDecoder().decode(block!);
    expect(Buffer.from(decoded['x-all'] as string, 'utf8')).toEqual(
      Buffer.from(Buffer.from(value, 'latin1').toString('utf8'), 'utf8'),
    );
    expect(decodeHuffman(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')).toString()).toBe('www.example.com');
  });

  test('agrees with hpack.js over 300 random blocks: table reuse, eviction, resizes, repeats', () => {
    const next = random(7);
    const names = [':status', 'content-type', 'grpc-status', 'grpc-message', 'x-terway-error-code'];
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const text = () =>
      Array.from({ length: Math.floor(next() * 40) }, () =>
        String.fromCharCode(32 + Math.floor(next() * 95)),
      ).join('');
    const lists = Array.from({ length: 300 }, () =>
      Array.from({ length: 1 + Math.floor(next() * 6) }, () => ({
        name:
          next() < 0.7
            ? pick(names)
            : `x-${text()
                .toLowerCase()
                .replace(/[^a-z]/g, '')}n`,
        value: next() < 0.3 ? pick(['200', 'application/grpc', '0', '14']) : text(),
        huffman: next() < 0.6,
        neverIndex: next() < 0.1,
      })),
    );
    // A small table: entries are evicted all the time.
    const blocks = encodeBlocks(lists, 256);
    const decoder = new HeaderBlockDecoder();
    blocks.forEach((block, i) => {
      const expected: Record<string, string | string[]> = {};
      for (const { name, value } of lists[i]!) {
        const seen = expected[name];
        expected[name] =
          seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
      }
      expect(decoder.decode(block)).toEqual(expected);
    });
  });

  test('a table size update evicts, and one above 4096 is refused', () => {
    const decoder = new HeaderBlockDecoder();
    decoder.decode(hex('4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'));
    expect(decoder.decode(hex('be'))).toEqual({ 'custom-key': 'custom-value' });
    // Size 0 empties the table: index 62 is gone.
    expect(() => decoder.decode(hex('20 be'))).toThrow('HPACK index 62 is beyond the tables');
    expect(() => decoder.decode(hex('3fe2 1f'))).toThrow('to 4097, above 4096');
  });

  test('malformed blocks are protocol errors, never a crash or a wrong header', () => {
    const bad = [
      hex('80'), // index 0
      hex('ff80'), // an integer whose continuation never ends
      hex('ffff ffff ffff 7f'), // an integer too large
      hex('0085 f2b2 4a'), // a literal shorter than its length
      hex('8e 0081 ff'), // Huffman padding of 8 bits
      hex('0081 fe 00'), // padding that is not EOS's prefix (0xfe ends in a zero bit)
      hex('0084 ffff ffff'), // a Huffman string containing EOS
    ];
    for (const block of bad) {
      expect(() => new HeaderBlockDecoder().decode(block)).toThrow(Http2ProtocolError);
    }
  });
});
