// Build: regenerate the RPC types, compile with tsc into dist/, then bundle the CNI shim into one
// CommonJS file. The shim runs once per pod, so it must not pay for resolving hundreds of modules.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, transformSync } from 'esbuild';

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

// terwayd's Kubernetes client: src/k8s/kube-client.ts re-exports the three client-node classes
// the daemon uses; in dist/ it becomes a bundle of those and what they reach, so the daemon does
// not load the package's generated API (why: that file's comment). Whitespace and comments go:
// a few of the bundled comments are not ASCII, and V8 would then hold the whole 1.8 MB source at
// two bytes a character (3.5 MB) for the daemon's life; 1.2 MB without. Names stay, for stack
// traces. The banner gives the bundled CommonJS dependencies their `require`.
await build({
  entryPoints: [join(root, 'src/k8s/kube-client.ts')],
  outfile: join(root, 'dist/src/k8s/kube-client.js'),
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as createRequireForBundle } from 'node:module';\nconst require = createRequireForBundle(import.meta.url);",
  },
});

// Compact copies of the cloud SDKs' clients, which terwayd loads instead of the packages' own
// (src/cloud/aliyun/sdk-modules.ts says why). The same code without comments and whitespace;
// its requires of the package's own files name them by package path, so they resolve as before.
// Named for the package version, so a later upgrade without a rebuild loads the package itself.
const requireFromRoot = createRequire(join(root, 'package.json'));
mkdirSync(join(root, 'dist/vendor'), { recursive: true });
for (const packageName of ['@alicloud/ecs20140526', '@alicloud/vpc20160428']) {
  const packageJson = requireFromRoot.resolve(`${packageName}/package.json`);
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8'));
  const main = requireFromRoot.resolve(packageName);
  const mainDir = relative(dirname(packageJson), dirname(main));
  const { code } = transformSync(readFileSync(main, 'utf8'), {
    loader: 'js',
    format: 'cjs',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
  });
  const compact = code.replace(
    /require\("(\.\.?\/[^"]+)"\)/g,
    (_, path) => `require(${JSON.stringify(`${packageName}/${join(mainDir, path)}`)})`,
  );
  const ascii = Buffer.byteLength(compact, 'utf8') === compact.length;
  if (/require\("\./.test(compact) || !ascii) {
    throw new Error(`${packageName}: its compact client still has a relative require or non-ASCII`);
  }
  const name = `${basename(packageName)}@${version}.client.cjs`;
  writeFileSync(join(root, 'dist/vendor', name), compact);
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
