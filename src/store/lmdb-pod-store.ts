import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { open } from 'lmdb';
import type { RootDatabase } from 'lmdb';
import { z } from 'zod';

import { DRIVER_NAMES } from '../dataplane/pod-attachment.js';
import { TerwayError } from '../errors/terway-error.js';
import { isIPv4 } from '../util/ipv4.js';
import { recordKey, recordsInKeyOrder } from './pod-record.js';
import type { PodRecord } from './pod-record.js';
import type { PodStore } from './pod-store.js';

/** File name inside the state directory (plus `-lock`, which lmdb creates beside it). */
export const POD_STORE_FILE = 'pods.lmdb';

/**
 * `z.object` (not strict) so a record written by a newer daemon with extra fields still reads
 * after a rollback; the extra fields are dropped.
 */
const podRecordSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  containerId: z.string().min(1),
  ip: z.string().refine(isIPv4, 'not an IPv4 address'),
  eniId: z.string().min(1),
  netns: z.string(),
  ifname: z.string().min(1),
  allocatedAtMs: z.number().int().nonnegative(),
  driver: z.enum(DRIVER_NAMES).optional(),
});

/**
 * Pod records in LMDB (the closest Node analogue of Terway's bbolt), one JSON value per pod
 * key. Reads are synchronous from the memory map; writes go through lmdb's batched write
 * thread and resolve only once flushed to disk, so an acknowledged record survives `kill -9`
 * and power loss alike.
 *
 * A record that does not parse is never fatal: the daemon must still start and serve the
 * other pods, so bad entries are skipped and reported through `corruptKeys()`.
 *
 * The records are decoded once, at open, and kept: terwayd is the file's only writer, and
 * decoding (JSON and the schema) on every read cost each AllocateIP/ReleaseIP pair five parses
 * of the same record. Reads return copies, as MemoryPodStore does; a write changes the kept
 * record once it is on disk, so a read never sees what a crash could lose.
 */
export class LmdbPodStore implements PodStore {
  /** Every valid record on disk, by key. */
  private readonly records = new Map<string, PodRecord>();
  private readonly corrupt = new Set<string>();
  /** The latest write issued per key and not yet flushed: what `delete` must see. */
  private readonly inflight = new Map<string, { exists: boolean; token: object }>();
  private closed = false;

  private constructor(
    private readonly db: RootDatabase<Buffer, string>,
    readonly path: string,
  ) {}

  /** Opens (creating if needed) `<stateDir>/pods.lmdb`. */
  static async open(stateDir: string): Promise<LmdbPodStore> {
    const path = join(stateDir, POD_STORE_FILE);
    try {
      await mkdir(stateDir, { recursive: true });
      // Defaults keep LMDB's durable sync; noSync/noMetaSync would trade crash safety for speed.
      const db = open<Buffer, string>({ path, encoding: 'binary' });
      const store = new LmdbPodStore(db, path);
      store.load();
      return store;
    } catch (cause) {
      throw storeError(`cannot open pod store ${path}`, cause);
    }
  }

  get(key: string): PodRecord | undefined {
    this.assertOpen();
    const record = this.records.get(key);
    return record === undefined ? undefined : { ...record };
  }

  list(): PodRecord[] {
    this.assertOpen();
    return recordsInKeyOrder(this.records);
  }

  /** Decodes every entry; fills corruptKeys() at startup, where an operator will look for it. */
  private load(): void {
    try {
      for (const { key, value } of this.db.getRange()) {
        const record = this.decode(key, value);
        if (record !== undefined) this.records.set(recordKey(record), record);
      }
    } catch (cause) {
      throw storeError(`cannot list ${this.path}`, cause);
    }
  }

  async put(record: PodRecord): Promise<void> {
    this.assertOpen();
    const parsed = podRecordSchema.safeParse(record);
    if (!parsed.success) {
      throw new TerwayError(
        'INVALID_ARGUMENT',
        `refusing to store an invalid pod record: ${z.prettifyError(parsed.error)}`,
      );
    }
    const key = recordKey(parsed.data);
    const value = Buffer.from(JSON.stringify(parsed.data), 'utf8');
    await this.durably(key, true, () => this.db.put(key, value));
    // Writes to one key complete in the order they were issued, so the last one wins here too.
    this.records.set(key, parsed.data);
    this.corrupt.delete(key);
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.existsNow(key);
    await this.durably(key, false, () => this.db.remove(key));
    this.records.delete(key);
    this.corrupt.delete(key);
    return existed;
  }

  /** Keys whose stored value was not a valid pod record at open, until the key is written. */
  corruptKeys(): string[] {
    return [...this.corrupt].sort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.db.close();
    } catch (cause) {
      throw storeError(`cannot close ${this.path}`, cause);
    }
  }

  /**
   * Whether `key` exists once every write already issued has landed. lmdb's unconditional
   * remove() always resolves `true`, and its async transaction() needs thread-safe N-API
   * callbacks that hang in some sandboxes, so existence is answered from the latest in-flight
   * write of the key, else from the committed data.
   */
  private existsNow(key: string): boolean {
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending.exists;
    try {
      return this.db.doesExist(key);
    } catch (cause) {
      throw storeError(`cannot read ${key} from ${this.path}`, cause);
    }
  }

  /** Runs a write and resolves once it is committed and flushed (`put` alone resolves at
   *  commit, which survives kill -9 but not a power cut). */
  private async durably(
    key: string,
    exists: boolean,
    write: () => Promise<boolean>,
  ): Promise<void> {
    const token = {};
    this.inflight.set(key, { exists, token });
    try {
      await write();
      await this.db.flushed;
    } catch (cause) {
      throw storeError(`cannot ${exists ? 'write' : 'delete'} ${key} in ${this.path}`, cause);
    } finally {
      if (this.inflight.get(key)?.token === token) this.inflight.delete(key);
    }
  }

  private decode(key: unknown, raw: Buffer): PodRecord | undefined {
    const record = parseRecord(raw);
    if (typeof key !== 'string' || record === undefined || recordKey(record) !== key) {
      this.corrupt.add(String(key));
      return undefined;
    }
    return record;
  }

  private assertOpen(): void {
    if (this.closed) throw new TerwayError('STORE_ERROR', `the pod store ${this.path} is closed`);
  }
}

function parseRecord(raw: Buffer): PodRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = podRecordSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const record: PodRecord = parsed.data;
  return record;
}

function storeError(message: string, cause: unknown): TerwayError {
  if (cause instanceof TerwayError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new TerwayError('STORE_ERROR', `${message}: ${detail}`, { cause });
}
