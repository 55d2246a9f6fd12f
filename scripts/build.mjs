// Build: regenerate the RPC types, compile with tsc into dist/, then bundle the CNI shim into one
// CommonJS file. The shim runs once per pod, so it must not pay for resolving hundreds of modules.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules/.bin', name);
const runIfPresent = (script) => {
  if (existsSync(join(root, script))) execFileSync(join(root, script), { stdio: 'inherit' });
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync('node', [join(root, 'scripts/gen-proto.mjs')], { stdio: 'inherit' });
execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
// The Service LB's tc program (bpf/ → dist/bpf/) and the N-API addon the daemon programs its maps
// and attaches the program with (native/ → dist/native/).
runIfPresent('scripts/build-bpf.sh');
runIfPresent('scripts/build-native.sh');
// tsc compiles TypeScript only: the generated JavaScript (the static Backend codecs) rides along.
for (const file of readdirSync(join(root, 'src/rpc/generated'))) {
  if (file.endsWith('.js')) {
    copyFileSync(join(root, 'src/rpc/generated', file), join(root, 'dist/src/rpc/generated', file));
  }
}

// terway.cjs is what the runtime execs: a few lines that run terway-main.cjs (the shim itself)
// with a V8 code cache. Both files are installed side by side.
const shimOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};
await build({
  ...shimOptions,
  entryPoints: [join(root, 'cmd/terway.ts')],
  outfile: join(root, 'dist/bundle/terway-main.cjs'),
});
const launcher = join(root, 'dist/bundle/terway.cjs');
await build({
  ...shimOptions,
  entryPoints: [join(root, 'cmd/terway-launcher.ts')],
  outfile: launcher,
});
chmodSync(launcher, 0o755);
for (const cmd of ['terwayd', 'terway-cli', 'ecs-emulator', 'lab'])
  chmodSync(join(root, `dist/cmd/${cmd}.js`), 0o755);
