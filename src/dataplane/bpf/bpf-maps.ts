/**
 * The narrow view of a BPF map the Service LB's reconciler programs: opaque fixed-size keys and
 * values (the codecs in src/lb/maps/ encode the structs of bpf/lb_maps.h), written and read in
 * batches. The native addon implements it over the kernel (native-bpf.ts); MemoryBpfMap
 * (memory-bpf-map.ts) implements it in memory for unit tests.
 *
 * Buffers hold `count` entries back to back: `keySize` bytes per key, `valueStride` bytes per
 * value. valueStride equals valueSize except for per-CPU maps, whose values carry one slot per
 * possible CPU, each rounded up to 8 bytes.
 */
import { TerwayError } from '../../errors/terway-error.js';

/** Element flags of an update, as the kernel defines them. */
export const BPF_ANY = 0;
/** Create only: fails with EEXIST when the key is present. */
export const BPF_NOEXIST = 1;
/** Update only: fails with ENOENT when the key is absent. */
export const BPF_EXIST = 2;
export type BpfUpdateFlags = typeof BPF_ANY | typeof BPF_NOEXIST | typeof BPF_EXIST;

export interface BpfMapDump {
  /** `count` keys back to back. */
  readonly keys: Buffer;
  /** `count` values back to back, `valueStride` bytes each, in the keys' order. */
  readonly values: Buffer;
  readonly count: number;
}

declare const dumpCursorBrand: unique symbol;
/** Where a walk in pages (dumpPageAsync) resumes: opaque, from the page before. */
export type BpfDumpCursor = { readonly [dumpCursorBrand]: true };

export interface BpfMapDumpPage extends BpfMapDump {
  /** Where the next page starts; undefined when this page was the last. */
  readonly next: BpfDumpCursor | undefined;
}

export interface BpfMap {
  /** The kernel's map name (at most 15 characters), e.g. tw_fe_v1. */
  readonly name: string;
  /** libbpf's type name: hash, lru_hash, array, percpu_hash, ... */
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  /** Bytes per value in buffers (see the top of this file). */
  readonly valueStride: number;
  readonly maxEntries: number;
  /**
   * Writes `count` entries in order. A failure (a full map: E2BIG) throws a BPF_ERROR and leaves
   * the entries before the failing one written. Returns `count`.
   */
  updateBatch(keys: Buffer, values: Buffer, count: number, flags?: BpfUpdateFlags): number;
  /** Deletes `count` keys; keys that are not present are skipped. Returns how many were deleted. */
  deleteBatch(keys: Buffer, count: number): number;
  /** The value (valueStride bytes) or undefined when the key is absent. */
  lookup(key: Buffer): Buffer | undefined;
  /** Every entry, in the map's iteration order. */
  dump(): BpfMapDump;
  /**
   * dump() off the event loop: the kernel walks a large hash map for a tenth of a second or more,
   * which on the daemon's thread would hold up every other call. Rejects as dump() throws.
   */
  dumpAsync(): Promise<BpfMapDump>;
  /**
   * One page of a walk, off the event loop like dumpAsync: about `pageEntries` entries (more when
   * one hash bucket holds more), from the start (no cursor) or where the page before ended. A walk
   * in pages holds one page at a time, and entries may be deleted between pages. Like any walk of
   * a map that changes under it, it may miss an entry made meanwhile.
   */
  dumpPageAsync(cursor: BpfDumpCursor | undefined, pageEntries: number): Promise<BpfMapDumpPage>;
  /** Releases the map; idempotent. Later calls throw EBADF. */
  close(): void;
}

/** Entries per page of a walk in pages, by default: 16,384 flows are 1.2 MB of keys and values. */
export const DUMP_PAGE_ENTRIES = 16_384;

/**
 * The map's pages, one dumpPageAsync at a time: the caller may act on a page (delete from it)
 * before the next is read.
 */
export async function* dumpPages(
  map: BpfMap,
  pageEntries: number = DUMP_PAGE_ENTRIES,
): AsyncGenerator<BpfMapDump> {
  let cursor: BpfDumpCursor | undefined;
  do {
    const page = await map.dumpPageAsync(cursor, pageEntries);
    yield page;
    cursor = page.next;
  } while (cursor !== undefined);
}

/**
 * The errno name behind a BPF_ERROR (ENOENT, E2BIG, EEXIST, ...), for callers that act on it;
 * undefined for anything else.
 */
export function bpfErrno(error: unknown): string | undefined {
  if (!(error instanceof TerwayError) || error.code !== 'BPF_ERROR') return undefined;
  const cause = error.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** Errnos after which the same call may succeed later. */
const RETRYABLE_ERRNOS = new Set(['EAGAIN', 'EBUSY', 'EINTR', 'ENOMEM']);

/**
 * Wraps an error that carries an errno name as `code` (the native addon's errors do) into a
 * BPF_ERROR with the same message; bpfErrno() reads the name back from its cause.
 */
export function toBpfError(cause: Error & { code?: unknown }): TerwayError {
  const errno = typeof cause.code === 'string' ? cause.code : '';
  return new TerwayError('BPF_ERROR', cause.message, {
    cause,
    retryable: RETRYABLE_ERRNOS.has(errno),
  });
}

/** A BPF_ERROR for `errno`, shaped like the native addon's: "<message>: <errno>". */
export function bpfError(errno: string, message: string): TerwayError {
  return toBpfError(Object.assign(new Error(`${message}: ${errno}`), { code: errno }));
}

/** Iterates a dump's entries as (key, value) views into its buffers (no copies). */
export function* dumpEntries(
  map: Pick<BpfMap, 'keySize' | 'valueStride'>,
  dump: BpfMapDump,
): Generator<[key: Buffer, value: Buffer]> {
  for (let i = 0; i < dump.count; i++) {
    yield [
      dump.keys.subarray(i * map.keySize, (i + 1) * map.keySize),
      dump.values.subarray(i * map.valueStride, (i + 1) * map.valueStride),
    ];
  }
}
