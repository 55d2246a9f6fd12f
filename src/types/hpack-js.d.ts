/** The part of hpack.js (untyped CommonJS) the CNI shim uses. */
declare module 'hpack.js' {
  import type { Duplex } from 'node:stream';

  /** Writable side: header-block bytes; readable side (object mode): decoded fields. */
  interface Decompressor extends Duplex {
    /** Decodes what was written so far; a failure is emitted as 'error'. */
    execute(): void;
  }

  const hpack: {
    decompressor: { create(options: { table: { size: number } }): Decompressor };
  };
  export default hpack;
}
