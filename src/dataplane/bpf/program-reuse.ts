/**
 * A restarted daemon takes the programs its last start pinned, instead of loading them again, when
 * they came from this very object with these constants. The verifier's pass over the Service LB's
 * three programs is most of what a restarted node waits before it serves (about 0.4 s of kernel
 * time on this project's 2-CPU test hosts, `bpftool prog loadall` alike), while a restart of the
 * same build, the common one (a crash, a config change, a node drain), would get back programs
 * identical to the pinned ones.
 *
 * The build a pinned set came from is a directory beside the program pins,
 * `<pinDir>/progs/build-<identity>` (bpffs holds directories, not files), made only after a load
 * succeeded and removed before any load starts: a load that crashed halfway, leaving some programs
 * replaced and some not, is never taken for a whole one. The pins are taken only if each program is
 * there and every map it uses is still the one pinned under its name: maps unpinned by hand, or a
 * pin dir rebuilt behind the daemon's back, mean a full load.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

import type { LoadedObject, ProgInfo } from './native-bpf.js';
import { loadObject, NativeBpfMap, progInfo } from './native-bpf.js';
import { isVersionedMapPin } from './stale-pins.js';

const BUILD_MARKER_PREFIX = 'build-';

export interface ProgramLoader {
  load(objPath: string, pinDir: string, constants: Readonly<Record<string, bigint>>): LoadedObject;
  progInfo(path: string): ProgInfo;
  /** The id of the map pinned at `path`. */
  pinnedMapId(path: string): number;
}

export const NATIVE_PROGRAM_LOADER: ProgramLoader = {
  load: loadObject,
  progInfo,
  pinnedMapId: (path) => {
    const map = NativeBpfMap.openPinned(path);
    try {
      return map.id;
    } finally {
      map.close();
    }
  },
};

export interface LoadedOrReused extends LoadedObject {
  /** The programs were the pinned ones of an earlier load of the same build; nothing was loaded. */
  reusedPrograms: boolean;
}

/** The object's bytes and the constants set into it: what decides the programs the kernel gets. */
export function buildIdentity(object: Buffer, constants: Readonly<Record<string, bigint>>): string {
  const hash = createHash('sha256').update(object);
  for (const name of Object.keys(constants).sort()) {
    hash.update(`\0${name}=${String(constants[name])}`);
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * The programs `programNames` of `objPath`, loaded with their maps pinned in `pinDir`
 * (loadObject), or the pins an earlier load of the same build left there.
 */
export function loadOrReusePrograms(
  objPath: string,
  pinDir: string,
  constants: Readonly<Record<string, bigint>>,
  programNames: readonly string[],
  loader: ProgramLoader,
): LoadedOrReused {
  const progDir = join(pinDir, 'progs');
  const marker = join(
    progDir,
    BUILD_MARKER_PREFIX + buildIdentity(readFileSync(objPath), constants),
  );
  if (existsSync(marker)) {
    const reused = pinnedPrograms(pinDir, progDir, programNames, loader);
    if (reused !== undefined) return reused;
  }
  for (const entry of readdirOrNone(progDir)) {
    if (entry.isDirectory() && entry.name.startsWith(BUILD_MARKER_PREFIX)) {
      rmdirSync(join(progDir, entry.name));
    }
  }
  const loaded = loader.load(objPath, pinDir, constants);
  mkdirSync(marker, { mode: 0o700 });
  return { ...loaded, reusedPrograms: false };
}

function pinnedPrograms(
  pinDir: string,
  progDir: string,
  programNames: readonly string[],
  loader: ProgramLoader,
): LoadedOrReused | undefined {
  const programs: Record<string, string> = {};
  const usedMaps = new Set<number>();
  for (const name of programNames) {
    const path = join(progDir, name);
    const info = attempt(() => loader.progInfo(path));
    // The kernel keeps the first 15 characters of a program's name.
    if (info === undefined || info.name !== name.slice(0, 15)) return undefined;
    programs[name] = path;
    for (const id of info.mapIds) usedMaps.add(id);
  }
  const maps: Record<string, string> = {};
  const pinnedMaps = new Set<number>();
  for (const entry of readdirSync(pinDir, { withFileTypes: true })) {
    if (entry.isDirectory() || !isVersionedMapPin(entry.name)) continue;
    const path = join(pinDir, entry.name);
    const id = attempt(() => loader.pinnedMapId(path));
    if (id === undefined) return undefined;
    maps[entry.name] = path;
    pinnedMaps.add(id);
  }
  for (const id of usedMaps) if (!pinnedMaps.has(id)) return undefined;
  return { programs, maps, reusedMaps: Object.keys(maps), reusedPrograms: true };
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function readdirOrNone(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
