import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';

import { stopChild, trackChild } from './cleanup.js';
import { BUILT, requireFile } from './paths.js';

const READY_TIMEOUT_MS = 15_000;
export const BENCH_ACCESS_KEY = { id: 'LTAIbenchmark0001', secret: 'bench-secret-0001' };
export const BENCH_REGION = 'cn-hangzhou';

export interface EmulatorStats {
  calls: Record<string, number>;
  throttled: Record<string, number>;
}

/**
 * The built `ecs-emulator` as its own process, so the account it emulates (and its throttle)
 * does not share a CPU core with the daemons or pool managers being measured.
 */
export class EmulatorProcess {
  private constructor(
    private readonly child: ChildProcess,
    /** `host:port`, as the SDK's endpoint wants it. */
    readonly endpoint: string,
  ) {}

  static async start(args: readonly string[]): Promise<EmulatorProcess> {
    const child = spawn(
      process.execPath,
      [
        requireFile(BUILT.ecsEmulator),
        '--access-key-id',
        BENCH_ACCESS_KEY.id,
        '--access-key-secret',
        BENCH_ACCESS_KEY.secret,
        '--region',
        BENCH_REGION,
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    trackChild(child);
    let output = '';
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`ecs-emulator not ready in ${READY_TIMEOUT_MS} ms:\n${output}`)),
        READY_TIMEOUT_MS,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /ECS 2014-05-26 endpoint: (\S+)/.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`ecs-emulator exited (${code}) before it was ready:\n${output}`));
      });
    });
    return new EmulatorProcess(child, endpoint);
  }

  private async admin<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`http://${this.endpoint}/admin/${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (!response.ok) throw new Error(`admin ${method} ${path}: ${response.status}`);
    return (await response.json()) as T;
  }

  async addInstance(instanceType: string): Promise<{ instanceId: string; metadataUrl: string }> {
    return this.admin('POST', 'instances', { instanceType });
  }

  stats(): Promise<EmulatorStats> {
    return this.admin('GET', 'stats');
  }

  /** Every ENI of the account, as the admin API lists them. */
  enis(): Promise<Array<{ type: string }>> {
    return this.admin('GET', 'enis');
  }

  /** eni_conf keys that point a real terwayd at one instance of this emulator. */
  daemonConfig(metadataUrl: string): Record<string, unknown> {
    return {
      cloud: 'ecs',
      access_key: BENCH_ACCESS_KEY.id,
      access_secret: BENCH_ACCESS_KEY.secret,
      region_id: BENCH_REGION,
      ecs_endpoint: `http://${this.endpoint}`,
      vpc_endpoint: `http://${this.endpoint}`,
      metadata_endpoint: metadataUrl,
    };
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

/** Sum of a per-API count map. */
export function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((sum, value) => sum + value, 0);
}

/** Per-API counts accumulated since `before` (a stats snapshot), zero entries left out. */
export function countsSince(
  after: Readonly<Record<string, number>>,
  before: Readonly<Record<string, number>>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([api, count]) => [api, count - (before[api] ?? 0)] as const)
      .filter(([, count]) => count > 0)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** `API n` pairs, e.g. "CreateNetworkInterface 10, AttachNetworkInterface 10". */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).filter(([, count]) => count > 0);
  return entries.length === 0 ? 'none' : entries.map(([api, n]) => `${api} ${n}`).join(', ');
}
