/**
 * The backends the maps hold, by id and by (address, port, protocol), kept in typed arrays: a
 * 100,000-backend initial sync must neither allocate 100,000 objects for the garbage collector to
 * copy nor rehash a Map as it grows. An id's address, port and protocol are also in the shared
 * backend array; these are the daemon's own copy, which the lookup by address needs anyway.
 *
 * The lookup is an open-addressing table of ids with linear probing: a slot holds an id (0 =
 * empty) and the id's own columns hold the key, so the table is one Int32Array, and deletion
 * shifts later entries back instead of leaving tombstones. It doubles as it fills, staying at most
 * half full: sized for the map's limit from the start it would be 4 MB, and every probe of an
 * initial sync a cache miss in it; at 100,000 backends it is 1 MB.
 */
import { BACKEND_PORT_SPACE, type BackendKey } from './desired-frontend.js';
import { AddressColumns, packPortProto } from './address-columns.js';
import { IdAllocator } from './id-allocator.js';
import type { IdList } from './id-list.js';
import { LB_LIMITS } from './maps/lb-layouts.js';

export class BackendRegistry {
  readonly ids: IdAllocator;
  /** Each id's address, port and protocol; the hot loops below read its columns directly. */
  readonly addresses: AddressColumns;
  private readonly addrs: Uint32Array;
  /** port << 8 | proto; 0 means "no backend under this id". */
  private readonly portProtos: Uint32Array;
  /** How many frontends list the backend (ready or draining). At zero it is deleted. */
  private readonly refs: Int32Array;
  private table: Int32Array;
  private mask: number;
  /** The table's size at the map's limit, half full: it never grows past this. */
  private readonly maxTableSize: number;
  private count = 0;
  /** acquireAll's stamps: the ids the current round has listed, without a Set per round. */
  private readonly marks: Uint32Array;
  private round = 0;

  /** `capacity`: ids run 1..capacity-1, as in the backend map. */
  constructor(readonly capacity: number = LB_LIMITS.backends) {
    this.ids = new IdAllocator('backend', capacity);
    this.addresses = new AddressColumns(capacity);
    this.addrs = this.addresses.addrs;
    this.portProtos = this.addresses.portProtos;
    this.refs = new Int32Array(capacity);
    this.maxTableSize = tableSizeFor(capacity);
    this.table = new Int32Array(Math.min(INITIAL_TABLE_SIZE, this.maxTableSize));
    this.mask = this.table.length - 1;
    this.marks = new Uint32Array(capacity);
  }

  /** Starts a round of acquireAll: one per frontend, so it lists each backend once. */
  startMarking(): void {
    if (++this.round > 0xffff_fffe) {
      this.marks.fill(0);
      this.round = 1;
    }
  }

  find(addr: number, port: number, proto: number): number | undefined {
    const id = this.table[this.probe(addr, packPortProto(port, proto))]!;
    return id === 0 ? undefined : id;
  }

  /** Registers a backend the registry does not hold yet under `id` (a restore from the maps). */
  add(id: number, addr: number, port: number, proto: number): void {
    const key = packPortProto(port, proto);
    this.makeRoom();
    this.insert(this.probe(addr, key), id, addr, key);
  }

