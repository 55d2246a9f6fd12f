/**
 * The backends the maps hold, by id and by (address, port, protocol), kept in typed arrays: a
 * 100,000-backend initial sync must not allocate 100,000 objects for the garbage collector to
 * copy. An id's address, port and protocol are also in the shared backend array; these are the
 * daemon's own copy, which the lookup by address needs anyway.
 */
import { IdAllocator } from './id-allocator.js';
import { LB_LIMITS } from './maps/lb-layouts.js';

export class BackendRegistry {
  readonly ids = new IdAllocator('backend', LB_LIMITS.backends);
  private readonly addrs = new Uint32Array(LB_LIMITS.backends);
  /** port << 8 | proto; 0 means "no backend under this id". */
  private readonly portProtos = new Uint32Array(LB_LIMITS.backends);
  /** How many frontends list the backend (ready or draining). At zero it is deleted. */
  private readonly refs = new Int32Array(LB_LIMITS.backends);
  /** port << 8 | proto → signed address → id: numeric keys V8 hashes without allocating. */
  private readonly byAddress = new Map<number, Map<number, number>>();
  private count = 0;

  find(addr: number, port: number, proto: number): number | undefined {
    return this.byAddress.get(portProto(port, proto))?.get(addr | 0);
  }

  add(id: number, addr: number, port: number, proto: number): void {
    const key = portProto(port, proto);
    let byAddr = this.byAddress.get(key);
    if (!byAddr) this.byAddress.set(key, (byAddr = new Map()));
    byAddr.set(addr | 0, id);
    this.addrs[id] = addr;
    this.portProtos[id] = key;
    this.refs[id] = 0;
    this.count++;
  }

  remove(id: number): void {
    const key = this.portProtos[id]!;
    if (key === 0) return;
    const byAddr = this.byAddress.get(key);
    byAddr?.delete(this.addrs[id]! | 0);
    if (byAddr?.size === 0) this.byAddress.delete(key);
    this.portProtos[id] = 0;
    this.refs[id] = 0;
    this.count--;
  }

  has(id: number): boolean {
    return id > 0 && id < LB_LIMITS.backends && this.portProtos[id] !== 0;
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

  /** Every id in use. */
  *allIds(): IterableIterator<number> {
    for (const byAddr of this.byAddress.values()) yield* byAddr.values();
  }

  get size(): number {
    return this.count;
  }
}

function portProto(port: number, proto: number): number {
  // Port 0 is never a backend's, so a stored key is never 0.
  return (port << 8) | proto;
}
