/**
 * Finds and loads the daemon's N-API addon (native/, built as terway_bpf.node): the BPF maps and
 * programs (../bpf/native-bpf.ts) and the pod-side route netlink socket (../kernel/rtnetlink/)
 * share it. Loaded on first use, so importing this costs nothing where neither is used (the CNI
 * shim, unit tests on the in-memory fakes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Overrides where the addon is loaded from (a path to terway_bpf.node). */
export const ADDON_ENV = 'TERWAY_BPF_ADDON';

/**
 * Where the addon is: $TERWAY_BPF_ADDON, else under the repository (or install) root, the nearest
 * ancestor of this file holding package.json. This file runs from dist/src/dataplane/native/ when
 * built and from src/dataplane/native/ under ts-jest; both find
 * <root>/dist/native/terway_bpf.node. native/build/Release/ (scripts/build-native.sh's
 * intermediate output) is the fallback, so tests keep working while another build has wiped dist/.
 */
export function addonCandidates(): string[] {
  const override = process.env[ADDON_ENV];
  if (override !== undefined && override !== '') return [override];
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return [];
    dir = parent;
  }
  return [
    join(dir, 'dist', 'native', 'terway_bpf.node'),
    join(dir, 'native', 'build', 'Release', 'terway_bpf.node'),
  ];
}

let loaded: unknown;
let loadedFrom: string | undefined;

/** The file the addon was loaded from, loading it first. */
export function nativeAddonPath(): string {
  loadNativeAddon();
  return loadedFrom!;
}

/** The addon's exports; throws a plain Error saying where it looked or why it would not load. */
export function loadNativeAddon(): unknown {
  if (loaded !== undefined) return loaded;
  const candidates = addonCandidates();
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path === undefined) {
    throw new Error(
      `the terway_bpf addon is not built (looked at ${candidates.join(', ') || 'no path: no package.json above this module'}); run scripts/build-native.sh`,
    );
  }
  try {
    loaded = createRequire(import.meta.url)(path) as unknown;
    loadedFrom = path;
  } catch (error) {
    throw new Error(`cannot load the terway_bpf addon ${path}: ${String(error)}`, { cause: error });
  }
  return loaded;
}

/**
 * The shared libraries whose name matches `name` that this process has mapped, as
 * /proc/self/maps names them (sorted, each once): after loadNativeAddon, the libbpf the addon was
 * linked against dynamically, which a package upgrade can replace without touching the addon.
 */
export function mappedLibraries(
  name: RegExp,
  maps = readFileSync('/proc/self/maps', 'utf8'),
): string[] {
  const paths = new Set<string>();
  for (const line of maps.split('\n')) {
    // address perms offset dev inode path; the path, when there is one, may hold spaces.
    const path = /^\S+ \S+ \S+ \S+ \d+\s+(\/.*)$/.exec(line)?.[1];
    if (path === undefined) continue;
    // A file replaced since it was mapped; its new version is what the path reads now.
    const file = path.endsWith(' (deleted)') ? path.slice(0, -' (deleted)'.length) : path;
    const base = file.slice(file.lastIndexOf('/') + 1);
    if (name.test(base)) paths.add(file);
  }
  return [...paths].sort();
}
