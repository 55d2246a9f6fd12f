import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BINS, requireBuilt } from './bins.js';

const READY_TIMEOUT_MS = 20_000;

/** A terwayd process with its own socket and state dir under a fresh temp dir. */
export class DaemonProcess {
  readonly dir: string;
  readonly socket: string;
  readonly stateDir: string;
  readonly configPath: string;
  child: ChildProcess | undefined;
  logs = '';
  stderr = '';
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(config: Record<string, unknown> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'tn-'));
    this.socket = join(this.dir, 'eni.sock');
    this.stateDir = join(this.dir, 'state');
    this.configPath = join(this.dir, 'eni_conf.json');
    writeFileSync(this.configPath, JSON.stringify(config));
  }

  /** terwayd's arguments for this daemon's config, socket and state dir, then `extraArgs`. */
  args(extraArgs: readonly string[] = []): string[] {
    return [
      '--config',
      this.configPath,
      '--socket',
      this.socket,
      '--state-dir',
      this.stateDir,
      ...extraArgs,
    ];
  }

  /** Starts the daemon and resolves once it logs that it is serving. */
  async start(extraArgs: string[] = []): Promise<void> {
    // Logs accumulate across restarts; only a line from this run means this run is serving.
    const from = this.logs.length;
    const child = spawn(process.execPath, [requireBuilt(BINS.terwayd), ...this.args(extraArgs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`terwayd not ready in ${READY_TIMEOUT_MS} ms:\n${this.logs}${this.stderr}`),
          ),
        READY_TIMEOUT_MS,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        this.logs += chunk.toString();
        if (this.logs.includes('"terwayd is serving"', from)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void this.exit?.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(
          new Error(
            `terwayd exited (${code ?? signal}) before serving:\n${this.logs}${this.stderr}`,
          ),
        );
      });
    });
  }

  /** Log lines as parsed JSON objects. */
  logEntries(): Array<Record<string, unknown>> {
    return this.logs
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    if (child === undefined || this.exit === undefined) return { code: null, signal: null };
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const result = await this.exit;
    this.child = undefined;
    return result;
  }

  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a built command with the given stdin and environment. */
export function runProcess(
  command: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [command, ...args], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

export interface PodArgs {
  namespace?: string;
  name: string;
  containerId: string;
  netns?: string;
  ifname?: string;
}

/** Execs the real `terway` shim for one CNI verb against a daemon socket. */
export function runShim(
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION',
  socket: string,
  pod: PodArgs | undefined,
  netconf: Record<string, unknown> = {},
): Promise<RunResult> {
  const env: Record<string, string> = { CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin' };
  if (pod !== undefined) {
    env.CNI_CONTAINERID = pod.containerId;
    env.CNI_NETNS = pod.netns ?? `/var/run/netns/${pod.name}`;
    env.CNI_IFNAME = pod.ifname ?? 'eth0';
    env.CNI_ARGS = `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace ?? 'default'};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`;
  }
  const conf = {
    cniVersion: '1.0.0',
    name: 'terway',
    type: 'terway',
    daemon_socket: socket,
    ...netconf,
  };
  return runProcess(requireBuilt(BINS.terway), [], { stdin: JSON.stringify(conf), env });
}

/** The IP (without prefix) from an ADD result. */
export function resultIp(result: RunResult): string {
  const parsed = JSON.parse(result.stdout) as { ips: Array<{ address: string }> };
  const address = parsed.ips[0]?.address;
  if (address === undefined) throw new Error(`no IP in ${result.stdout}`);
  return address.split('/')[0] ?? '';
}
