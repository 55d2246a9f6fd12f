/** Where the built commands are, seen from the compiled lab (dist/src/lab/). */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const TERWAYD_JS = join(DIST, 'cmd', 'terwayd.js');
export const LAB_JS = join(DIST, 'cmd', 'lab.js');
export const TERWAY_SHIM = join(DIST, 'bundle', 'terway.cjs');
/** Debian's containernetworking-plugins. */
export const REFERENCE_PLUGIN_DIR = '/usr/lib/cni';
export const DEFAULT_LAB_DIR = '/run/terway-lab';

/** A lab node's own directory: its socket, state, log, config and services file. */
export function labNodeDir(labDir: string, node: string): string {
  return join(labDir, node);
}
