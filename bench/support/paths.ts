import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The checkout: the nearest ancestor holding package.json (dist/ has none), so it is the same
 * whether the benchmarks run built (dist/bench/) or from source.
 */
function findRepoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** The built artefacts the benchmarks drive: exactly what package.json `bin` points at. */
export const BUILT = {
  terwayd: join(REPO_ROOT, 'dist/cmd/terwayd.js'),
  terway: join(REPO_ROOT, 'dist/bundle/terway.cjs'),
  ecsEmulator: join(REPO_ROOT, 'dist/cmd/ecs-emulator.js'),
  echoServer: join(REPO_ROOT, 'dist/bench/allocate/echo-server.js'),
} as const;

/** Shell scripts are not compiled, so they are read from the source tree. */
export const SCRIPTS_DIR = join(REPO_ROOT, 'bench/shim-startup');

export function requireFile(path: string, hint = 'run `make bench` (it builds first)'): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${hint}`);
  return path;
}
