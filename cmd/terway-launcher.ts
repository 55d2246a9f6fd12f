#!/usr/bin/env node
// What kubelet/containerd exec as the `terway` CNI plugin: runs the bundled shim
// (terway-main.cjs, installed beside this file) with a V8 code cache.
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runWithCodeCache } from '../src/cni/launcher/code-cache.js';

/** Verbs that call terwayd run the gRPC client; they share one code cache. */
const DAEMON_VERBS = new Set(['ADD', 'DEL', 'CHECK', 'STATUS', 'GC']);

try {
  const here = dirname(realpathSync(process.argv[1] ?? '.'));
  const profile = DAEMON_VERBS.has(process.env.CNI_COMMAND ?? '') ? 'daemon' : 'local';
  runWithCodeCache(join(here, 'terway-main.cjs'), profile);
} catch (error) {
  // Even a broken install answers the runtime in the spec's shape, never with a stack.
  const msg = `terway: cannot start the CNI shim: ${error instanceof Error ? error.message : String(error)}`;
  process.stdout.write(`${JSON.stringify({ cniVersion: '1.1.0', code: 999, msg })}\n`);
  process.exitCode = 1;
}
