import { describe, expect, test } from '@jest/globals';

import { FLOW, FRONTEND, FRONTEND_KEY } from '../../src/lb/maps/lb-layouts.js';
import { decode, encode, encodeInto } from '../../src/lb/maps/struct-codec.js';

describe('struct codec', () => {
  test('a frontend key is the address and port in network order, the protocol a byte, padding zero', () => {
    const bytes = encode(FRONTEND_KEY, { addr: 0x0a60000a, port: 0x1f90, proto: 6 });
    expect([...bytes]).toEqual([10, 96, 0, 10, 0x1f, 0x90, 6, 0]);
    expect(decode(FRONTEND_KEY, bytes)).toEqual({ addr: 0x0a60000a, port: 0x1f90, proto: 6 });
  });

  test('u32 fields are little-endian and u64 fields round-trip whole', () => {
    const frontend = {
      id: 0x01020304,
      slotBase: 0xfffffffe,
      slotCapacity: 16,
      backendCount: 10,
      affinityTimeoutS: 10_800,
      flags: 1,
    };
    const bytes = encode(FRONTEND, frontend);
    expect([...bytes.subarray(0, 4)]).toEqual([4, 3, 2, 1]);
    expect(decode(FRONTEND, bytes)).toEqual(frontend);
    const flow = decode(FLOW, Buffer.alloc(FLOW.size));
    const written = { ...flow, packets: 2n ** 64n - 1n, bytes: 2n ** 40n + 5n };
    expect(decode(FLOW, encode(FLOW, written))).toEqual(written);
  });

  test('encodeInto writes at an offset, zeroes padding, and leaves the neighbours alone', () => {
    const target = Buffer.alloc(FRONTEND_KEY.size * 3, 0xaa);
    encodeInto(FRONTEND_KEY, { addr: 1, port: 2, proto: 17 }, target, FRONTEND_KEY.size);
    expect([...target.subarray(8, 16)]).toEqual([0, 0, 0, 1, 0, 2, 17, 0]);
    expect(target.subarray(0, 8).every((byte) => byte === 0xaa)).toBe(true);
    expect(target.subarray(16).every((byte) => byte === 0xaa)).toBe(true);
  });

  test('a value that does not fit its field, or a struct past the end, is refused', () => {
    const target = Buffer.alloc(FRONTEND_KEY.size);
    expect(() => encodeInto(FRONTEND_KEY, { addr: 2 ** 32, port: 1, proto: 6 }, target)).toThrow(
      /tw_frontend_key.addr: 4294967296 does not fit/,
    );
    expect(() => encodeInto(FRONTEND_KEY, { addr: 1, port: 65_536, proto: 6 }, target)).toThrow(
      /port/,
    );
    expect(() => encodeInto(FRONTEND_KEY, { addr: 1, port: 1, proto: -1 }, target)).toThrow(
      /proto/,
    );
    expect(() => encodeInto(FRONTEND_KEY, { addr: 1, port: 1.5, proto: 6 }, target)).toThrow(
      /port/,
    );
    expect(() => encodeInto(FRONTEND_KEY, { addr: 1, port: 1, proto: 6 }, target, 1)).toThrow(
      /no room/,
    );
  });
});
