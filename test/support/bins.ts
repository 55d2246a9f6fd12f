import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, from test/support/. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built commands, exactly what package.json `bin` points at. `make test` builds first. */
export const BINS = {
  terwayd: join(REPO_ROOT, 'dist/cmd/terwayd.js'),
  terway: join(REPO_ROOT, 'dist/bundle/terway.cjs'),
  terwayCli: join(REPO_ROOT, 'dist/cmd/terway-cli.js'),
} as const;

export function requireBuilt(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`npm run build\` (make test does) before this suite`);
  }
  return path;
}

/** The shim's addon as the build installs it beside the bundle; its build directory otherwise. */
export function builtShimAddon(): string {
  const path = [
    join(REPO_ROOT, 'dist', 'bundle', 'terway_uds.node'),
    join(REPO_ROOT, 'native', 'build', 'Release', 'terway_uds.node'),
  ].find((candidate) => existsSync(candidate));
  if (path === undefined) throw new Error('terway_uds.node is not built (make build)');
  return path;
}
