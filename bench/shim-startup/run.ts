// Benchmark 2: the CNI shim's start-up, exec to printed result, with hyperfine. Baselines in the
// same hyperfine run: bare `node -e 0`, and the Go reference plugin host-local ADD+DEL.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeTempDir, removeDir, trackChild } from '../support/cleanup.js';
import { BenchDaemon, memoryCloudConfig } from '../support/daemon.js';
import { BUILT, requireFile, SCRIPTS_DIR } from '../support/paths.js';
import { ms, ratio } from '../support/stats.js';

export const HOST_LOCAL = '/usr/lib/cni/host-local';
export const SHIM_SETTINGS = { warmup: 3, runs: 30, minPoolSize: 16, maxPoolSize: 32 } as const;

export interface HyperfineFigures {
  name: string;
  command: string;
  medianMs: number;
  meanMs: number;
  stddevMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

export interface ShimBenchResult {
  settings: typeof SHIM_SETTINGS;
  hyperfineVersion: string;
  nodeFloor: HyperfineFigures;
  version: HyperfineFigures;
  terwayAddDel: HyperfineFigures;
  hostLocalAddDel: HyperfineFigures;
  ratios: {
    /** terway VERSION / node -e 0 (medians). */
    versionOverNode: number;
    /** terway ADD+DEL / host-local ADD+DEL (medians). */
    addDelOverHostLocal: number;
  };
  /** terway ADD+DEL minus two bare Node start-ups: what the shim spends beyond `node` itself. */
  addDelBeyondNodeMs: number;
}

interface HyperfineJson {
  results: Array<{
    command: string;
    mean: number;
    stddev: number | null;
    median: number;
    min: number;
    max: number;
    times: number[];
  }>;
}

export function hyperfineVersion(): string {
  const result = spawnSync('hyperfine', ['--version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error('hyperfine is not installed (apt-get install hyperfine; make bootstrap does)');
  }
  return result.stdout.trim();
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function runHyperfine(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn('hyperfine', args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  trackChild(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`hyperfine failed (${code ?? signal})`)),
    );
  });
}

/** One ADD through a wrapper, outside hyperfine, to check it prints a real result. */
function checkAddResult(script: string, env: NodeJS.ProcessEnv, dir: string, what: string): void {
  const out = join(dir, `${what}-result.json`);
  const result = spawnSync('sh', [script], { env: { ...env, ADD_RESULT: out }, encoding: 'utf8' });
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  if (result.status !== 0 || !/"ips"\s*:\s*\[\s*\{/.test(text)) {
    throw new Error(
      `${what} ADD+DEL does not work: exit ${result.status}\n${text}${result.stderr}`,
    );
  }
}

export async function runShimStartupBench(): Promise<ShimBenchResult> {
  const version = hyperfineVersion();
  requireFile(HOST_LOCAL, 'install containernetworking-plugins (make bootstrap does)');
  const terway = requireFile(BUILT.terway);
  const dir = makeTempDir('tn-shim-');
  const { minPoolSize, maxPoolSize } = SHIM_SETTINGS;
  let daemon: BenchDaemon | undefined;
  try {
    daemon = await BenchDaemon.start(memoryCloudConfig(minPoolSize, maxPoolSize), minPoolSize);
    const terwayNetconf = join(dir, 'terway.conflist.json');
    writeFileSync(
      terwayNetconf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'terway',
        type: 'terway',
        daemon_socket: daemon.socket,
      }),
    );
    const hostLocalData = join(dir, 'host-local');
    const hostLocalNetconf = join(dir, 'host-local.json');
    writeFileSync(
      hostLocalNetconf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'bench',
        ipam: { type: 'host-local', subnet: '10.250.0.0/16', dataDir: hostLocalData },
      }),
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE: process.execPath,
      TERWAY: terway,
      TERWAY_NETCONF: terwayNetconf,
      HOST_LOCAL,
      HOST_LOCAL_NETCONF: hostLocalNetconf,
    };
    const terwayScript = join(SCRIPTS_DIR, 'terway-add-del.sh');
    const hostLocalScript = join(SCRIPTS_DIR, 'host-local-add-del.sh');
    checkAddResult(terwayScript, env, dir, 'terway');
    checkAddResult(hostLocalScript, env, dir, 'host-local');

    const node = shellQuote(process.execPath);
    const commands: Array<[string, string]> = [
      ['node -e 0', `${node} -e 0`],
      [
        'terway VERSION',
        `CNI_COMMAND=VERSION ${node} ${shellQuote(terway)} < ${shellQuote(terwayNetconf)}`,
      ],
      ['terway ADD+DEL', `sh ${shellQuote(terwayScript)}`],
      ['host-local ADD+DEL', `sh ${shellQuote(hostLocalScript)}`],
    ];
    const json = join(dir, 'hyperfine.json');
    const args = ['--warmup', String(SHIM_SETTINGS.warmup), '--runs', String(SHIM_SETTINGS.runs)];
    args.push('--export-json', json, '--style', 'basic');
    for (const [name, command] of commands) args.push('--command-name', name, command);
    await runHyperfine(args, env);

    const parsed = JSON.parse(readFileSync(json, 'utf8')) as HyperfineJson;
    const figures = parsed.results.map((r, i): HyperfineFigures => {
      const [name, command] = commands[i] ?? ['?', r.command];
      return {
        name,
        command,
        medianMs: r.median * 1000,
        meanMs: r.mean * 1000,
        stddevMs: (r.stddev ?? 0) * 1000,
        minMs: r.min * 1000,
        maxMs: r.max * 1000,
        runs: r.times.length,
      };
    });
    const [nodeFloor, versionRun, terwayAddDel, hostLocalAddDel] = figures;
    if (!nodeFloor || !versionRun || !terwayAddDel || !hostLocalAddDel) {
      throw new Error(`hyperfine reported ${figures.length} results, expected ${commands.length}`);
    }

    // Every ADD was followed by its DEL: nothing may be left allocated.
    const left = (await daemon.listMappings()).mappings.length;
    const leftHostLocal = readdirSync(join(hostLocalData, 'bench')).filter((f) => /^\d/.test(f));
    if (left !== 0 || leftHostLocal.length !== 0) {
      throw new Error(
        `ADD+DEL left ${left} terway records and ${leftHostLocal.length} host-local IPs`,
      );
    }

    return {
      settings: SHIM_SETTINGS,
      hyperfineVersion: version,
      nodeFloor,
      version: versionRun,
      terwayAddDel,
      hostLocalAddDel,
      ratios: {
        versionOverNode: versionRun.medianMs / nodeFloor.medianMs,
        addDelOverHostLocal: terwayAddDel.medianMs / hostLocalAddDel.medianMs,
      },
      addDelBeyondNodeMs: terwayAddDel.medianMs - 2 * nodeFloor.medianMs,
    };
  } finally {
    if (daemon !== undefined) await daemon.stop();
    removeDir(dir);
  }
}

export function printShim(result: ShimBenchResult): void {
  const rows = [result.nodeFloor, result.version, result.terwayAddDel, result.hostLocalAddDel];
  const lines = rows.map(
    (r) =>
      `${r.name.padEnd(20)} median ${ms(r.medianMs)}  (min ${ms(r.minMs)}, max ${ms(r.maxMs)})`,
  );
  lines.push(
    `ratios               VERSION / node -e 0 ${ratio(result.ratios.versionOverNode)}` +
      `  ADD+DEL / host-local ${ratio(result.ratios.addDelOverHostLocal)}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

// Standalone: node dist/bench/shim-startup/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printShim(await runShimStartupBench());
}
