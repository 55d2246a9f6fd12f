import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListMappingsReply__Output } from '../../src/rpc/generated/terway/v1/ListMappingsReply.js';
import type { PoolFigures__Output } from '../../src/rpc/generated/terway/v1/PoolFigures.js';
import type { ShowFactoryReply__Output } from '../../src/rpc/generated/terway/v1/ShowFactoryReply.js';
import { TERWAYD_NODE_FLAGS, terwaydEnv } from '../../src/daemon/runtime-settings.js';
import { grpcIntrospection } from '../../src/cli/introspection-client.js';
import { makeTempDir, removeDir, stopChild, trackChild } from './cleanup.js';
import { BUILT, requireFile } from './paths.js';

const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

/** A simulated cloud fast enough that the pool warms in well under a second. */
export function memoryCloudConfig(
  minPoolSize: number,
  maxPoolSize: number,
): Record<string, unknown> {
  return {
    min_pool_size: minPoolSize,
    max_pool_size: maxPoolSize,
    emulator: {
      instance_type: 'ecs.ebmg5.24xlarge',
      api_latency: '5ms',
      attach_latency: '20ms',
    },
  };
}

/**
 * The built terwayd as a separate process, with its own temp dir (config, socket, state, log).
 * Its log goes to a file, as it would to the kubelet's log pipe, so no benchmark process pays
 * for reading it.
 */
export class BenchDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly logPath: string;
  private child: ChildProcess | undefined;

  private constructor(dir: string) {
    this.dir = dir;
    this.socket = join(dir, 'eni.sock');
    this.logPath = join(dir, 'terwayd.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts terwayd and resolves once the pool holds at least `minIdle` idle IPs. */
  /** `envChanges`: added to terwayd's environment (runtime-settings.ts); null removes a variable. */
  static async start(
    config: Record<string, unknown>,
    minIdle: number,
    nodeArgs: readonly string[] = [],
    envChanges: Readonly<Record<string, string | null>> = {},
  ): Promise<BenchDaemon> {
    const daemon = new BenchDaemon(makeTempDir('tn-bench-'));
    try {
      await daemon.launch(config, minIdle, nodeArgs, envChanges);
      return daemon;
    } catch (error) {
      await daemon.stop();
      throw error;
    }
  }

  private async launch(
    config: Record<string, unknown>,
    minIdle: number,
    nodeArgs: readonly string[],
    envChanges: Readonly<Record<string, string | null>>,
  ): Promise<void> {
    const configPath = join(this.dir, 'eni_conf.json');
    writeFileSync(configPath, JSON.stringify(config));
    const log = openSync(this.logPath, 'w');
    // Launched as the lab and the image launch it (runtime-settings.ts), plus the caller's flags.
    const args = [
      ...TERWAYD_NODE_FLAGS,
      ...nodeArgs,
      requireFile(BUILT.terwayd),
      '--config',
      configPath,
    ];
    args.push('--socket', this.socket);
    args.push('--state-dir', join(this.dir, 'state'));
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', log, log],
      env: daemonEnv(envChanges),
    });
    closeSync(log);
    this.child = child;
    trackChild(child);

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastIdle = 0;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`terwayd exited before it was ready:\n${this.logTail()}`);
      }
      if (existsSync(this.socket)) {
        try {
          lastIdle = (await this.showFactory()).pool?.idle ?? 0;
          if (lastIdle >= minIdle) return;
        } catch {
          // not serving yet
        }
      }
      await sleep(POLL_MS);
    }
    throw new Error(
      `terwayd's pool reached ${lastIdle} idle IPs, not ${minIdle}, within ${READY_TIMEOUT_MS} ms:\n${this.logTail()}`,
    );
  }

  /** Polls ShowFactory until `ready` holds for the pool figures. */
  async waitForPool(ready: (pool: PoolFigures__Output) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last: PoolFigures__Output | null = null;
    while (Date.now() < deadline) {
      last = (await this.showFactory()).pool;
      if (last !== null && ready(last)) return;
      await sleep(POLL_MS);
    }
    throw new Error(`terwayd's pool was not ${what} in time: ${JSON.stringify(last)}`);
  }

  showFactory(): Promise<ShowFactoryReply__Output> {
    return grpcIntrospection.showFactory(this.socket);
  }

  listMappings(): Promise<ListMappingsReply__Output> {
    return grpcIntrospection.listMappings(this.socket);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM (SIGKILL after a grace period), then removes the temp dir. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.child !== undefined) await stopChild(this.child);
    this.child = undefined;
    removeDir(this.dir);
  }
}

function daemonEnv(changes: Readonly<Record<string, string | null>>): NodeJS.ProcessEnv {
  const env = terwaydEnv(process.env);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete env[name];
    else env[name] = value;
  }
  return env;
}
