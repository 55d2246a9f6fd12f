/**
 * Declarative mirrors of the C structs in bpf/lb_maps.h. A layout lists every named field with its
 * offset and kind; padding is implied and always written as zero. Being data rather than code, a
 * layout can be checked field by field against the compiled object's BTF (test/netns), so a C
 * change that the TypeScript side missed fails a test instead of corrupting maps.
 */
import { endianness } from 'node:os';

import { TerwayError } from '../../errors/terway-error.js';

/**
 * - `ipv4`: a __be32 address, network order, exposed as its unsigned 32-bit value;
 * - `be16`: a port in network order;
 * - `u8` / `u32` / `u64`: host order (the program and the daemon share the node's CPU).
 */
export type FieldKind = 'ipv4' | 'be16' | 'u8' | 'u32' | 'u64';

const FIELD_SIZES: Record<FieldKind, number> = { ipv4: 4, be16: 2, u8: 1, u32: 4, u64: 8 };

type FieldValue<K extends FieldKind> = K extends 'u64' ? bigint : number;

export interface FieldSpec<K extends FieldKind = FieldKind> {
  readonly offset: number;
  readonly kind: K;
}

export interface StructLayout<Fields extends Record<string, FieldKind>> {
  /** The C struct this layout mirrors, e.g. `tw_frontend_key`. */
  readonly cStruct: string;
  readonly size: number;
  readonly fields: { readonly [Name in keyof Fields]: FieldSpec<Fields[Name]> };
}

export type StructValue<Fields extends Record<string, FieldKind>> = {
  [Name in keyof Fields]: FieldValue<Fields[Name]>;
};

if (endianness() !== 'LE') {
  // u32/u64 fields are host order; the writers below assume little-endian hosts (x86-64, arm64).
  throw new TerwayError('INTERNAL', 'the BPF map codecs support little-endian hosts only');
}

export function fieldSize(kind: FieldKind): number {
  return FIELD_SIZES[kind];
}

export function defineLayout<Fields extends Record<string, FieldKind>>(
  cStruct: string,
  size: number,
  fields: { [Name in keyof Fields]: FieldSpec<Fields[Name]> },
): StructLayout<Fields> {
  for (const [name, spec] of Object.entries(fields) as [string, FieldSpec][]) {
    if (spec.offset < 0 || spec.offset + FIELD_SIZES[spec.kind] > size) {
      throw new TerwayError('INTERNAL', `${cStruct}.${name} lies outside the struct`);
    }
  }
  return { cStruct, size, fields };
}

/**
 * Writes `value` at `offset` of `target`, padding zeroed. A value that does not fit its field is
 * refused with the field's name (Buffer's own RangeError names neither struct nor field).
 */
export function encodeInto<Fields extends Record<string, FieldKind>>(
  layout: StructLayout<Fields>,
  value: StructValue<Fields>,
  target: Buffer,
  offset = 0,
): void {
  if (offset < 0 || offset + layout.size > target.length) {
    throw new TerwayError('INTERNAL', `${layout.cStruct}: no room at offset ${offset}`);
  }
  target.fill(0, offset, offset + layout.size);
  for (const name in layout.fields) {
    const spec = layout.fields[name];
    const at = offset + spec.offset;
    const field = value[name];
    if (spec.kind === 'u64') {
      target.writeBigUInt64LE(field as bigint, at);
      continue;
    }
    const v = field as number;
    if (!(Number.isInteger(v) && v >= 0 && v < 2 ** (8 * FIELD_SIZES[spec.kind]))) {
      throw new TerwayError('INTERNAL', `${layout.cStruct}.${name}: ${v} does not fit`);
    }
    switch (spec.kind) {
      case 'ipv4':
        target.writeUInt32BE(v, at);
        break;
      case 'be16':
        target.writeUInt16BE(v, at);
        break;
      case 'u8':
        target.writeUInt8(v, at);
        break;
      case 'u32':
        target.writeUInt32LE(v, at);
        break;
    }
  }
}

export function encode<Fields extends Record<string, FieldKind>>(
  layout: StructLayout<Fields>,
  value: StructValue<Fields>,
): Buffer {
  const buffer = Buffer.alloc(layout.size);
  encodeInto(layout, value, buffer);
  return buffer;
}

export function decode<Fields extends Record<string, FieldKind>>(
  layout: StructLayout<Fields>,
  source: Buffer,
  offset = 0,
): StructValue<Fields> {
  if (source.length < offset + layout.size) {
    throw new TerwayError(
      'BPF_ERROR',
      `${layout.cStruct}: ${source.length - offset} bytes where ${layout.size} were expected`,
    );
  }
  const out: Record<string, number | bigint> = {};
  for (const name in layout.fields) {
    const spec = layout.fields[name];
    const at = offset + spec.offset;
    switch (spec.kind) {
      case 'ipv4':
        out[name] = source.readUInt32BE(at);
        break;
      case 'be16':
        out[name] = source.readUInt16BE(at);
        break;
      case 'u8':
        out[name] = source.readUInt8(at);
        break;
      case 'u32':
        out[name] = source.readUInt32LE(at);
        break;
      case 'u64':
        out[name] = source.readBigUInt64LE(at);
        break;
    }
  }
  return out as StructValue<Fields>;
}
