#!/usr/bin/env node
// Makes the built commands start fast enough to run inside the VM tier. Run on the HOST, after
// `npm run build`, before booting:
//
//   node scripts/vm/bundle.mjs <cache-root>     prints the bundle directory as its last line
//
// Why: under TCG a JavaScript process runs 15-40x slower than natively, and what a short-lived
// one pays for is its module graph. terwayd pulls in Alibaba Cloud's SDK (about 2,400 files,
// 55 MB): from dist/ it took over two minutes in the VM just to print --help. So for each
// command the lab runs (terwayd, lab, terway-cli) this makes, from the very files `npm run
// build` wrote in dist/:
//   <cmd>.cjs                 one CommonJS bundle of dist/cmd/<cmd>.js (esbuild; no file lookups);
//   <cmd>.cjs.<role>.cache    V8 code caches, so the VM neither parses nor compiles again;
//   <cmd>.js                  an ESM launcher that runs the bundle with the cache for its role.
// test/vm/fixtures/ipvlan-datapath.mjs bind-mounts each launcher over dist/cmd/<cmd>.js inside
// the VM: the lab, its supervisor, its daemons and a restarted daemon all run the bundles without
// knowing. The host's dist/ is never changed.
//
// The caches: one `--help` run per command compiles every module body; then, as root, a short
// native lab (veth driver: this host's kernel has no ipvlan) runs with the launchers mounted in a
// private mount namespace, and every process writes the cache of its role when it exits, so it
// also holds the functions that run later (serving, cloud calls, CNI verbs). That run also leaves
// the CNI shim's own code cache beside dist/bundle/terway-main.cjs, as any native ADD does.
//
// The bundles are the same code: esbuild only concatenates what tsc emitted. Two rewrites, both
// needed by the CommonJS format: an entry's statements after its imports run in an async function
// (there is no top-level await in CommonJS; a rejection still ends the process with the error),
// and `import.meta.url` (used by dist/src/lab/lab-paths.js to find dist/) is that file's URL.
//
// The result is cached under <cache-root>/bundles/<key>, the key hashing the repo's path (the
// launchers name files in it), dist/, the lockfile, Node's version and this script, so a warm run
// costs a hash of dist/ (well under a second). Other keys' bundles are removed only once unused
// for hours: another tree may be running the VM tier with them at this moment.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
if (!process.argv[2]) {
  process.stderr.write('usage: node scripts/vm/bundle.mjs <cache-root>\n');
  process.exit(2);
}
const cacheRoot = resolve(process.argv[2], 'bundles');
const COMMANDS = ['terwayd', 'lab', 'terway-cli'];
/** Native addons stay outside the bundle and resolve from dist/cmd/ (the repo's node_modules). */
const EXTERNAL = ['lmdb'];
const log = (line) => process.stderr.write(`vm-bundle: ${line}\n`);

// --- The key ------------------------------------------------------------------------------------
function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    // The shim's code caches come and go beside its bundle; they are not part of the build.
    else if (!name.endsWith('.cache') && !name.endsWith('.map')) out.push(path);
  }
  return out;
}
const dist = join(root, 'dist');
for (const cmd of COMMANDS) {
  if (!existsSync(join(dist, 'cmd', `${cmd}.js`))) {
    log(`ERROR: ${join(dist, 'cmd', `${cmd}.js`)} is missing: run npm run build first`);
    process.exit(1);
  }
}
const hash = createHash('sha256').update(`${process.version}\0${process.arch}\0${root}\0`);
hash.update(readFileSync(fileURLToPath(import.meta.url)));
hash.update(readFileSync(join(root, 'package-lock.json')));
for (const file of filesUnder(dist))
  hash.update(`${relative(root, file)}\0`).update(readFileSync(file));
const key = hash.digest('hex').slice(0, 16);
const out = join(cacheRoot, key);
if (existsSync(join(out, 'ready'))) {
  // Its "ready" file's mtime says when a run last used it (see pruneOthers).
  const now = new Date();
  utimesSync(join(out, 'ready'), now, now);
  log(`cached: ${out}`);
  process.stdout.write(`${out}\n`);
  process.exit(0);
}

