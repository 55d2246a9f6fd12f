/**
 * The TypeScript codecs against the compiled program's BTF: every struct the daemon writes or
 * reads must have the size, the members, the offsets and the member sizes the C compiler gave it.
 * A field added to bpf/lb_maps.h and forgotten in src/lb/maps/lb-layouts.ts fails here.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { beforeAll, describe, expect, test } from '@jest/globals';

import { STRUCT_LAYOUTS } from '../../src/lb/maps/lb-layouts.js';
import { fieldSize, type FieldKind, type FieldSpec } from '../../src/lb/maps/struct-codec.js';
import { REPO_ROOT } from '../support/bins.js';

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
  nr_elems?: number;
}

const OBJECT = join(REPO_ROOT, 'dist/bpf/lb.o');
let types = new Map<number, BtfType>();

function sizeOf(id: number): number {
  const type = types.get(id)!;
  switch (type.kind) {
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
      return sizeOf(type.type_id!);
    case 'ARRAY':
      return sizeOf(type.type_id!) * type.nr_elems!;
    default:
      return type.size!;
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

beforeAll(() => {
  // The object is the build's; compile it here too so this test also runs on a tree built
  // before the last C change.
  execFileSync(join(REPO_ROOT, 'scripts/build-bpf.sh'), { stdio: 'pipe' });
  const dump = JSON.parse(
    execFileSync('bpftool', ['btf', 'dump', 'file', OBJECT, '-j'], { encoding: 'utf8' }),
  ) as { types: BtfType[] };
  types = new Map(dump.types.map((type) => [type.id, type]));
});

describe('map layouts against the BTF of dist/bpf/lb.o', () => {
  test.each(STRUCT_LAYOUTS.map((layout) => [layout.cStruct, layout] as const))(
    'struct %s',
    (cStruct, layout) => {
      const struct = [...types.values()].find(
        (type) => type.kind === 'STRUCT' && type.name === cStruct,
      );
      expect(struct).toBeDefined();
      expect(layout.size).toBe(struct!.size);
      const members = new Map(
        struct!.members!.map((member) => [
          member.name,
          { offset: member.bits_offset / 8, size: sizeOf(member.type_id) },
        ]),
      );
      const mirrored = new Set<string>();
      for (const [name, spec] of Object.entries(layout.fields) as [
        string,
        FieldSpec<FieldKind>,
      ][]) {
        const cName = snakeCase(name);
        mirrored.add(cName);
        expect({ field: cName, ...members.get(cName) }).toEqual({
          field: cName,
          offset: spec.offset,
          size: fieldSize(spec.kind),
        });
      }
      // Every C member but padding has a mirror.
      const unmirrored = [...members.keys()].filter(
        (name) => !mirrored.has(name) && name !== 'pad',
      );
      expect(unmirrored).toEqual([]);
    },
  );
});
