/**
 * The (address, port, protocol) of each id the reconciler has handed out, in two typed columns:
 * how it remembers the key of every frontend and backend in the maps without an object apiece.
 * An initial sync registers 100,000 backends and 10,000 frontends at once, and objects kept per
 * key would all be copied by the garbage collector on their way to the old generation.
 */
export class AddressColumns {
  /** id → IPv4 address, a.b.c.d = a·2^24 + …. */
  readonly addrs: Uint32Array;
  /** id → port << 8 | protocol; 0 means "no key under this id" (port 0 is never a key's). */
  readonly portProtos: Uint32Array;

  /** `capacity`: ids run 0..capacity-1. */
  constructor(capacity: number) {
    this.addrs = new Uint32Array(capacity);
    this.portProtos = new Uint32Array(capacity);
  }

  set(id: number, addr: number, port: number, proto: number): void {
    this.addrs[id] = addr;
    this.portProtos[id] = packPortProto(port, proto);
  }

  clear(id: number): void {
    this.portProtos[id] = 0;
  }

  addrOf(id: number): number {
    return this.addrs[id]!;
  }

  portOf(id: number): number {
    return this.portProtos[id]! >>> 8;
  }

  protoOf(id: number): number {
    return this.portProtos[id]! & 0xff;
  }
}

/** The portProtos column's word: port << 8 | protocol, never 0 for a real key. */
export function packPortProto(port: number, proto: number): number {
  return (port << 8) | proto;
}
