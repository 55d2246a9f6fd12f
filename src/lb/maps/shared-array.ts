/**
 * An array map the daemon writes with plain stores: the kernel's BPF_F_MMAPABLE array mapped into
 * the daemon's memory (or, in tests, an ordinary ArrayBuffer). Each value is read or written as
 * whole 32-bit words through a Uint32Array, so the program never sees a half-written word; where a
 * value spans two words, the writers below order the stores so a torn read is harmless.
 */
import { TerwayError } from '../../errors/terway-error.js';

export interface SharedArray {
  readonly name: string;
  /** Bytes per element: the value size rounded up to 8, as the kernel lays out arrays. */
  readonly elementSize: number;
  readonly maxEntries: number;
  readonly words: Uint32Array;
}

export function sharedArray(
  name: string,
  valueSize: number,
  maxEntries: number,
  memory: ArrayBuffer,
): SharedArray {
  const elementSize = Math.ceil(valueSize / 8) * 8;
  if (memory.byteLength < elementSize * maxEntries) {
    throw new TerwayError(
      'BPF_ERROR',
      `${name}: ${memory.byteLength} bytes mapped, ${elementSize * maxEntries} needed`,
    );
  }
  return { name, elementSize, maxEntries, words: new Uint32Array(memory) };
}

/** The little-endian word whose bytes, in memory order, are `value` in network order. */
export function networkOrderWord(value: number): number {
  return (
    (((value & 0xff) << 24) |
      ((value & 0xff00) << 8) |
      ((value >>> 8) & 0xff00) |
      ((value >>> 24) & 0xff)) >>>
    0
  );
}

/**
 * The second word of struct tw_backend and of struct tw_frontend_key, which begin alike: the
 * port in network order, then the protocol, then a byte of flags (tw_frontend_key's padding).
 */
export function portProtoWord(port: number, proto: number, flags = 0): number {
  return (((port & 0xff) << 8) | (port >>> 8) | (proto << 16) | (flags << 24)) >>> 0;
}

function checkIndex(array: SharedArray, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= array.maxEntries) {
    throw new TerwayError(
      'BPF_ERROR',
      `${array.name}: index ${index} outside 0..${array.maxEntries - 1}`,
    );
  }
  return (index * array.elementSize) >>> 2;
}

/**
 * struct tw_backend {__be32 addr; __be16 port; __u8 proto; __u8 flags;} as two words. The second
 * word goes first and the address last: the program treats addr 0 as "no backend", so a reader
 * never sees a live address with a half-written port.
 */
export function writeBackend(
  array: SharedArray,
  id: number,
  addr: number,
  port: number,
  proto: number,
  flags = 0,
): void {
  const at = checkIndex(array, id);
  array.words[at + 1] = portProtoWord(port, proto, flags);
  array.words[at] = networkOrderWord(addr);
}

/** Clears the address first: from that store on, flows on this backend end. */
export function clearBackend(array: SharedArray, id: number): void {
  const at = checkIndex(array, id);
  array.words[at] = 0;
  array.words[at + 1] = 0;
}

export function readBackend(
  array: SharedArray,
  id: number,
): { addr: number; port: number; proto: number; flags: number } | undefined {
  const at = checkIndex(array, id);
  const addrWord = array.words[at]!;
  if (addrWord === 0) return undefined;
  const second = array.words[at + 1]!;
  const portBytes = second & 0xffff;
  return {
    addr: networkOrderWord(addrWord),
    port: ((portBytes & 0xff) << 8) | (portBytes >>> 8),
    proto: (second >>> 16) & 0xff,
    flags: second >>> 24,
  };
}

/** tw_slot[index] = backend id (0 = none). */
export function writeSlot(array: SharedArray, index: number, backendId: number): void {
  array.words[checkIndex(array, index)] = backendId;
}

export function readSlot(array: SharedArray, index: number): number {
  return array.words[checkIndex(array, index)]!;
}
