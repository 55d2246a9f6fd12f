/**
 * A restart of the same build takes the Service LB programs its last start pinned, on a real
 * bpffs with the real object: the same program ids come back, and nothing is verified again. Other
 * constants, or a map unpinned behind the daemon's back, mean a real load, whose programs use the
 * maps pinned now.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeAll, expect, test } from '@jest/globals';

import { loadObject, progInfo } from '../../src/dataplane/bpf/native-bpf.js';
import {
  loadOrReusePrograms,
  NATIVE_PROGRAM_LOADER,
} from '../../src/dataplane/bpf/program-reuse.js';
import { mappedLibraries } from '../../src/dataplane/native/addon-loader.js';
import { buildLbObject, LbPins } from '../support/bpf-lab.js';
import { REPO_ROOT } from '../support/bins.js';
import { requireRoot } from '../support/netns.js';

requireRoot();

const PROGRAMS = ['tw_lb_egress', 'tw_lb_egress_gw', 'tw_lb_ingress'];
let object: string;
const pinDirs: LbPins[] = [];

beforeAll(() => {
  object = buildLbObject();
});

afterEach(() => {
  for (const pins of pinDirs.splice(0)) pins.cleanup();
});

/** What terwayd does at start: the load or the reuse, then the commit (after its pin cleanup). */
function start(pins: LbPins, constants: Record<string, bigint> = {}) {
  const loaded = loadOrReusePrograms(object, pins.dir, constants, PROGRAMS, NATIVE_PROGRAM_LOADER);
  loaded.commit();
  return loaded;
}

function programIds(programs: Record<string, string>): number[] {
  return PROGRAMS.map((name) => progInfo(programs[name]!).id);
}

const pinnedMapId = (path: string) => NATIVE_PROGRAM_LOADER.pinnedMap(path).id;

test('the same build again: the pinned programs, not new ones; other constants: new ones', () => {
  const pins = new LbPins();
  pinDirs.push(pins);
  const first = start(pins);
  expect(first.reusedPrograms).toBe(false);
  const ids = programIds(first.programs);

  const second = start(pins);
  expect(second.reusedPrograms).toBe(true);
  expect(programIds(second.programs)).toEqual(ids);
  expect(Object.keys(second.maps).sort()).toEqual(Object.keys(first.maps).sort());

  const other = start(pins, { tw_jiffy_ns: 4_000_000n });
  expect(other.reusedPrograms).toBe(false);
  const otherIds = programIds(other.programs);
  for (const id of otherIds) expect(ids).not.toContain(id);
  // And that build, restarted, keeps its own.
  expect(programIds(start(pins, { tw_jiffy_ns: 4_000_000n }).programs)).toEqual(otherIds);
});

test('a map unpinned behind the daemon’s back: a real load, over the map pinned anew', () => {
  const pins = new LbPins();
  pinDirs.push(pins);
  const first = start(pins);
  const flowMap = pins.map('tw_flow_v1');
  const oldMapId = pinnedMapId(flowMap);
  expect(progInfo(first.programs['tw_lb_ingress']!).mapIds).toContain(oldMapId);

  unlinkSync(flowMap);
  const again = start(pins);
  expect(again.reusedPrograms).toBe(false);
  const newMapId = pinnedMapId(flowMap);
  expect(newMapId).not.toBe(oldMapId);
  const ingress = progInfo(again.programs['tw_lb_ingress']!);
  expect(ingress.mapIds).toContain(newMapId);
  expect(ingress.mapIds).not.toContain(oldMapId);
});

test('programs another loader pinned over them (an older release, rolled back to): a real load', () => {
  const pins = new LbPins();
  pinDirs.push(pins);
  const ids = programIds(start(pins).programs);
  // loadObject alone replaces the program pins and knows nothing of the build marker.
  const foreign = programIds(loadObject(object, pins.dir, {}).programs);
  for (const id of foreign) expect(ids).not.toContain(id);

  const again = start(pins);
  expect(again.reusedPrograms).toBe(false);
  for (const id of programIds(again.programs)) expect([...ids, ...foreign]).not.toContain(id);
});

/** The native loader's identity, and the libbpf it found, in a fresh node whose libbpf is `libDir`'s. */
function identityWith(libDir: string): { identity: string; libraries: string[] } {
  const module = (path: string) => JSON.stringify(join(REPO_ROOT, 'dist/src/dataplane', path));
  const script = `
    const { NATIVE_PROGRAM_LOADER } = await import(${module('bpf/program-reuse.js')});
    const { mappedLibraries } = await import(${module('native/addon-loader.js')});
    const identity = NATIVE_PROGRAM_LOADER.identity();
    console.log(JSON.stringify({ identity, libraries: mappedLibraries(/^libbpf\\.so/) }));`;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, LD_LIBRARY_PATH: libDir },
  });
  return JSON.parse(output) as { identity: string; libraries: string[] };
}

test('a libbpf upgrade under the same addon is another build: the identity follows its bytes', () => {
  const ours = NATIVE_PROGRAM_LOADER.identity();
  // The addon links libbpf dynamically, so this process has it mapped.
  const [system] = mappedLibraries(/^libbpf\.so/);
  expect(system).toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), 'tw-libbpf-'));
  try {
    const copy = join(dir, 'libbpf.so.1');
    copyFileSync(system!, copy);
    // The same library from elsewhere: the same identity, so a reuse is not lost to a path.
    expect(identityWith(dir)).toEqual({ identity: ours, libraries: [copy] });
    // Other bytes under the same name and soname, as an upgrade brings.
    appendFileSync(copy, '\0');
    const upgraded = identityWith(dir);
    expect(upgraded.libraries).toEqual([copy]);
    expect(upgraded.identity).not.toBe(ours);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
