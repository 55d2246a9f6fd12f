/**
 * A `lab` (dist/cmd/lab.js) for a benchmark: network-namespace nodes each running the real
 * terwayd against the lab's ECS emulator. The supervisor runs detached, so the lab is torn down
 * by `lab down` both on a normal return and, through `onCleanup`, on a failure or Ctrl-C.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabManifest } from '../../src/lab/lab-manifest.js';
import { manifestSchema } from '../../src/lab/lab-manifest.js';
import { builtSnapshot } from './build-snapshot.js';
import type { ChildOutput } from './cleanup.js';
import { collectOutput, makeTempDir, onCleanup, removeDir } from './cleanup.js';

const UP_TIMEOUT_MS = 150_000;

export interface LabOptions {
  nodes: number;
  /** eni_conf keys laid over the lab defaults. */
  config?: Record<string, unknown>;
  /** When set, every terwayd of the lab records its RPC and `ip` timings under this dir. */
  probeDir?: string;
}

function run(
  labJs: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<ChildOutput> {
  return collectOutput(
    spawn(process.execPath, [labJs, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    }),
  );
}

export class BenchLab {
  private unregister: (() => void) | undefined;

  private constructor(
    private readonly labJs: string,
    readonly dir: string,
    readonly manifest: LabManifest,
  ) {}

  /** Runs from a snapshot of the build (build-snapshot.ts), so a rebuild cannot break it. */
  static async up(options: LabOptions): Promise<BenchLab> {
    const root = await builtSnapshot();
    const labJs = join(root, 'dist/cmd/lab.js');
    const dir = makeTempDir('tn-lab-');
    // Registered before `lab up`: a Ctrl-C while the lab comes up must still take it down.
    const unregister = onCleanup(() => BenchLab.downSync(labJs, dir));
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (options.probeDir !== undefined) {
      env.TN_BENCH_PROBE_DIR = options.probeDir;
      env.NODE_OPTIONS = [
        process.env.NODE_OPTIONS ?? '',
        `--import=${join(root, 'dist/bench/support/daemon-probe.js')}`,
      ]
        .join(' ')
        .trim();
    }
    // The benchmarks restart daemons themselves: the supervisor must not race them for it.
    const args = ['up', '--dir', dir, '--nodes', String(options.nodes), '--driver', 'veth'];
    args.push('--no-daemon-restart');
    args.push('--config-json', JSON.stringify(options.config ?? {}), '--json');
    const result = await run(labJs, args, env, UP_TIMEOUT_MS);
    if (result.code !== 0) {
      unregister();
      BenchLab.downSync(labJs, dir);
      throw new Error(`lab up failed (${result.code}):\n${result.stderr}${result.stdout}`);
    }
    const lab = new BenchLab(labJs, dir, manifestSchema.parse(JSON.parse(result.stdout)));
    lab.unregister = unregister;
    return lab;
  }

  /** `lab down` (DELs the lab's own pods, stops the daemons, removes the namespaces). */
  async down(): Promise<void> {
    const result = await run(this.labJs, ['down', '--dir', this.dir], process.env, 90_000);
    this.unregister?.();
    this.unregister = undefined;
    if (result.code !== 0) {
      BenchLab.downSync(this.labJs, this.dir);
      throw new Error(`lab down failed (${result.code}): ${result.stderr}`);
    }
    removeDir(this.dir);
  }

  /** A pod through `lab pod add` (the node's conflist, the real shim), outside any clock. */
  async addPod(node: string, pod: string): Promise<{ netnsPath: string; ip: string }> {
    const result = await run(
      this.labJs,
      ['pod', 'add', node, pod, '--dir', this.dir],
      process.env,
      60_000,
    );
    if (result.code !== 0) throw new Error(`lab pod add ${node} ${pod}: ${result.stderr}`);
    const ns = await run(
      this.labJs,
      ['pod', 'ns', node, pod, '--dir', this.dir],
      process.env,
      30_000,
    );
    const state = JSON.parse(readFileSync(join(this.dir, 'pods', node, `${pod}.json`), 'utf8')) as {
      result?: { ips?: Array<{ address: string }> };
    };
    const address = state.result?.ips?.[0]?.address;
    if (ns.code !== 0 || address === undefined) {
      throw new Error(`pod ${pod} on ${node} has no netns or IP: ${ns.stderr}`);
    }
    return { netnsPath: ns.stdout.trim(), ip: address.split('/')[0] ?? '' };
  }

  node(name: string): LabManifest['nodes'][number] {
    const node = this.manifest.nodes.find((candidate) => candidate.name === name);
    if (node === undefined) throw new Error(`lab has no ${name}`);
    return node;
  }

  private static downSync(labJs: string, dir: string): void {
    spawnSync(process.execPath, [labJs, 'down', '--dir', dir], {
      stdio: 'ignore',
      timeout: 60_000,
    });
    removeDir(dir);
  }
}
