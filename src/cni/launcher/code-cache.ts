import {
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** Cache files sit beside the bundle as `.<bundle>.<profile>.<key>.cache`. */
const CACHE_SUFFIX = '.cache';

type CommonJsWrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;

/**
 * Runs a CommonJS bundle with a V8 code cache. The shim is a fresh process per pod, so without a
 * cache V8 re-parses and re-compiles the same ~370 KB on every ADD and DEL. The cache is written
 * when the process exits, after the verb ran, so it also holds the functions V8 compiled lazily
 * on the way — the bulk of the saving.
 *
 * - One cache per `profile`: a cache holds only what its first run compiled, so runs that take
 *   different paths (a daemon call vs a bare VERSION) each keep their own.
 * - The file name carries the bundle file's identity (size, inode, change and modification
 *   times, in nanoseconds), the Node version and the architecture: V8 itself only checks the
 *   source *length*, so an upgraded bundle of equal size would otherwise run stale bytecode. Any
 *   write or replacement of the file moves its ctime, which no tool can set back. Hashing the
 *   bytes instead would load node:crypto, a few milliseconds of every pod's ADD and DEL.
 * - It lives beside the bundle (root-owned, e.g. /opt/cni/bin), never in a shared temp dir.
 * - Every failure (unwritable dir, corrupt or rejected cache) just means running uncached.
 */
export function runWithCodeCache(bundlePath: string, profile: string): void {
  const source = readFileSync(bundlePath, 'utf8');
  const file = statSync(bundlePath, { bigint: true });
  const key = [process.version, process.arch, file.size, file.ino, file.ctimeNs, file.mtimeNs].join(
    '-',
  );
  const prefix = `.${basename(bundlePath)}.${profile}.`;
  const cachePath = join(dirname(bundlePath), `${prefix}${key}${CACHE_SUFFIX}`);
  const cachedData = readIfPresent(cachePath);
  // A leading #! is legal in a file node runs, not inside a function body; keep the length.
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${body}\n})`,
    { filename: bundlePath, ...(cachedData === undefined ? {} : { cachedData }) },
  );
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once('exit', () => saveCache(script, cachePath, prefix));
  }
  const wrapper = script.runInThisContext() as CommonJsWrapper;
  const module = { exports: {} };
  wrapper(module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Atomic (temp + rename), so concurrent shims never read half a cache; drops older caches. */
function saveCache(script: Script, cachePath: string, prefix: string): void {
  const temp = `${cachePath}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, script.createCachedData(), { mode: 0o644 });
    renameSync(temp, cachePath);
    const directory = dirname(cachePath);
    for (const name of readdirSync(directory)) {
      const path = join(directory, name);
      if (name.startsWith(prefix) && name.endsWith(CACHE_SUFFIX) && path !== cachePath) {
        unlinkSync(path);
      }
    }
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      // Nothing was written; running uncached is the whole cost.
    }
  }
}
