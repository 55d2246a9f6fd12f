/**
 * The gates (tw_fe_gate and tw_be_gate in bpf/lb_maps.h): bitmaps over (address, port, protocol)
 * that the programs read before any hash lookup. The egress program reads the frontend gate: a
 * clear bit tells it "not a service" for one array read, a set bit lets an established flow go
 * straight to its conntrack entry. The ingress program reads the backend gate: a clear bit tells
 * it "not a reply from a backend". A bit is set while at least one key hashes to it, so the
 * daemon counts the keys per bit and writes the bitmap with plain stores through its mapping.
 *
 * The bitmap itself holds the counts 0 and 1; a byte per bit counts the keys beyond the first, and
 * is read only for a bit already set: with 110,000 keys about one set bit in ten is shared, so an
 * initial sync touches the 512 KB of counts about 11,000 times and never for the other keys. (A
 * Map of the shared bits did the same in less memory, but its inserts cost 300-500 ns each on 2
 * vCPUs, 5 ms of a 10,000-Service sync.) The rare bit with more than 256 keys counts on in a Map.
 *
 * The ordering rule that keeps an entry from ever hiding behind a clear bit: a key's bit is set
 * before its map entry is written (add, while planning), and cleared only after the entry is gone
 * (remove, once the pass has deleted it).
 */
import { TerwayError } from '../../errors/terway-error.js';
import { GATE_BITS_LOG2 } from './lb-layouts.js';
import type { SharedArray } from './shared-array.js';
import { networkOrderWord } from './shared-array.js';

export const GATE_BITS = 2 ** GATE_BITS_LOG2;

/** What a gate is keyed by: an IPv4 address as a number (a.b.c.d = a·2^24 + …), a port, a protocol. */
export interface GateKey {
  readonly addr: number;
  readonly port: number;
  readonly proto: number;
}

/**
 * tw_gate_hash(): the bit of (addr, port, proto), port in host order. The program reads the
 * address and port from the packet in network order as little-endian integers, so they are
 * converted to that reading first.
 */
export function gateBit(addr: number, port: number, proto: number): number {
  const addrWord = networkOrderWord(addr);
  const portWord = ((port & 0xff) << 8) | (port >>> 8);
  let h = Math.imul(addrWord, 0x9e3779b1) ^ Math.imul((portWord << 8) | proto, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> (32 - GATE_BITS_LOG2);
}

export class KeyGate {
  /** Bit → how many keys beyond the first it has, up to 255. */
  private readonly extraKeys = new Uint8Array(GATE_BITS);
  /** Bit → keys beyond the first 256, for a bit that has that many. */
  private readonly overflow = new Map<number, number>();

  constructor(private readonly array: SharedArray) {
    if (array.maxEntries * 64 !== GATE_BITS || array.elementSize !== 8) {
      throw new TerwayError(
        'BPF_ERROR',
        `${array.name} holds ${array.maxEntries} words of ${array.elementSize} bytes, this ` +
          `daemon's gate needs ${GATE_BITS / 64} of 8: another layout version`,
      );
    }
  }

  /**
   * Counts a key; sets its bit if it is the first there. Before its entry is written. Without a
   * branch on whether the bit was set: the first key to share a bit comes a few hundred keys into
   * an initial sync, after the JIT has compiled this into its callers, and a branch never taken
   * until then would throw each of them back to the interpreter. Storing a set bit again changes
   * nothing a reader can see.
   */
  add(addr: number, port: number, proto: number): void {
    const bit = gateBit(addr, port, proto);
    const { words } = this.array;
    const at = bit >>> 5;
    const word = words[at]!;
    const shared = (word >>> (bit & 31)) & 1;
    words[at] = (word | (1 << (bit & 31))) >>> 0;
    this.countShared(bit, shared);
  }

  /** Uncounts a key; clears its bit if it was the last there. After its entry is gone. */
  remove(addr: number, port: number, proto: number): void {
    const bit = gateBit(addr, port, proto);
    const over = this.overflow.get(bit);
    if (over !== undefined) {
      if (over > 1) this.overflow.set(bit, over - 1);
      else this.overflow.delete(bit);
    } else if (this.extraKeys[bit]! > 0) {
      this.extraKeys[bit]!--;
    } else if (this.isSet(bit)) {
      this.store(bit, false);
    }
  }

  /**
   * Recounts from the keys the maps hold and rewrites every word: what a restore does, so a bit a
   * crashed daemon left set is cleared, and an entry whose bit is missing (maps written by a
   * daemon without the gates) becomes visible.
   */
  rebuild(keys: Iterable<GateKey>): void {
    // Every restore comes here first, so this also writes each page of the counts through before
    // add() reads one: a fresh page read first is the shared zero page, and the store after it a
    // copy-on-write fault that flushes the TLB of every CPU running the daemon (an IPI each).
    this.extraKeys.fill(0);
    this.overflow.clear();
    const next = new Uint32Array(GATE_BITS / 32);
    for (const { addr, port, proto } of keys) {
      const bit = gateBit(addr, port, proto);
      const mask = 1 << (bit & 31);
      if ((next[bit >>> 5]! & mask) === 0) next[bit >>> 5] = (next[bit >>> 5]! | mask) >>> 0;
      else this.countShared(bit, 1);
    }
    // Word by word, each written once: a bit that stays set is never cleared in between.
    const { words } = this.array;
    for (let word = 0; word < next.length; word++) {
      if (words[word] !== next[word]) words[word] = next[word]!;
    }
  }

  /** Whether the bit of (addr, port, proto) is set in the shared array. */
  holds(addr: number, port: number, proto: number): boolean {
    return this.isSet(gateBit(addr, port, proto));
  }

  /** `more` (0 or 1) more keys on a bit that already has one: 0 counts nothing. */
  private countShared(bit: number, more: number): void {
    const extra = this.extraKeys[bit]! + more;
    if (extra <= 255) this.extraKeys[bit] = extra;
    else this.overflow.set(bit, (this.overflow.get(bit) ?? 0) + 1);
  }

  private isSet(bit: number): boolean {
    return ((this.array.words[bit >>> 5]! >>> (bit & 31)) & 1) === 1;
  }

  /**
   * The program's u64 word w is the little-endian pair of 32-bit words 2w and 2w + 1, so bit b of
   * the bitmap is bit b mod 32 of 32-bit word b / 32. One 32-bit store per change: the program's
   * 8-byte read sees each half either before or after it, and both are valid states.
   */
  private store(bit: number, set: boolean): void {
    const { words } = this.array;
    const at = bit >>> 5;
    const mask = 1 << (bit & 31);
    words[at] = (set ? words[at]! | mask : words[at]! & ~mask) >>> 0;
  }
}