// --- Bundles, launchers and first caches ------------------------------------------------------
const started = Date.now();
mkdirSync(cacheRoot, { recursive: true });
const work = mkdtempSync(join(cacheRoot, `.${key}.`));
const { build } = await import(pathToFileURL(join(root, 'node_modules/esbuild/lib/main.js')).href);

/**
 * esbuild's cjs format has no top-level await, which the entries use (`await runDaemon(...)`,
 * `process.exitCode = await runCli(...)`). The entry's statements after its imports run in an
 * async function instead; a rejection still ends the process with the error, as in ESM.
 */
const IMPORT = /^import\s[^;]*?(?:from\s*)?['"][^'"]+['"];?[ \t]*$/gm;
const noTopLevelAwait = {
  name: 'no-top-level-await',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]cmd[\\/][^\\/]+\.js$/ }, (args) => {
      // The bundle runs inside a function wrapper, where a #! line is a syntax error.
      const source = readFileSync(args.path, 'utf8').replace(/^#!.*/, '');
      const imports = source.match(IMPORT) ?? [];
      const body = source.replace(IMPORT, '');
      return {
        contents: `${imports.join('\n')}\nvoid (async () => {\n${body}\n})();\n`,
        loader: 'js',
      };
    });
  },
};

try {
  for (const cmd of COMMANDS) {
    const t0 = Date.now();
    const entry = join(dist, 'cmd', `${cmd}.js`);
    const bundle = join(work, `${cmd}.cjs`);
    await build({
      entryPoints: [entry],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: EXTERNAL,
      define: {
        'import.meta.url': JSON.stringify(pathToFileURL(join(dist, 'src/lab/lab-paths.js')).href),
      },
      plugins: [noTopLevelAwait],
      logLevel: 'error',
    });
    const launcher = join(work, `${cmd}.js`);
    // The launcher names its bundle by path: write it for where the directory will end up.
    writeFileSync(launcher, launcherSource(cmd, join(out, `${cmd}.cjs`), entry));
    chmodSync(launcher, 0o755);
    log(
      `${cmd}: ${(statSync(bundle).size / 1048576).toFixed(1)} MB bundle in ${Date.now() - t0} ms`,
    );
  }
  rmSync(out, { recursive: true, force: true }); // an earlier run that died half-way
  renameSync(work, out);
} catch (error) {
  rmSync(work, { recursive: true, force: true });
  throw error;
}

const env = { ...process.env, TERWAY_VM_WRITE_CODE_CACHE: '1' };
for (const cmd of COMMANDS) {
  // The fallback cache of every role: each module body is compiled on the way to --help.
  execFileSync(process.execPath, [join(out, `${cmd}.js`), '--help'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...env, TERWAY_VM_CODE_CACHE_ROLE: 'help' },
  });
}
log(`--help code caches made (${Date.now() - started} ms so far)`);
warmRun();
writeFileSync(join(out, 'ready'), `${new Date().toISOString()}\n`);
pruneOthers();
log(`ready in ${Date.now() - started} ms: ${out}`);
process.stdout.write(`${out}\n`);

/**
 * Removes the bundles of other builds once no run can be using them. Not at once: another tree
 * (a second checkout, a CI worktree) may be running the VM tier right now with its own bundles,
 * bind-mounted inside its VM; deleting them made that VM's commands fail with ENOENT half-way
 * through. A bundle counts as in use for STALE_MS after a run last started with it (the mtime of
 * its "ready" file, touched on every cache hit), far longer than a VM run may take (600 s).
 */
function pruneOthers() {
  const STALE_MS = 6 * 3600_000;
  const now = Date.now();
  for (const name of readdirSync(cacheRoot)) {
    if (name === key) continue;
    const dir = join(cacheRoot, name);
    let lastUsed;
    try {
      lastUsed = statSync(existsSync(join(dir, 'ready')) ? join(dir, 'ready') : dir).mtimeMs;
    } catch {
      continue; // removed meanwhile
    }
    if (now - lastUsed > STALE_MS) {
      rmSync(dir, { recursive: true, force: true });
      log(`removed ${dir}, unused for ${Math.round((now - lastUsed) / 3600_000)} h`);
    }
  }
}

