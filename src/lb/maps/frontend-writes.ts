/**
 * The frontend hash updates of one reconcile pass, encoded as they are planned into the key and
 * value arrays the kernel's batch operations take: one syscall per kind per pass, and no Buffer
 * or encoder loop per entry (an initial sync plans tens of thousands).
 *
 * The stores below are struct tw_frontend_key and struct tw_frontend (lb-layouts.ts FRONTEND_KEY
 * and FRONTEND) as little-endian words; a unit test checks them against the layouts' codec, and
 * the layouts are checked against the object's BTF.
 */
import type { BpfMap } from '../../dataplane/bpf/bpf-maps.js';
import { FRONTEND, FRONTEND_KEY } from './lb-layouts.js';
import type { FrontendKeyValue, FrontendValue } from './lb-layouts.js';
import { networkOrderWord, portProtoWord } from './shared-array.js';

const KEY_WORDS = FRONTEND_KEY.size / 4;
const VALUE_WORDS = FRONTEND.size / 4;

/** Fixed-size entries appended as words; grows by doubling. */
class WordRun {
  private words: Uint32Array;
  count = 0;

  constructor(
    private readonly wordsPerEntry: number,
    entries: number,
  ) {
    this.words = new Uint32Array(wordsPerEntry * Math.max(entries, 64));
  }

  /** Room for one more entry; returns the word index it starts at. */
  append(): number {
    const at = this.count * this.wordsPerEntry;
    if (at + this.wordsPerEntry > this.words.length) {
      const grown = new Uint32Array(this.words.length * 2);
      grown.set(this.words.subarray(0, at));
      this.words = grown;
    }
    this.count++;
    return at;
  }

  get array(): Uint32Array {
    return this.words;
  }

  bytes(): Buffer {
    return Buffer.from(this.words.buffer, 0, this.count * this.wordsPerEntry * 4);
  }
}

export class FrontendWrites {
  private readonly upsertKeys: WordRun;
  private readonly upsertValues: WordRun;
  private readonly deleteKeys = new WordRun(KEY_WORDS, 64);

  /**
   * `expectedUpserts`: the most the pass can write (one per frontend it plans), so an initial sync
   * sizes its runs once: doubling to 10,000 entries would allocate twice the memory, and fresh
   * memory is what a large pass pays for most (a page fault per 4 KB touched).
   */
  constructor(expectedUpserts = 0) {
    this.upsertKeys = new WordRun(KEY_WORDS, expectedUpserts);
    this.upsertValues = new WordRun(VALUE_WORDS, expectedUpserts);
  }

  upsert(key: FrontendKeyValue, value: FrontendValue): void {
    writeKey(this.upsertKeys, key);
    const at = this.upsertValues.append();
    const words = this.upsertValues.array;
    words[at] = value.id;
    words[at + 1] = value.slotBase;
    words[at + 2] = value.slotCapacity;
    words[at + 3] = value.backendCount;
    words[at + 4] = value.affinityTimeoutS;
    words[at + 5] = value.flags;
  }

  delete(key: FrontendKeyValue): void {
    writeKey(this.deleteKeys, key);
  }

  get upserts(): number {
    return this.upsertKeys.count;
  }

  get deletes(): number {
    return this.deleteKeys.count;
  }

  applyUpserts(map: BpfMap): void {
    if (this.upserts === 0) return;
    map.updateBatch(this.upsertKeys.bytes(), this.upsertValues.bytes(), this.upserts);
  }

  applyDeletes(map: BpfMap): void {
    if (this.deletes === 0) return;
    map.deleteBatch(this.deleteKeys.bytes(), this.deletes);
  }
}

function writeKey(run: WordRun, key: FrontendKeyValue): void {
  const at = run.append();
  const words = run.array;
  words[at] = networkOrderWord(key.addr);
  words[at + 1] = portProtoWord(key.port, key.proto);
}
