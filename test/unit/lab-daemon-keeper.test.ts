import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';

import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import pino from 'pino';

import {
  DAEMON_STOP_GRACE_MS,
  DaemonKeeper,
  RESTART_BACKOFF,
  STABLE_AFTER_MS,
} from '../../src/lab/daemon-keeper.js';

/** A child process as the keeper sees it: a pid, an exit, and kill. */
class FakeDaemon extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly signals: string[] = [];

  /** Undefined: the spawn itself failed. */
  constructor(readonly pid: number | undefined) {
    super();
  }

  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    if (signal === 'SIGKILL' || !this.ignoresTerm) this.exit(null, signal);
    return true;
  }

  ignoresTerm = false;

  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }
}

interface Harness {
  keeper: DaemonKeeper;
  daemons: FakeDaemon[];
  restarted: number[];
  logs: Array<Record<string, unknown>>;
  advance: (ms: number) => void;
}

/** `failStarts`: how the next starts go wrong (a spawn error, or start throwing), in order. */
function harness(failStarts: Array<'spawn' | 'throw'> = []): Harness {
  const daemons: FakeDaemon[] = [];
  const restarted: number[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  let now = 0;
  const keeper = new DaemonKeeper({
    node: 'node-1',
    start: () => {
      const failure = daemons.length === 0 ? undefined : failStarts.shift();
      if (failure === 'throw') throw new Error('EMFILE: too many open files');
      const daemon = new FakeDaemon(failure === 'spawn' ? undefined : 100 + daemons.length);
      daemons.push(daemon);
      if (failure === 'spawn') {
        queueMicrotask(() => daemon.emit('error', new Error('spawn EAGAIN')));
      }
      return daemon as unknown as ChildProcess;
    },
    restarted: (daemon) => restarted.push(daemon.pid ?? 0),
    log,
    now: () => now,
  });
  const advance = (ms: number) => {
    now += ms;
    jest.advanceTimersByTime(ms);
  };
  return { keeper, daemons, restarted, logs, advance };
}

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('a lab node’s terwayd', () => {
  test('killed, it is started again after a second, and the supervisor hears of the new one', () => {
    const { keeper, daemons, restarted, logs, advance } = harness();
    keeper.labIsUp(true);
    daemons[0]!.exit(null, 'SIGKILL');
    expect(logs.at(-1)).toMatchObject({
      msg: 'terwayd exited; restarting it',
      node: 'node-1',
      daemonPid: 100,
      signal: 'SIGKILL',
      restartInMs: RESTART_BACKOFF.initialMs,
    });
    advance(RESTART_BACKOFF.initialMs - 1);
    expect(daemons).toHaveLength(1);
    advance(1);
    expect(daemons).toHaveLength(2);
    expect(keeper.daemon).toBe(daemons[1]);
    expect(restarted).toEqual([101]);
    expect(keeper.restarts).toBe(1);
    expect(logs.at(-1)).toMatchObject({ msg: 'terwayd restarted', daemonPid: 101, restarts: 1 });
  });

  test('dying again and again waits twice as long each time, up to the ceiling', () => {
    const { keeper, daemons, logs, advance } = harness();
    keeper.labIsUp(true);
    const waits: unknown[] = [];
    for (let crash = 0; crash < 7; crash++) {
      daemons.at(-1)!.exit(1, null);
      waits.push(logs.at(-1)!['restartInMs']);
      advance(RESTART_BACKOFF.maxMs);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  test('one that stayed up a minute has recovered: its next exit waits a second again', () => {
    const { keeper, daemons, logs, advance } = harness();
    keeper.labIsUp(true);
    daemons[0]!.exit(1, null);
    advance(1_000);
    daemons[1]!.exit(1, null);
    advance(2_000);
    advance(STABLE_AFTER_MS);
    daemons[2]!.exit(1, null);
    expect(logs.at(-1)).toMatchObject({ restartInMs: 1_000 });
  });

  test('a requested restart stops it and starts it again at once; the crash back-off stays', () => {
    const { keeper, daemons, restarted, logs, advance } = harness();
    keeper.labIsUp(true);
    daemons[0]!.exit(1, null);
    advance(RESTART_BACKOFF.initialMs);
    expect(daemons).toHaveLength(2);

    expect(keeper.requestRestart(101, DAEMON_STOP_GRACE_MS)).toBe(true);
    expect(daemons[1]!.signals).toEqual(['SIGTERM']);
    expect(logs.at(-1)).toMatchObject({
      msg: 'terwayd stopped for a restart; starting it again',
      daemonPid: 101,
      signal: 'SIGTERM',
    });
    advance(0);
    expect(daemons).toHaveLength(3);
    expect(restarted).toEqual([101, 102]);
    expect(keeper.restarts).toBe(2);

    // The next crash waits what it would have waited without the requested restart...
    daemons[2]!.exit(1, null);
    expect(logs.at(-1)).toMatchObject({ msg: 'terwayd exited; restarting it', restartInMs: 2_000 });
    // ...and a request is for one stop: the next daemon's exit is a crash again.
    advance(2_000);
    daemons[3]!.exit(1, null);
    expect(logs.at(-1)).toMatchObject({ restartInMs: 4_000 });
  });

  test('a requested restart of a daemon that ignores SIGTERM kills it after the grace', () => {
    const { keeper, daemons, advance, logs } = harness();
    keeper.labIsUp(true);
    daemons[0]!.ignoresTerm = true;
    expect(keeper.requestRestart(100, DAEMON_STOP_GRACE_MS)).toBe(true);
    advance(DAEMON_STOP_GRACE_MS - 1);
    expect(daemons[0]!.signals).toEqual(['SIGTERM']);
    advance(1);
    expect(daemons[0]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(logs.at(-1)).toMatchObject({
      signal: 'SIGKILL',
      msg: 'terwayd stopped for a restart; starting it again',
    });
    // (A zero-delay timer set inside a fake timer's callback runs a millisecond later.)
    advance(1);
    expect(daemons).toHaveLength(2);
  });

  test('a daemon down in its crash back-off is started at once on request', () => {
    const { keeper, daemons, advance } = harness();
    keeper.labIsUp(true);
    daemons[0]!.exit(1, null);
    expect(keeper.requestRestart(100, DAEMON_STOP_GRACE_MS)).toBe(true);
    advance(0);
    expect(daemons).toHaveLength(2);
    // Its pending back-off restart was replaced, not added to.
    advance(RESTART_BACKOFF.maxMs);
    expect(daemons).toHaveLength(2);
  });

  test('a request for a daemon already replaced, or in a lab without restarts, does nothing', () => {
    const { keeper, daemons, advance } = harness();
    keeper.labIsUp(true);
    daemons[0]!.exit(1, null);
    advance(RESTART_BACKOFF.initialMs);
    expect(keeper.requestRestart(100, DAEMON_STOP_GRACE_MS)).toBe(false);
    expect(daemons[1]!.signals).toEqual([]);

    const off = harness();
    off.keeper.labIsUp(false);
    expect(off.keeper.requestRestart(100, DAEMON_STOP_GRACE_MS)).toBe(false);
    expect(off.daemons[0]!.signals).toEqual([]);
  });

  test('after a minute up, a requested restart also resets the back-off', () => {
    const { keeper, daemons, logs, advance } = harness();
    keeper.labIsUp(true);
    for (let crash = 0; crash < 3; crash++) {
      daemons.at(-1)!.exit(1, null);
      advance(RESTART_BACKOFF.maxMs);
    }
    advance(STABLE_AFTER_MS);
    expect(keeper.requestRestart(daemons.at(-1)!.pid!, DAEMON_STOP_GRACE_MS)).toBe(true);
    advance(0);
    daemons.at(-1)!.exit(1, null);
    expect(logs.at(-1)).toMatchObject({ restartInMs: RESTART_BACKOFF.initialMs });
  });

  test('before the lab is up an exit is reported, not restarted', () => {
    const { daemons, logs, advance } = harness();
    daemons[0]!.exit(1, null);
    advance(RESTART_BACKOFF.maxMs);
    expect(daemons).toHaveLength(1);
    expect(logs.at(-1)).toMatchObject({ msg: 'terwayd exited while the lab came up', code: 1 });
  });

  test('one that died between serving and the lab being up is restarted once it is up', () => {
    const { keeper, daemons, logs, advance } = harness();
    daemons[0]!.exit(1, null);
    expect(logs.at(-1)).toMatchObject({ msg: 'terwayd exited while the lab came up' });
    keeper.labIsUp(true);
    advance(RESTART_BACKOFF.initialMs);
    expect(daemons).toHaveLength(2);
  });

  test('a restart that cannot spawn, or whose start throws, is logged and tried again', async () => {
    const { keeper, daemons, logs, advance } = harness(['spawn', 'throw']);
    keeper.labIsUp(true);
    daemons[0]!.exit(null, 'SIGKILL');
    advance(1_000);
    // The spawn failed: an error event and no exit, which must not take the supervisor down.
    await Promise.resolve();
    expect(logs.at(-1)).toMatchObject({
      msg: 'terwayd exited; restarting it',
      err: 'spawn EAGAIN',
      restartInMs: 2_000,
    });
    advance(2_000);
    expect(logs.at(-1)).toMatchObject({
      msg: 'terwayd could not be started; trying again',
      err: 'EMFILE: too many open files',
    });
    advance(4_000);
    expect(daemons).toHaveLength(3);
    expect(keeper.daemon).toBe(daemons[2]);
    expect(daemons[2]!.pid).toBe(102);
  });

  test('with restarts off an exit is reported, not restarted', () => {
    const { keeper, daemons, logs, advance } = harness();
    keeper.labIsUp(false);
    daemons[0]!.exit(null, 'SIGKILL');
    advance(RESTART_BACKOFF.maxMs);
    expect(daemons).toHaveLength(1);
    expect(logs.at(-1)).toMatchObject({
      msg: 'terwayd exited; not restarted (lab up --no-daemon-restart)',
      signal: 'SIGKILL',
    });
  });

  test('stop ends the daemon and any restart still pending, and its exit starts nothing', async () => {
    const pending = harness();
    pending.keeper.labIsUp(true);
    pending.daemons[0]!.exit(null, 'SIGSEGV');
    await pending.keeper.stop(15_000);
    pending.advance(RESTART_BACKOFF.maxMs);
    expect(pending.daemons).toHaveLength(1);

    const running = harness();
    running.keeper.labIsUp(true);
    await running.keeper.stop(15_000);
    expect(running.daemons[0]!.signals).toEqual(['SIGTERM']);
    running.advance(RESTART_BACKOFF.maxMs);
    expect(running.daemons).toHaveLength(1);
  });

  test('a daemon that ignores SIGTERM is killed after the timeout', async () => {
    const { keeper, daemons, advance } = harness();
    keeper.labIsUp(true);
    daemons[0]!.ignoresTerm = true;
    const stopped = keeper.stop(15_000);
    advance(14_999);
    expect(daemons[0]!.signals).toEqual(['SIGTERM']);
    advance(1);
    await stopped;
    expect(daemons[0]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
  });
});
