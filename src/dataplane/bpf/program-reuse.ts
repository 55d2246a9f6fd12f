/**
 * A restarted daemon takes the programs its last start pinned, instead of loading them again, when
 * they came from this very object with these constants, through this very loader (the addon and
 * the libbpf it links). The verifier's pass over the Service LB's four programs is most of what
 * a restarted node waits before it serves (about 0.4 s of kernel time on this project's 2-CPU test
 * hosts, `bpftool prog loadall` alike), while a restart of the same build, the common one (a
 * crash, a config change, a node drain), would get back programs identical to the pinned ones.
 *
 * What a pinned set is, is a directory beside the program pins (bpffs holds directories, not
 * files): `<pinDir>/progs/build-<identity>-<id>-<id>-<id>`, the build's identity and the kernel's
 * ids of the programs that load pinned, in `programNames` order. It is removed before any load
 * starts and made only once the caller has finished what follows a load (commit(): the other
 * layouts' pins removed), so a load that died halfway, leaving some programs replaced and some
 * not, is never taken for a whole one. The pins are taken only if each is still that very program
 * (its id: a loader that knows nothing of the marker, an older release rolled back to, say, may
 * have pinned another over it; the kernel does not reuse program ids) and every map it uses is
 * the one pinned under its name. Anything else means a full load.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

import { mappedLibraries, nativeAddonPath } from '../native/addon-loader.js';
import type { LoadedObject, ProgInfo } from './native-bpf.js';
import { loadObject, NativeBpfMap, progInfo } from './native-bpf.js';
import { versionedMapPins } from './stale-pins.js';

const BUILD_MARKER_PREFIX = 'build-';

export interface ProgramLoader {
  /** What, besides the object and constants, decides the programs (the loader's own build). */
  identity(): string;
  load(
    objPath: string,
    pinDir: string,
    constants: Readonly<Record<string, bigint>>,
    mapSizes: Readonly<Record<string, number>>,
  ): LoadedObject;
  progInfo(path: string): ProgInfo;
  /** The id, kernel name and size of the map pinned at `path`. */
  pinnedMap(path: string): PinnedMapInfo;
}

/**
 * The addon's bytes and those of the libbpf it runs on (linked dynamically: a distribution's
 * libbpf upgrade changes how the same object is relocated and loaded without changing the addon).
 */
function nativeLoaderIdentity(): string {
  const hash = createHash('sha256').update(readFileSync(nativeAddonPath()));
  for (const library of mappedLibraries(/^libbpf\.so/)) {
    hash.update('\0').update(readFileSync(library));
  }
  return hash.digest('hex');
}

export interface PinnedMapInfo {
  id: number;
  name: string;
  maxEntries: number;
}

export const NATIVE_PROGRAM_LOADER: ProgramLoader = {
  identity: nativeLoaderIdentity,
  load: loadObject,
  progInfo,
  pinnedMap: (path) => {
    const map = NativeBpfMap.openPinned(path);
    try {
      return { id: map.id, name: map.name, maxEntries: map.maxEntries };
    } finally {
      map.close();
    }
  },
};

/** max_entries of the map pinned at `path`; undefined when nothing is pinned there. */
export function pinnedMapSize(path: string): number | undefined {
  return existsSync(path) ? NATIVE_PROGRAM_LOADER.pinnedMap(path).maxEntries : undefined;
}

export interface LoadedOrReused extends LoadedObject {
  /** The programs were the pinned ones of an earlier load of the same build; nothing was loaded. */
  reusedPrograms: boolean;
  /**
   * After a load, marks the pinned set as this build's whole, once what follows the load has been
   * done; a restart can take it from then on. Nothing to do after a reuse.
   */
  commit(): void;
}

/** The object's bytes, the constants set into it and the loader's identity. */
export function buildIdentity(
  object: Buffer,
  constants: Readonly<Record<string, bigint>>,
  loader: string,
): string {
  const hash = createHash('sha256').update(object).update(`\0loader=${loader}`);
  for (const name of Object.keys(constants).sort()) {
    hash.update(`\0${name}=${String(constants[name])}`);
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * The programs `programNames` of `objPath`, loaded with their maps pinned in `pinDir`
 * (loadObject), or the pins an earlier load of the same build left there. `mapSizes` sizes the
 * maps a load creates; the caller gives pinned maps their own size (a reuse checks nothing else:
 * programs that use the pinned maps were loaded against them).
 */
export function loadOrReusePrograms(
  objPath: string,
  pinDir: string,
  constants: Readonly<Record<string, bigint>>,
  programNames: readonly string[],
  loader: ProgramLoader,
  mapSizes: Readonly<Record<string, number>> = {},
): LoadedOrReused {
  const progDir = join(pinDir, 'progs');
  const prefix = `${BUILD_MARKER_PREFIX}${buildIdentity(readFileSync(objPath), constants, loader.identity())}-`;
  const markers = readdirOrNone(progDir).filter(
    (entry) => entry.isDirectory() && entry.name.startsWith(BUILD_MARKER_PREFIX),
  );
  for (const marker of markers) {
    if (!marker.name.startsWith(prefix)) continue;
    const ids = marker.name.slice(prefix.length).split('-').map(Number);
    const reused = pinnedPrograms(pinDir, progDir, programNames, ids, loader);
    if (reused !== undefined) return reused;
  }
  for (const marker of markers) rmdirSync(join(progDir, marker.name));
  const loaded = loader.load(objPath, pinDir, constants, mapSizes);
  return {
    ...loaded,
    reusedPrograms: false,
    commit: () => {
      const ids = programNames.map((name) => loader.progInfo(join(progDir, name)).id);
      mkdirSync(join(progDir, prefix + ids.join('-')), { mode: 0o700 });
    },
  };
}

function pinnedPrograms(
  pinDir: string,
  progDir: string,
  programNames: readonly string[],
  ids: readonly number[],
  loader: ProgramLoader,
): LoadedOrReused | undefined {
  if (ids.length !== programNames.length) return undefined;
  const programs: Record<string, string> = {};
  const usedMaps = new Set<number>();
  for (const [index, name] of programNames.entries()) {
    const path = join(progDir, name);
    const info = attempt(() => loader.progInfo(path));
    if (info === undefined || info.id !== ids[index]) return undefined;
    programs[name] = path;
    for (const id of info.mapIds) usedMaps.add(id);
  }
  const maps: Record<string, string> = {};
  const pinnedMaps = new Set<number>();
  for (const name of versionedMapPins(pinDir)) {
    const path = join(pinDir, name);
    const map = attempt(() => loader.pinnedMap(path));
    if (map === undefined) return undefined;
    // The kernel keeps the first 15 characters of a map's name.
    if (usedMaps.has(map.id) && map.name !== name.slice(0, 15)) return undefined;
    maps[name] = path;
    pinnedMaps.add(map.id);
  }
  for (const id of usedMaps) if (!pinnedMaps.has(id)) return undefined;
  return {
    programs,
    maps,
    reusedMaps: Object.keys(maps),
    reusedPrograms: true,
    commit: () => undefined,
  };
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