  /**
   * Appends to `ids` the id of each backend of `keys` (BackendKeys) on protocol `proto`, skipping
   * ids already marked this round (startMarking), and to `created` the ids it registered now, whose
   * entries the caller writes. One call per list and one probe per backend, both the lookup and
   * the insert: this is the inner loop of an initial sync, which runs before the JIT has warmed up.
   */
  acquireAll(keys: readonly BackendKey[], proto: number, ids: IdList, created: IdList): void {
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index]!;
      const addr = Math.floor(key / BACKEND_PORT_SPACE);
      const portKey = packPortProto(key - addr * BACKEND_PORT_SPACE, proto);
      this.makeRoom();
      const at = this.probe(addr, portKey);
      let id = this.table[at]!;
      if (id === 0) {
        id = this.ids.allocate();
        this.insert(at, id, addr, portKey);
        created.push(id);
        // A new id is unmarked: storing without reading first keeps a fresh page of marks from
        // being mapped to the zero page and then copied on write (see rehashInto).
        this.marks[id] = this.round;
        ids.push(id);
        continue;
      }
      if (this.marks[id] === this.round) continue;
      this.marks[id] = this.round;
      ids.push(id);
    }
  }

  /** How many of `keys` on protocol `proto` the registry does not hold: the ids acquiring them takes. */
  countUnknown(keys: readonly BackendKey[], proto: number): number {
    let unknown = 0;
    for (const key of keys) {
      const addr = Math.floor(key / BACKEND_PORT_SPACE);
      if (this.find(addr, key - addr * BACKEND_PORT_SPACE, proto) === undefined) unknown++;
    }
    return unknown;
  }

  private insert(at: number, id: number, addr: number, key: number): void {
    this.addrs[id] = addr;
    this.portProtos[id] = key;
    this.refs[id] = 0;
    this.table[at] = id;
    this.count++;
  }

  remove(id: number): void {
    const key = this.portProtos[id]!;
    if (key === 0) return;
    let hole = this.home(this.addrs[id]!, key);
    while (this.table[hole] !== id) hole = (hole + 1) & this.mask;
    // Backward shift: an entry after the hole moves into it unless its home lies cyclically in
    // (hole, entry], where a probe for it would never have passed the hole.
    for (let next = (hole + 1) & this.mask; this.table[next] !== 0; next = (next + 1) & this.mask) {
      const moving = this.table[next]!;
      const home = this.home(this.addrs[moving]!, this.portProtos[moving]!);
      const staysPut = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (staysPut) continue;
      this.table[hole] = moving;
      hole = next;
    }
    this.table[hole] = 0;
    this.portProtos[id] = 0;
    this.refs[id] = 0;
    this.count--;
  }

  has(id: number): boolean {
    return id > 0 && id < this.capacity && this.portProtos[id] !== 0;
  }

  ref(id: number): void {
    this.refs[id]!++;
  }

  /** Drops one reference; true when it was the last. */
  unref(id: number): boolean {
    return --this.refs[id]! <= 0;
  }

  refsOf(id: number): number {
    return this.refs[id]!;
  }

  get size(): number {
    return this.count;
  }

  /** Slots in the lookup table (a power of two, at least twice the backends it holds). */
  get tableSlots(): number {
    return this.table.length;
  }

  /**
   * Grows the table once, before a pass that may register up to `incoming` backends: an initial
   * sync of 100,000 backends would otherwise double it six times on the way, rehashing about
   * 250,000 entries, each a random write.
   */
  reserve(incoming: number): void {
    const size = Math.min(tableSizeFor(this.count + incoming), this.maxTableSize);
    if (size > this.table.length) this.rehashInto(size);
  }

  /** Doubles the table if one more entry would fill it past half: before a probe that may insert. */
  private makeRoom(): void {
    if ((this.count + 1) * 2 <= this.table.length || this.table.length >= this.maxTableSize) return;
    this.rehashInto(this.table.length * 2);
  }

  private rehashInto(size: number): void {
    const old = this.table;
    // Written through before the probes read it. A fresh page read first is mapped to the shared
    // zero page, and the insert that follows then takes a copy-on-write fault, which flushes the
    // TLB of every CPU running the daemon's threads: an IPI each, costly in a VM. Measured on the
    // 10,000-Service sync: those faults were gone, and with them a few percent of its time.
    this.table = new Int32Array(size).fill(0);
    this.mask = this.table.length - 1;
    for (let at = 0; at < old.length; at++) {
      const id = old[at]!;
      if (id !== 0) this.table[this.probe(this.addrs[id]!, this.portProtos[id]!)] = id;
    }
  }

  /** The slot holding (addr, key), or the empty slot where it would go. */
  private probe(addr: number, key: number): number {
    let at = this.home(addr, key);
    for (let id = this.table[at]!; id !== 0; id = this.table[at]!) {
      if (this.addrs[id] === addr && this.portProtos[id] === key) break;
      at = (at + 1) & this.mask;
    }
    return at;
  }

  /** Where a probe for (addr, key) starts: a multiplicative mix, so neighbouring pod IPs spread. */
  private home(addr: number, key: number): number {
    let hash = Math.imul(addr ^ Math.imul(key, 0x9e3779b1), 0x85ebca6b);
    hash ^= hash >>> 15;
    hash = Math.imul(hash, 0xc2b2ae35);
    return (hash ^ (hash >>> 13)) & this.mask;
  }
}

/** The table's first size (16 KB): a node with a few hundred backends never grows it. */
const INITIAL_TABLE_SIZE = 4096;

/** The power of two at or above twice the limit: probes stay short at any fill. */
function tableSizeFor(limit: number): number {
  return 2 ** Math.ceil(Math.log2(limit * 2));
}
