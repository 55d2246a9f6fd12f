/**
 * The decision between loading the Service LB programs and taking the ones a start of the same
 * build pinned: every way the pins can fail to be that build's leads to a load. Against a fake
 * loader in a plain directory (a bpffs pin dir holds the same names); the real programs are in
 * test/netns/lb-program-reuse.test.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import type { LoadedObject, ProgInfo } from '../../src/dataplane/bpf/native-bpf.js';
import {
  buildIdentity,
  loadOrReusePrograms,
  type PinnedMapInfo,
  type ProgramLoader,
} from '../../src/dataplane/bpf/program-reuse.js';

const PROGRAMS = ['tw_lb_egress', 'tw_lb_egress_gw', 'tw_lb_ingress'] as const;
const MAPS = ['tw_fe_v1', 'tw_flow_v1'] as const;

/**
 * A kernel as loadObject sees it: a load pins every program and (new) map with fresh ids, and each
 * program uses every map.
 */
class FakeKernel implements ProgramLoader {
  loads = 0;
  failNextLoad = false;
  loaderBuild = 'addon v1';
  /** Kernel names of maps, where they differ from their pin's name. */
  readonly mapNames = new Map<string, string>();
  private nextId = 1;
  readonly progs = new Map<string, ProgInfo>();
  readonly mapIds = new Map<string, number>();

  constructor(private readonly pinDir: string) {}

  identity(): string {
    return this.loaderBuild;
  }

  /** The map sizes each load was given. */
  readonly loadedSizes: Array<Readonly<Record<string, number>>> = [];

  load(
    _objPath: string,
    pinDir: string,
    _constants: Readonly<Record<string, bigint>>,
    mapSizes: Readonly<Record<string, number>>,
  ): LoadedObject {
    this.loads++;
    this.loadedSizes.push(mapSizes);
    if (this.failNextLoad) {
      this.failNextLoad = false;
      throw new Error('load: Permission denied (the verifier said no)');
    }
    return this.pinAll(pinDir);
  }

  /** What any loader does, this one or one that knows nothing of markers (bpftool, a release). */
  pinAll(pinDir: string): LoadedObject {
    const reusedMaps: string[] = [];
    const maps: Record<string, string> = {};
    for (const name of MAPS) {
      const path = join(pinDir, name);
      if (existsSync(path)) reusedMaps.push(name);
      else {
        writeFileSync(path, '');
        this.mapIds.set(path, this.nextId++);
      }
      maps[name] = path;
    }
    mkdirSync(join(pinDir, 'progs'), { recursive: true });
    const programs: Record<string, string> = {};
    for (const name of PROGRAMS) {
      const path = join(pinDir, 'progs', name);
      writeFileSync(path, '');
      this.progs.set(path, {
        id: this.nextId++,
        name: name.slice(0, 15),
        type: 'sched_cls',
        tag: 'feedfacecafebeef',
        mapIds: MAPS.map((map) => this.mapIds.get(join(pinDir, map))!),
        loadData: '',
      });
      programs[name] = path;
    }
    return { programs, maps, reusedMaps };
  }

  progInfo(path: string): ProgInfo {
    const info = this.progs.get(path);
    if (info === undefined || !existsSync(path)) throw new Error(`${path}: ENOENT`);
    return info;
  }

  pinnedMap(path: string): PinnedMapInfo {
    const id = this.mapIds.get(path);
    if (id === undefined || !existsSync(path)) throw new Error(`${path}: ENOENT`);
    // The reuse decision reads ids and names only; every fake map has the build's size.
    const name = this.mapNames.get(path) ?? basename(path).slice(0, 15);
    return { id, name, maxEntries: 262_144 };
  }

  /** A map unpinned and created anew under its name (by hand, or by another daemon). */
  replaceMap(name: string): void {
    this.mapIds.set(join(this.pinDir, name), this.nextId++);
  }
}

let work: string;
let pinDir: string;
let object: string;
let kernel: FakeKernel;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'program-reuse-'));
  pinDir = join(work, 'pins');
  mkdirSync(pinDir);
  object = join(work, 'lb.o');
  writeFileSync(object, 'the object, v1');
  kernel = new FakeKernel(pinDir);
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

const CONSTANTS = { tw_jiffy_ns: 4_000_000n, tw_initial_jiffies: 42n };

/** A daemon's start: the load or the reuse, then the commit once its cleanup is done. */
function start(constants: Record<string, bigint> = CONSTANTS) {
  const loaded = loadOrReusePrograms(object, pinDir, constants, PROGRAMS, kernel);
  loaded.commit();
  return loaded;
}

function markers(): string[] {
  return readdirSync(join(pinDir, 'progs')).filter((name) => name.startsWith('build-'));
}

