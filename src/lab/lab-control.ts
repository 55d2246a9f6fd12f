/**
 * `lab up` and `lab down`: start the supervisor in the background and wait until it has written
 * lab.json (or died, and then say why); stop it, and sweep whatever a crashed supervisor left.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { TerwayError } from '../errors/terway-error.js';
import { processAlive as alive } from '../util/process-alive.js';
import { deletePod, listPods } from './lab-pods.js';
import type { LabDriver, LabManifest } from './lab-manifest.js';
import { MANIFEST_FILE, readManifest } from './lab-manifest.js';
import { LAB_JS } from './lab-paths.js';
import { deleteNetns, listNetns, removeBpfPinDirs } from './lab-shell.js';
import { labNetnsPrefix, newLabId, removeLabDir } from './lab-supervisor.js';
import type { TcHookChoice } from '../dataplane/bpf/native-bpf.js';

/** Beyond the supervisor's own two waits: building the VPC and starting the emulator. */
const UP_SLACK_MS = 30_000;
const DOWN_TIMEOUT_MS = 60_000;

export async function labUp(options: {
  dir: string;
  nodes: number;
  driver: LabDriver;
  lbHook: TcHookChoice;
  extraConfig: Record<string, unknown>;
  readyTimeoutMs: number;
  /** Start a node's terwayd again when it exits (see DaemonKeeper). */
  restartDaemons: boolean;
}): Promise<LabManifest> {
  const { dir } = options;
  if (existsSync(join(dir, MANIFEST_FILE))) {
    const existing = readManifest(dir);
    if (alive(existing.supervisorPid)) {
      throw new TerwayError(
        'ALREADY_RUNNING',
        `lab ${existing.id} is already up at ${dir}; \`lab down --dir ${dir}\` first`,
      );
    }
    await sweep(existing.id, existing);
    removeLabDir(dir);
  }
  const logPath = join(dir, 'supervisor.log');
  // What a lab that failed to come up left (its logs were shown then); never a foreign dir.
  if (existsSync(logPath)) removeLabDir(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logFd = openSync(logPath, 'a');
  const id = newLabId();
  const child = spawn(
    process.execPath,
    [
      LAB_JS,
      'supervise',
      '--dir',
      dir,
      '--id',
      id,
      '--nodes',
      String(options.nodes),
      '--driver',
      options.driver,
      '--lb-hook',
      options.lbHook,
      '--config-json',
      JSON.stringify(options.extraConfig),
      '--ready-timeout',
      `${options.readyTimeoutMs}ms`,
      ...(options.restartDaemons ? [] : ['--no-daemon-restart']),
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  child.unref();
  const upTimeoutMs = 2 * options.readyTimeoutMs + UP_SLACK_MS;
  const deadline = Date.now() + upTimeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(join(dir, MANIFEST_FILE))) return readManifest(dir);
    if (child.exitCode !== null || (child.pid !== undefined && !alive(child.pid))) {
      throw new TerwayError(
        'INTERNAL',
        `the lab supervisor exited before the lab was up:\n${tail(logPath)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
  throw new TerwayError(
    'INTERNAL',
    `the lab was not up after ${upTimeoutMs} ms:\n${tail(logPath)}`,
  );
}

/** DELs every pod through CNI, stops the supervisor (which stops the daemons), removes the dir. */
export async function labDown(dir: string, log: (line: string) => void): Promise<void> {
  const manifest = readManifest(dir);
  for (const { node, pod } of listPods(manifest)) {
    try {
      await deletePod(manifest, node, pod);
      log(`deleted pod ${pod} on ${node}`);
    } catch (error) {
      log(
        `pod ${pod} on ${node}: DEL failed (${error instanceof Error ? error.message : String(error)}); its namespace goes with the lab`,
      );
    }
  }
  if (alive(manifest.supervisorPid)) {
    process.kill(manifest.supervisorPid, 'SIGTERM');
    const deadline = Date.now() + DOWN_TIMEOUT_MS;
    while (alive(manifest.supervisorPid) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await sweep(manifest.id, manifest);
  removeLabDir(dir);
  log(`lab ${manifest.id} is down`);
}

/** Whatever a supervisor that died hard left: its daemons and its namespaces. */
async function sweep(id: string, manifest: LabManifest): Promise<void> {
  for (const pid of [manifest.supervisorPid, ...manifest.nodes.map((node) => node.daemonPid)]) {
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  }
  for (const name of (await listNetns()).filter((ns) => ns.startsWith(labNetnsPrefix(id)))) {
    await deleteNetns(name);
  }
  removeBpfPinDirs(labNetnsPrefix(id));
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no supervisor log)';
  }
}
