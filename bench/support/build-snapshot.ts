/**
 * A private copy of the built tree for benchmarks that start long-lived processes from it (a
 * lab's supervisor and daemons, the CNI shim exec'd hundreds of times): other work on the same
 * checkout may run `npm run build`, which empties dist/ for half a minute, and that must not pull
 * files out from under a run. The copy is byte for byte what `make bench` just built: dist/,
 * package.json (it makes dist/**.js ES modules) and a link to node_modules.
 */
import { cpSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, removeDir } from './cleanup.js';
import { REPO_ROOT } from './paths.js';

/** What the lab benchmarks run, relative to the tree's root. */
export const SNAPSHOT_FILES = [
  'dist/cmd/lab.js',
  'dist/cmd/terwayd.js',
  'dist/bundle/terway.cjs',
  'dist/bundle/terway-main.cjs',
  'dist/bench/support/daemon-probe.js',
] as const;

/** A concurrent build takes about half a minute; wait out one or two. */
const WAIT_MS = 90_000;

let snapshot: Promise<string> | undefined;

function complete(root: string): boolean {
  return SNAPSHOT_FILES.every((file) => existsSync(join(root, file)));
}

async function take(): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (complete(REPO_ROOT)) {
      const root = makeTempDir('tn-build-');
      try {
        // The shim's code caches are left behind: a fresh tree makes its own, as on a new node.
        cpSync(join(REPO_ROOT, 'dist'), join(root, 'dist'), {
          recursive: true,
          filter: (source) => !source.endsWith('.cache'),
        });
        cpSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
        symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
        if (complete(root)) return root;
        last = new Error('dist/ changed while it was being copied');
      } catch (error) {
        last = error;
      }
      removeDir(root);
    }
    await sleep(1_000);
  }
  throw new Error(
    `no complete build in ${REPO_ROOT}/dist within ${WAIT_MS / 1000} s (run \`make bench\`, ` +
      `it builds first): ${last instanceof Error ? last.message : 'files missing'}`,
  );
}

/** The snapshot's root (it holds dist/), taken once per process and removed at exit. */
export function builtSnapshot(): Promise<string> {
  snapshot ??= take().catch((error: unknown) => {
    snapshot = undefined;
    throw error;
  });
  return snapshot;
}
