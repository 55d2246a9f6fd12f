/**
 * `lab node restart <node>`: a node's terwayd stopped the way a DaemonSet rollout stops it
 * (SIGTERM, SIGKILL after a grace period, as kubelet does) and started again at once, with the
 * time the node could not serve measured: what an upgrade costs a node. Its pods and its Service
 * LB maps are the new daemon's to restore.
 *
 * The command asks; the lab's supervisor acts. The command writes the pid lab.json names into the
 * node's request file and sends the supervisor RESTART_SIGNAL; the supervisor takes the request
 * and has the node's DaemonKeeper stop that daemon, if it is still the one running, and start it
 * again without the crash back-off. Only the supervisor signals the daemon: it owns the child, so
 * a pid lab.json still names after the daemon died (and the kernel gave to another process) is
 * never signalled.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { grpcIntrospection, type Introspection } from '../cli/introspection-client.js';
import { TerwayError } from '../errors/terway-error.js';
import { processAlive } from '../util/process-alive.js';
import { DAEMON_STOP_GRACE_MS } from './daemon-keeper.js';
import { findNode, readManifest, type LabManifest } from './lab-manifest.js';
import { labNodeDir } from './lab-paths.js';

export const RESTART_SIGNAL = 'SIGUSR2';
const RESTART_REQUEST_FILE = 'restart-request';
export const DEFAULT_RESTART_TIMEOUT_MS = 60_000;
const POLL_MS = 25;

export function restartRequestPath(labDir: string, node: string): string {
  return join(labNodeDir(labDir, node), RESTART_REQUEST_FILE);
}

/** The pid a pending request names, the request removed; undefined when there is none. */
export function takeRestartRequest(labDir: string, node: string): number | undefined {
  const path = restartRequestPath(labDir, node);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  rmSync(path, { force: true });
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether `pid` is this lab's supervisor (`lab supervise --dir <its dir>`), not a pid reused. */
export function isLabSupervisor(pid: number, manifest: LabManifest): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const dir = args.indexOf('--dir');
  return args.includes('supervise') && dir >= 0 && args[dir + 1] === manifest.dir;
}

export interface NodeRestartReport {
  node: string;
  /** The daemon stopped; 0 when none was running (it was waiting out its crash back-off). */
  oldPid: number;
  newPid: number;
  /** From the request to the old daemon's exit; undefined when none was running. */
  stopMs: number | undefined;
  /** From the request until the new daemon answered that it is ready. */
  unservedMs: number;
}

export interface NodeRestartOptions {
  timeoutMs?: number;
  /** The grace the supervisor gives a daemon to stop (the timeout must leave more). */
  stopGraceMs?: number;
  introspection?: Pick<Introspection, 'status'>;
  /** For tests: how the supervisor is recognised and told. */
  isSupervisor?: (pid: number, manifest: LabManifest) => boolean;
  notifySupervisor?: (pid: number) => void;
}

export async function restartLabNode(
  labDir: string,
  nodeName: string,
  options: NodeRestartOptions = {},
): Promise<NodeRestartReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_RESTART_TIMEOUT_MS;
  const stopGraceMs = options.stopGraceMs ?? DAEMON_STOP_GRACE_MS;
  if (timeoutMs <= stopGraceMs) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `a timeout of ${timeoutMs} ms is too short: a daemon has ${stopGraceMs} ms to ` +
        `stop before it is killed, and then its start to make`,
    );
  }
  const introspection = options.introspection ?? grpcIntrospection;
  const isSupervisor = options.isSupervisor ?? isLabSupervisor;
  const notify = options.notifySupervisor ?? ((pid: number) => process.kill(pid, RESTART_SIGNAL));
  const manifest = readManifest(labDir);
  const node = findNode(manifest, nodeName);
  if (!isSupervisor(manifest.supervisorPid, manifest)) {
    throw new TerwayError(
      'NOT_READY',
      `lab ${manifest.id}'s supervisor (pid ${manifest.supervisorPid}) is not running, so nothing ` +
        `would start ${nodeName}'s terwayd again: \`lab down --dir ${labDir}\`, then \`lab up\``,
    );
  }
  if (manifest.restartDaemons !== true) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      manifest.restartDaemons === false
        ? `lab ${manifest.id} came up with --no-daemon-restart: its supervisor leaves a stopped ` +
            `terwayd down (lab.json has the daemon's arguments to start it by hand)`
        : `lab ${manifest.id} was brought up by an earlier lab, whose supervisor takes no ` +
            `restart requests: \`lab down\`, then \`lab up\``,
    );
  }

  const oldPid = node.daemonPid;
  const wasRunning = processAlive(oldPid);
  const started = Date.now();
  const deadline = started + timeoutMs;
  writeFileSync(restartRequestPath(labDir, nodeName), `${oldPid}\n`);
  notify(manifest.supervisorPid);
  let stopMs: number | undefined;
  for (;;) {
    const current = findNode(readManifest(labDir), nodeName);
    const replaced = current.daemonPid !== oldPid;
    if (wasRunning && stopMs === undefined && (replaced || !processAlive(oldPid))) {
      stopMs = Date.now() - started;
    }
    if (replaced && processAlive(current.daemonPid)) {
      const reply = await introspection.status(current.socket).catch(() => undefined);
      if (reply?.ready === true) {
        return {
          node: nodeName,
          oldPid: wasRunning ? oldPid : 0,
          newPid: current.daemonPid,
          stopMs,
          unservedMs: Date.now() - started,
        };
      }
    }
    if (Date.now() > deadline) {
      rmSync(restartRequestPath(labDir, nodeName), { force: true });
      throw new TerwayError(
        'INTERNAL',
        `${nodeName}'s terwayd was not serving again ${timeoutMs} ms after the request: see its ` +
          `log ${node.log} and the supervisor's ${manifest.emulator.log}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function describeNodeRestart(report: NodeRestartReport): string {
  if (report.stopMs === undefined) {
    return (
      `${report.node}: terwayd was not running (waiting out its crash back-off); started at once: ` +
      `pid ${report.newPid} serving ${report.unservedMs} ms later`
    );
  }
  return (
    `${report.node}: terwayd pid ${report.oldPid} stopped in ${report.stopMs} ms; ` +
    `pid ${report.newPid} serving ${report.unservedMs} ms after the request`
  );
}
