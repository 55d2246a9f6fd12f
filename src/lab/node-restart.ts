/**
 * `lab node restart <node>`: a node's terwayd stopped the way a DaemonSet rollout stops it
 * (SIGTERM, SIGKILL after a grace period, as kubelet does) and started again at once by the lab's
 * supervisor, with the time the node could not serve measured: what an upgrade costs a node. Its
 * pods and its Service LB maps are the new daemon's to restore.
 *
 * The command and the supervisor share one file per node: the command writes the pid it is about
 * to stop, and the supervisor's DaemonKeeper, seeing that pid exit, takes the file and restarts it
 * without the crash back-off.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { grpcIntrospection, type Introspection } from '../cli/introspection-client.js';
import { TerwayError } from '../errors/terway-error.js';
import { processAlive } from '../util/process-alive.js';
import { findNode, readManifest } from './lab-manifest.js';
import { labNodeDir } from './lab-paths.js';

const RESTART_REQUEST_FILE = 'restart-request';
/** As the supervisor's own stop: terwayd finishes its in-flight calls well within it. */
export const STOP_GRACE_MS = 15_000;
export const DEFAULT_RESTART_TIMEOUT_MS = 60_000;
const POLL_MS = 25;

export function restartRequestPath(labDir: string, node: string): string {
  return join(labNodeDir(labDir, node), RESTART_REQUEST_FILE);
}

/**
 * Whether `lab node restart` stopped this daemon (the request names its pid). The request is
 * removed once read, whichever pid it names: one naming another pid is left from a command that
 * found its daemon already gone, and must not turn a later crash into an immediate restart.
 */
export function takeRestartRequest(
  labDir: string,
  node: string,
  daemonPid: number | undefined,
): boolean {
  const path = restartRequestPath(labDir, node);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  rmSync(path, { force: true });
  return daemonPid !== undefined && text.trim() === String(daemonPid);
}

export interface NodeRestartReport {
  node: string;
  /** The daemon stopped; 0 when none was running (the supervisor was already restarting it). */
  oldPid: number;
  newPid: number;
  /** From SIGTERM to its exit; undefined when none was running. */
  stopMs: number | undefined;
  /** Whether it outlived the grace period and was killed. */
  killed: boolean;
  /** From SIGTERM (or the command's start) until the new daemon answered that it is ready. */
  unservedMs: number;
}

export interface NodeRestartOptions {
  timeoutMs?: number;
  stopGraceMs?: number;
  introspection?: Pick<Introspection, 'status'>;
}

export async function restartLabNode(
  labDir: string,
  nodeName: string,
  options: NodeRestartOptions = {},
): Promise<NodeRestartReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_RESTART_TIMEOUT_MS;
  const stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS;
  const introspection = options.introspection ?? grpcIntrospection;
  const manifest = readManifest(labDir);
  const node = findNode(manifest, nodeName);
  if (!processAlive(manifest.supervisorPid)) {
    throw new TerwayError(
      'NOT_READY',
      `lab ${manifest.id}'s supervisor (pid ${manifest.supervisorPid}) is not running, so nothing ` +
        `would start ${nodeName}'s terwayd again: \`lab down --dir ${labDir}\`, then \`lab up\``,
    );
  }
  if (!manifest.restartDaemons) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `lab ${manifest.id} came up with --no-daemon-restart: its supervisor leaves a stopped ` +
        `terwayd down (lab.json has the daemon's arguments to start it by hand)`,
    );
  }

  const started = Date.now();
  const deadline = started + timeoutMs;
  const oldPid = processAlive(node.daemonPid) ? node.daemonPid : 0;
  let stopMs: number | undefined;
  let killed = false;
  if (oldPid !== 0) {
    writeFileSync(restartRequestPath(labDir, nodeName), `${oldPid}\n`);
    signal(oldPid, 'SIGTERM');
    while (processAlive(oldPid)) {
      if (!killed && Date.now() - started >= stopGraceMs) {
        signal(oldPid, 'SIGKILL');
        killed = true;
      }
      if (Date.now() > deadline) {
        throw new TerwayError(
          'INTERNAL',
          `${nodeName}'s terwayd (pid ${oldPid}) had not exited ${timeoutMs} ms after SIGTERM`,
        );
      }
      await sleep(POLL_MS);
    }
    stopMs = Date.now() - started;
  }

  // The supervisor's restart: a new pid in lab.json, and that daemon saying it is ready.
  for (;;) {
    const current = findNode(readManifest(labDir), nodeName);
    if (current.daemonPid !== node.daemonPid && processAlive(current.daemonPid)) {
      const reply = await introspection.status(current.socket).catch(() => undefined);
      if (reply?.ready === true) {
        return {
          node: nodeName,
          oldPid,
          newPid: current.daemonPid,
          stopMs,
          killed,
          unservedMs: Date.now() - started,
        };
      }
    }
    if (Date.now() > deadline) {
      throw new TerwayError(
        'INTERNAL',
        `${nodeName}'s terwayd was not serving again ${timeoutMs} ms after the stop: see its ` +
          `log ${node.log} and the supervisor's ${manifest.emulator.log}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Signals pid; one that exited meanwhile is fine (it is what the caller waits for). */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeNodeRestart(report: NodeRestartReport): string {
  if (report.stopMs === undefined) {
    return (
      `${report.node}: terwayd was not running; the supervisor started it: ` +
      `pid ${report.newPid} serving ${report.unservedMs} ms later`
    );
  }
  const how = report.killed ? 'SIGKILL after the grace period' : 'SIGTERM';
  return (
    `${report.node}: terwayd pid ${report.oldPid} stopped in ${report.stopMs} ms (${how}); ` +
    `pid ${report.newPid} serving ${report.unservedMs} ms after SIGTERM`
  );
}