describe('a start of the same build', () => {
  test('takes the programs the last one pinned, with their maps, and loads nothing', () => {
    const first = start();
    expect(first.reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(1);

    const second = start();
    expect(kernel.loads).toBe(1);
    expect(second).toMatchObject({
      programs: first.programs,
      maps: first.maps,
      reusedMaps: [...MAPS],
      reusedPrograms: true,
    });
    // The marker names the build and the programs' ids.
    const ids = PROGRAMS.map((name) => kernel.progInfo(first.programs[name]!).id);
    expect(markers()).toEqual([
      expect.stringMatching(new RegExp(`^build-[0-9a-f]{32}-${ids.join('-')}$`)),
    ]);
  });
});

describe('loads again', () => {
  test('after an upgrade (another object), leaving one build marker', () => {
    start();
    const before = markers();
    writeFileSync(object, 'the object, v2');
    expect(start().reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(2);
    expect(markers()).toHaveLength(1);
    expect(markers()).not.toEqual(before);
    expect(start().reusedPrograms).toBe(true);
  });

  test('when another loader pinned its programs over them, leaving the marker (a rollback)', () => {
    start();
    kernel.pinAll(pinDir);
    expect(start().reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(2);
  });

  test('when the last load was not committed (the daemon died before its cleanup was done)', () => {
    loadOrReusePrograms(object, pinDir, CONSTANTS, PROGRAMS, kernel);
    expect(markers()).toEqual([]);
    expect(start().reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(2);
    expect(start().reusedPrograms).toBe(true);
  });

  test('with another build of the loader (its relocations may differ)', () => {
    start();
    kernel.loaderBuild = 'addon v2';
    expect(start().reusedPrograms).toBe(false);
  });

  test('when a map the programs use is pinned under another map’s name', () => {
    start();
    kernel.mapNames.set(join(pinDir, 'tw_fe_v1'), 'tw_flow_v1');
    expect(start().reusedPrograms).toBe(false);
  });

  test('a load sizes the maps as the caller says (the flow table); a reuse has nothing to size', () => {
    const sizes = { tw_flow_v1: 1_048_576 };
    loadOrReusePrograms(object, pinDir, CONSTANTS, PROGRAMS, kernel, sizes).commit();
    expect(kernel.loadedSizes).toEqual([sizes]);
    expect(loadOrReusePrograms(object, pinDir, CONSTANTS, PROGRAMS, kernel, sizes)).toMatchObject({
      reusedPrograms: true,
    });
    expect(kernel.loads).toBe(1);
  });

  test('with other constants (another clock, say)', () => {
    start();
    expect(start({ ...CONSTANTS, tw_jiffy_ns: 1_000_000n }).reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(2);
  });

  test('when a program pin is gone', () => {
    start();
    rmSync(join(pinDir, 'progs', 'tw_lb_ingress'));
    expect(start().reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(2);
  });

  test('when another program sits under one of the names', () => {
    const first = start();
    const path = first.programs['tw_lb_ingress']!;
    kernel.progs.set(path, { ...kernel.progInfo(path), id: 9_999 });
    expect(start().reusedPrograms).toBe(false);
  });

  test('when a map the programs use is no longer the one pinned under its name', () => {
    start();
    kernel.replaceMap('tw_flow_v1');
    expect(start().reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(2);
  });

  test('when a map pin is gone', () => {
    start();
    rmSync(join(pinDir, 'tw_fe_v1'));
    kernel.mapIds.delete(join(pinDir, 'tw_fe_v1'));
    expect(start().reusedPrograms).toBe(false);
  });

  test('after a load that failed: its marker was removed before it began', () => {
    start();
    writeFileSync(object, 'the object, v2');
    kernel.failNextLoad = true;
    expect(() => start()).toThrow('the verifier said no');
    expect(markers()).toEqual([]);
    // Back to v1: its pins are all there, but nothing says a load of it finished last.
    writeFileSync(object, 'the object, v1');
    expect(start().reusedPrograms).toBe(false);
    expect(kernel.loads).toBe(3);
  });
});

describe('the build identity', () => {
  test('covers the object, the loader and every constant, in any order', () => {
    const bytes = Buffer.from('obj');
    const id = buildIdentity(bytes, { a: 1n, b: 2n }, 'l');
    expect(buildIdentity(bytes, { b: 2n, a: 1n }, 'l')).toBe(id);
    expect(buildIdentity(bytes, { a: 1n, b: 3n }, 'l')).not.toBe(id);
    expect(buildIdentity(bytes, { a: 1n }, 'l')).not.toBe(id);
    expect(buildIdentity(Buffer.from('obj2'), { a: 1n, b: 2n }, 'l')).not.toBe(id);
    expect(buildIdentity(bytes, { a: 1n, b: 2n }, 'l2')).not.toBe(id);
    // Names and values do not run into each other.
    expect(buildIdentity(bytes, { a1: 1n }, 'l')).not.toBe(buildIdentity(bytes, { a: 11n }, 'l'));
  });
});