/**
 * A short native lab with the launchers in place, so each role's cache also covers what runs
 * after start-up. Best effort: without root or unshare, or if the lab fails here, the --help
 * caches remain and the VM is only slower.
 */
function warmRun() {
  if (process.getuid?.() !== 0) {
    log('not root: skipping the warm-up lab (the VM will compile more itself)');
    return;
  }
  const t0 = Date.now();
  const lab = mkdtempSync(join(tmpdir(), 'terway-vm-warm-'));
  const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  const node = q(process.execPath);
  const labJs = q(join(dist, 'cmd/lab.js'));
  const dir = q(join(lab, 'lab'));
  const script = [
    'set -e',
    ...COMMANDS.map(
      (cmd) => `mount --bind ${q(join(out, `${cmd}.js`))} ${q(join(dist, 'cmd', `${cmd}.js`))}`,
    ),
    `trap '${node} ${labJs} down --dir ${dir} >/dev/null 2>&1 || true' EXIT`,
    `${node} ${labJs} up --dir ${dir} --nodes 1 --driver veth --json --config-json '{"min_pool_size":4,"max_pool_size":4}' >/dev/null`,
    `${node} ${labJs} pod add node-1 warm --dir ${dir} >/dev/null`,
    `${node} ${labJs} pod check node-1 warm --dir ${dir} >/dev/null`,
    `${node} ${q(join(dist, 'cmd/terway-cli.js'))} --socket ${dir}/node-1/eni.sock mapping --json >/dev/null`,
    `${node} ${labJs} pod del node-1 warm --dir ${dir} >/dev/null`,
    `${node} ${labJs} down --dir ${dir} >/dev/null`,
    'trap - EXIT',
  ].join('\n');
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], {
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  rmSync(lab, { recursive: true, force: true });
  if (r.status === 0) {
    const caches = readdirSync(out).filter((n) => n.endsWith('.cache')).length;
    log(`warm-up lab ran natively in ${Date.now() - t0} ms; ${caches} code caches`);
  } else {
    log(
      `warm-up lab failed (exit ${r.status ?? r.signal}; ${(r.stderr || r.error?.message || '').trim().slice(-300)}); ` +
        'keeping the --help caches',
    );
  }
}

/**
 * The launcher: an ES module (dist/ is "type": "module") that runs the CommonJS bundle with the
 * code cache of its role, and `require` resolving from where the real command lives, so the
 * external native addons come from the repo's node_modules. The role is the subcommand (lab up,
 * lab pod add, lab supervise, ...). With TERWAY_VM_WRITE_CODE_CACHE=1 it writes its role's cache
 * when the process exits; otherwise it only reads (its role's, else the --help one), and runs
 * uncached if V8 rejects it. TERWAY_VM_CODE_CACHE_DEBUG=1 says on stderr when that happens.
 */
function launcherSource(cmd, bundle, realEntry) {
  return `// Generated by scripts/vm/bundle.mjs: runs a bundle of ${realEntry} with a V8 code cache.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

const bundle = ${JSON.stringify(bundle)};
const realEntry = ${JSON.stringify(realEntry)};
const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const role =
  process.env.TERWAY_VM_CODE_CACHE_ROLE ||
  ${JSON.stringify(cmd)} + (${JSON.stringify(cmd)} === 'lab' ? '-' + args.slice(0, args[0] === 'pod' ? 2 : 1).join('-') : '');
const read = (path) => {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
};
const cachePath = bundle + '.' + role + '.cache';
const cachedData = read(cachePath) ?? read(bundle + '.help.cache');
const script = new Script(
  '(function (exports, require, module, __filename, __dirname) {' + readFileSync(bundle, 'utf8') + '\\n})',
  { filename: bundle, cachedData },
);
if (process.env.TERWAY_VM_WRITE_CODE_CACHE === '1') {
  process.once('exit', () => {
    const tmp = cachePath + '.' + process.pid;
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cachePath);
  });
} else if (script.cachedDataRejected !== false && process.env.TERWAY_VM_CODE_CACHE_DEBUG === '1') {
  process.stderr.write('vm-bundle: code cache ' + (cachedData ? 'rejected' : 'missing') + ' for ' + role + '\\n');
}
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(realEntry), module, realEntry, dirname(realEntry));
`;
}
