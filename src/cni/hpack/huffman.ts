/**
 * HPACK's Huffman code (RFC 7541, Appendix B), decoding only. The code is canonical: within each
 * length, codes are consecutive in symbol order, so the 257 code lengths alone define it and the
 * decoder needs no tree, only the first code and the symbols of each length.
 */

/** Code length of symbols 0..256 (256 is EOS), as 'A' + (length − 5): lengths run 5 to 30. */
const CODE_LENGTHS =
  'ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJ' +
  'BKABABABBBACCBBBABCBAABCCCCCKGJIXPRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRS' +
  'VVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWVZ';

const EOS = 256;
const MAX_LENGTH = 30;

interface CanonicalTable {
  /** Per length: the first code of that length, how many there are, and where their symbols start. */
  firstCode: number[];
  count: number[];
  offset: number[];
  /** Symbols ordered by (length, symbol). */
  symbols: number[];
}

function buildTable(): CanonicalTable {
  const lengths = [...CODE_LENGTHS].map((char) => char.charCodeAt(0) - 65 + 5);
  if (lengths.length !== EOS + 1) throw new Error('the Huffman length table is corrupt');
  const count = new Array<number>(MAX_LENGTH + 1).fill(0);
  for (const length of lengths) count[length] = (count[length] ?? 0) + 1;
  const symbols = lengths
    .map((length, symbol) => ({ length, symbol }))
    .sort((a, b) => a.length - b.length || a.symbol - b.symbol)
    .map((entry) => entry.symbol);
  const firstCode = new Array<number>(MAX_LENGTH + 1).fill(0);
  const offset = new Array<number>(MAX_LENGTH + 1).fill(0);
  let code = 0;
  let seen = 0;
  for (let length = 1; length <= MAX_LENGTH; length++) {
    firstCode[length] = code;
    offset[length] = seen;
    const here = count[length] ?? 0;
    code = (code + here) * 2;
    seen += here;
  }
  return { firstCode, count, offset, symbols };
}

let table: CanonicalTable | undefined;

/** Decodes a Huffman-coded string literal; throws on EOS, over-long padding or non-EOS padding. */
export function decodeHuffman(input: Buffer): Buffer {
  const { firstCode, count, offset, symbols } = (table ??= buildTable());
  const out: number[] = [];
  let code = 0;
  let length = 0;
  for (const byte of input) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const index = code - (firstCode[length] ?? 0);
      if (index < (count[length] ?? 0)) {
        const symbol = symbols[(offset[length] ?? 0) + index] ?? EOS;
        if (symbol === EOS) throw new Error('a Huffman string contains EOS');
        out.push(symbol);
        code = 0;
        length = 0;
      } else if (length >= MAX_LENGTH) {
        throw new Error('an invalid Huffman code');
      }
    }
  }
  // What is left must be a prefix of EOS (all ones), shorter than a byte.
  if (length > 7 || code !== 2 ** length - 1) {
    throw new Error('invalid Huffman padding');
  }
  return Buffer.from(out);
}
