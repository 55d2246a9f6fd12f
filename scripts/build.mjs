// Build: regenerate the RPC types, compile with tsc into dist/, then bundle the CNI shim into one
// CommonJS file. The shim runs once per pod, so it must not pay for resolving hundreds of modules.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules/.bin', name);

rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync('node', [join(root, 'scripts/gen-proto.mjs')], { stdio: 'inherit' });
execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const shim = join(root, 'dist/bundle/terway.cjs');
await build({
  entryPoints: [join(root, 'cmd/terway.ts')],
  outfile: shim,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(shim, 0o755);
for (const cmd of ['terwayd', 'terway-cli']) chmodSync(join(root, `dist/cmd/${cmd}.js`), 0o755);
