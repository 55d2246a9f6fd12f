/**
 * The VM tier from TypeScript: a thin wrapper over scripts/vm/{detect,prepare,run}.sh, which do
 * the work (see those scripts and /work/shared/VM.md). A test boots one VM with a Debian kernel
 * (this machine's kernel has no ipvlan or dummy), runs a command there inside the host's own
 * file system, and gets its exit code and output back.
 *
 * Inside the VM the repo is read-only, so it must be built on the host first (`make test` does);
 * only the work directory, /tmp, /run and /root are writable there.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, from test/vm/. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPTS = join(REPO_ROOT, 'scripts', 'vm');

const START_MARKER = '@@terway-vm command-start@@';
const EXIT_MARKER = /^@@terway-vm command-exit=(\d+)@@$/m;

export interface VmRunOptions {
  /** argv of the command; wrap a script as ['bash', '-c', script]. */
  command: string[];
  /** Where the command starts (read-only inside the VM). Default: the repo root. */
  cwd?: string;
  /** Extra environment; PATH, HOME=/root, TERWAY_VM=1 and the like are set already. */
  env?: Record<string, string>;
  /** Wall-clock limit for the whole VM, boot included. Default 600 s. */
  timeoutMs?: number;
  /** A host directory shared writable, at the same path inside. Default: a fresh temp dir. */
  workdir?: string;
  /** Guest memory, e.g. '1G' (the default). */
  memory?: string;
  /** Sees the serial console as it arrives, e.g. to echo a long run's progress. */
  onConsole?: (chunk: string) => void;
}

export interface VmRunResult {
  /** The command's exit code; 124 if the VM timed out, 125 if it died without reporting one. */
  exitCode: number;
  /** What the command printed (stdout and stderr interleaved), without the boot noise. */
  output: string;
  /** The whole serial console: kernel messages, markers and the command's output. */
  console: string;
  /** run.sh's own messages (stderr). */
  log: string;
  /** From run.sh: QEMU start to the command starting, the command itself, and the whole run. */
  timings: { bootToCommandMs?: number; commandMs?: number; totalMs?: number };
}

/** Boots a VM, runs `command` in it and resolves when the VM has powered off. */
export async function runInVm(opts: VmRunOptions): Promise<VmRunResult> {
  const ownWorkdir = opts.workdir === undefined;
  const workdir = opts.workdir ?? mkdtempSync(join(tmpdir(), 'terway-vm-work-'));
  const timeoutS = Math.ceil((opts.timeoutMs ?? 600_000) / 1000);
  const args = ['--cwd', opts.cwd ?? REPO_ROOT, '--timeout', String(timeoutS)];
  if (opts.memory) args.push('--mem', opts.memory);
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--env', `${k}=${v}`);
  args.push(workdir, '--', ...opts.command);

  try {
    const child = spawn(join(SCRIPTS, 'run.sh'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let consoleText = '';
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      consoleText += chunk;
      opts.onConsole?.(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    // run.sh enforces the timeout itself; this one only guards against run.sh hanging.
    const guard = setTimeout(() => child.kill('SIGTERM'), (timeoutS + 30) * 1000);
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 125)));
    });
    clearTimeout(guard);
    return {
      exitCode: code,
      output: commandOutput(consoleText),
      console: consoleText,
      log,
      timings: parseTimings(log),
    };
  } finally {
    if (ownWorkdir) rmSync(workdir, { recursive: true, force: true });
  }
}

/** The command's own output: what the console shows between the start and exit markers. */
export function commandOutput(consoleText: string): string {
  const start = consoleText.indexOf(START_MARKER);
  if (start < 0) return '';
  const rest = consoleText.slice(start + START_MARKER.length).replace(/^\r?\n/, '');
  const end = EXIT_MARKER.exec(rest);
  return end ? rest.slice(0, end.index) : rest;
}

function parseTimings(log: string): VmRunResult['timings'] {
  const num = (key: string): number | undefined => {
    const m = new RegExp(`(?:^|\\s)${key}=(\\d+)`).exec(log);
    return m ? Number(m[1]) : undefined;
  };
  return {
    bootToCommandMs: num('boot_to_command_ms'),
    commandMs: num('command_ms'),
    totalMs: num('total_ms'),
  };
}

export interface VmTierGate {
  /** Run the VM tests. */
  run: boolean;
  /** Why not (or how, when run is true). */
  reason: string;
  /** Unavailable here but required: the suite must fail rather than skip. */
  required: boolean;
}

