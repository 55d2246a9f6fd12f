/** The part of hpack.js (untyped CommonJS) the tests use as a reference encoder and decoder. */
declare module 'hpack.js' {
  import type { Duplex } from 'node:stream';

  interface HeaderToEncode {
    name: string;
    value: string;
    huffman?: boolean;
    neverIndex?: boolean;
    incremental?: boolean;
  }

  /** Writable side (object mode): header lists; readable side: header-block bytes. */
  interface Compressor extends Duplex {
    write(headers: HeaderToEncode[]): boolean;
    updateTableSize(size: number): void;
  }

  /** Writable side: header-block bytes; readable side (object mode): decoded fields. */
  interface Decompressor extends Duplex {
    execute(): void;
  }

  const hpack: {
    compressor: { create(options: { table: { size: number } }): Compressor };
    decompressor: { create(options: { table: { size: number } }): Decompressor };
    'static-table': { table: Array<{ name: string; value: string }> };
  };
  export default hpack;
}
