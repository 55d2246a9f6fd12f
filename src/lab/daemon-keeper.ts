/**
 * One lab node's terwayd, kept running the way kubelet keeps a DaemonSet's pod: when it exits on
 * its own (a crash, an OOM kill, `kill -9` by someone trying the lab's crash safety), it is
 * started again with the same arguments, after a back-off that doubles while it keeps dying and
 * starts over once it has stayed up. Every exit and restart is logged with its cause, so a node
 * whose daemon is gone is never silent.
 *
 * Restarts begin only once the lab is up (`labIsUp`): a daemon that dies while the lab comes up
 * is reported, and `lab up` fails on it (the supervisor's wait sees it gone); one that dies between
 * serving and the lab being up is restarted then. A harness that stops and starts daemons itself
 * (tests, benchmarks) turns restarts off, or the keeper and the harness would race for the node's
 * state dir; an exit is then only reported.
 *
 * `lab node restart` asks the supervisor, which stops the daemon through this keeper (it owns the
 * child, so no other process can be signalled by mistake) and starts it again at once: such an
 * exit is not a crash, and leaves the back-off as it was.
 */
import type { ChildProcess } from 'node:child_process';

import type { Logger } from 'pino';

/** The first wait before a restart, and its ceiling as it doubles. */
export const RESTART_BACKOFF = { initialMs: 1_000, maxMs: 30_000 } as const;
/** A daemon up this long has recovered: its next exit waits the initial back-off again. */
export const STABLE_AFTER_MS = 60_000;
/** How long a daemon asked to stop (SIGTERM) has before it is killed. */
export const DAEMON_STOP_GRACE_MS = 15_000;

export interface DaemonKeeperOptions {
  readonly node: string;
  /** Spawns the node's terwayd with its lab arguments, output to its log. */
  readonly start: () => ChildProcess;
  /** After a restart, with the new daemon: the supervisor rewrites lab.json's daemonPid. */
  readonly restarted: (daemon: ChildProcess) => void;
  readonly log: Logger;
  readonly now?: () => number;
}

export class DaemonKeeper {
  private current: ChildProcess;
  private startedAt: number;
  /** Before the lab is up; then whether an exit is restarted or only reported. */
  private phase: 'starting' | 'restarting' | 'reporting' = 'starting';
  private stopping = false;
  private backoffMs: number = RESTART_BACKOFF.initialMs;
  private timer: NodeJS.Timeout | undefined;
  private restartCount = 0;
  /** The daemon requestRestart stopped: its exit is restarted at once. */
  private stoppedForRestart: ChildProcess | undefined;
  private readonly now: () => number;

  constructor(private readonly options: DaemonKeeperOptions) {
    this.now = options.now ?? Date.now;
    this.current = options.start();
    this.startedAt = this.now();
    this.watch(this.current);
  }

  /** The daemon running now (or the one that last exited, until its restart). */
  get daemon(): ChildProcess {
    return this.current;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** The lab is up: from now on an exit is restarted (`restart`), or only reported. */
  labIsUp(restart: boolean): void {
    this.phase = restart ? 'restarting' : 'reporting';
    // It may have died between its start and now: that exit was not acted on.
    if (restart && exited(this.current) && !this.stopping) this.scheduleRestart();
  }

  /**
   * `lab node restart`: stops the daemon (SIGTERM, SIGKILL after `graceMs`) and starts it again at
   * once, if it is still the one the request names (`daemonPid`, from lab.json). One already
   * down, waiting out its back-off, is started at once. Whether anything was done: not when
   * restarts are off, or when the daemon named has already been replaced.
   */
  requestRestart(daemonPid: number, graceMs: number): boolean {
    const daemon = this.current;
    if (this.phase !== 'restarting' || this.stopping || daemon.pid !== daemonPid) return false;
    if (exited(daemon)) {
      if (this.timer === undefined) return false;
      clearTimeout(this.timer);
      this.scheduleRestart(0);
      return true;
    }
    this.stoppedForRestart = daemon;
    void terminate(daemon, graceMs);
    return true;
  }

  /** Stops the daemon (SIGTERM, SIGKILL after `timeoutMs`) and any restart still to come. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!exited(this.current)) await terminate(this.current, timeoutMs);
  }

  private watch(daemon: ChildProcess): void {
    let ended = false;
    const end = (how: Record<string, unknown>) => {
      if (ended) return;
      ended = true;
      this.ended(daemon, how);
    };
    daemon.once('exit', (code, signal) => end({ code, signal }));
    // A spawn that failed (EAGAIN, ENOENT) says so here, maybe with no exit after it; unheard, it
    // would take the supervisor down. Any other error of a running child changes nothing.
    daemon.on('error', (error) => {
      if (daemon.pid === undefined) end({ err: error.message });
    });
  }

  private ended(daemon: ChildProcess, how: Record<string, unknown>): void {
    if (this.stopping || daemon !== this.current) return;
    const { node, log } = this.options;
    // `daemonPid`, not `pid`: that is the supervisor's own in every log line.
    const fields = { node, daemonPid: daemon.pid, ...how };
    if (this.phase !== 'restarting') {
      const why =
        this.phase === 'starting'
          ? 'terwayd exited while the lab came up'
          : 'terwayd exited; not restarted (lab up --no-daemon-restart)';
      log.error(fields, why);
      return;
    }
    if (this.now() - this.startedAt >= STABLE_AFTER_MS) this.backoffMs = RESTART_BACKOFF.initialMs;
    if (this.stoppedForRestart === daemon) {
      this.stoppedForRestart = undefined;
      log.info(fields, 'terwayd stopped for a restart; starting it again');
      this.scheduleRestart(0);
      return;
    }
    log.warn({ ...fields, restartInMs: this.backoffMs }, 'terwayd exited; restarting it');
    this.scheduleRestart();
  }

  /** After `delayMs`, or after the back-off (which then doubles). */
  private scheduleRestart(delayMs?: number): void {
    const delay = delayMs ?? this.backoffMs;
    if (delayMs === undefined) this.backoffMs = Math.min(this.backoffMs * 2, RESTART_BACKOFF.maxMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopping) return;
      const { node, log } = this.options;
      let daemon: ChildProcess;
      try {
        daemon = this.options.start();
      } catch (error) {
        // Its log file could not be opened, say: try again later, as after a crash.
        log.error(
          { node, err: error instanceof Error ? error.message : String(error) },
          'terwayd could not be started; trying again',
        );
        this.scheduleRestart();
        return;
      }
      this.current = daemon;
      this.startedAt = this.now();
      this.restartCount++;
      this.watch(daemon);
      log.info({ node, daemonPid: daemon.pid, restarts: this.restartCount }, 'terwayd restarted');
      this.options.restarted(daemon);
    }, delay);
  }
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves on its exit. */
function terminate(daemon: ChildProcess, graceMs: number): Promise<void> {
  const gone = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  daemon.kill('SIGTERM');
  const kill = setTimeout(() => daemon.kill('SIGKILL'), graceMs);
  return gone.finally(() => clearTimeout(kill));
}

/** Whether the child has exited, by a code or a signal. */
export function exited(daemon: ChildProcess): boolean {
  return daemon.exitCode !== null || daemon.signalCode !== null;
}