/**
 * Decides, once per test file and at load time (Jest cannot turn a test into a skip later),
 * whether this machine runs the VM tier: detect.sh says whether QEMU can run here, then
 * prepare.sh (idempotent, cached; it prints what it does) installs QEMU, fetches the kernel,
 * builds the initramfs and proves a boot. When the tier cannot run, it says so loudly, naming
 * what is skipped and why.
 *
 * Skipping is allowed unless TERWAY_VM_REQUIRED=1, or CI=true without TERWAY_VM_REQUIRED=0: CI
 * here is root on Debian with apt, where the tier must run, so there a skip is a failure.
 */
export function gateVmTier(what: string): VmTierGate {
  const required =
    process.env.TERWAY_VM_REQUIRED === '1' ||
    (process.env.CI === 'true' && process.env.TERWAY_VM_REQUIRED !== '0');

  const detect = spawnSync(join(SCRIPTS, 'detect.sh'), { encoding: 'utf8' });
  const line = (detect.stdout || detect.stderr || '').trim();
  if (detect.status !== 0) return unavailable(what, line || 'detect.sh failed', required);

  // prepare.sh's progress goes straight to our stderr: a cold run takes a minute.
  const prepare = spawnSync(join(SCRIPTS, 'prepare.sh'), {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (prepare.status === 0) return { run: true, reason: line, required };
  const why =
    prepare.status === 2
      ? 'QEMU could not boot the VM on this machine (prepare.sh exit 2; see its output above)'
      : `scripts/vm/prepare.sh failed (exit ${prepare.status ?? prepare.signal}; see its output above)`;
  return unavailable(what, why, required);
}

function unavailable(what: string, reason: string, required: boolean): VmTierGate {
  const banner = '!'.repeat(100);
  process.stderr.write(
    [
      '',
      banner,
      `!! VM TIER ${required ? 'REQUIRED BUT UNAVAILABLE' : 'SKIPPED'}: ${what}`,
      `!! why: ${reason}`,
      required
        ? '!! (required because CI=true or TERWAY_VM_REQUIRED=1; set TERWAY_VM_REQUIRED=0 to allow a skip)'
        : '!! these tests did NOT run; ipvlan datapath behaviour is untested on this machine',
      banner,
      '',
    ].join('\n') + '\n',
  );
  return { run: false, reason, required };
}

/**
 * The kernel release prepare.sh proved bootable for this run (its cache's current.env): the
 * apt default's, or with TERWAY_VM_SUITE that Debian release's.
 */
export function preparedKernelRelease(): string {
  const found = spawnSync(
    'bash',
    [
      '-c',
      'source "$1/common.sh" && sed -n "s/^KVER=//p" "$(vm_cache_dir)/current.env"',
      '-',
      SCRIPTS,
    ],
    { encoding: 'utf8' },
  );
  const release = found.stdout.trim();
  if (found.status !== 0 || release === '') {
    throw new Error(`no prepared kernel in the VM cache: ${found.stderr.trim()}`);
  }
  return release;
}

/** The Debian release whose kernel the VM boots, when not apt's default (TERWAY_VM_SUITE). */
export const VM_SUITE = process.env.TERWAY_VM_SUITE;

/**
 * Bundles the commands the lab runs (terwayd, lab, terway-cli) with V8 code caches, for
 * test/vm/fixtures/ipvlan-datapath.mjs to mount over dist/cmd/ inside the VM: from dist/ as built,
 * terwayd alone takes minutes to start under TCG (scripts/vm/bundle.mjs says why and how).
 * Cached in the VM tier's cache directory by a hash of dist/; returns the bundle directory.
 * Throws with the script's output when it fails: without the bundles the lab is too slow to test.
 */
export function prepareFastCommands(): { dir: string; ms: number } {
  const started = Date.now();
  const cacheDir = spawnSync(
    'bash',
    ['-c', 'source "$1" && vm_cache_dir', 'bash', join(SCRIPTS, 'common.sh')],
    {
      encoding: 'utf8',
    },
  ).stdout.trim();
  if (cacheDir === '') throw new Error('scripts/vm/common.sh named no cache directory');
  // The VM sees the host's root, but with fresh tmpfs over these: bundles there would vanish.
  if (/^\/(tmp|run|root)(\/|$)/.test(cacheDir)) {
    throw new Error(
      `the VM tier's cache ${cacheDir} is under /tmp, /run or /root, which the VM hides: ` +
        'set TERWAY_VM_CACHE (or XDG_CACHE_HOME) elsewhere',
    );
  }
  // Its progress goes to our stderr (a cold run takes 10-60 s); the directory is its last line.
  const r = spawnSync(process.execPath, [join(SCRIPTS, 'bundle.mjs'), cacheDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000,
  });
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || dir === '') {
    throw new Error(
      `scripts/vm/bundle.mjs failed (exit ${r.status ?? r.signal ?? r.error?.message}): ${r.stdout}`,
    );
  }
  return { dir, ms: Date.now() - started };
}
