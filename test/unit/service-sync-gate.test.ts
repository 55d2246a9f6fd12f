import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { ServiceSyncGate, type FirstStateProgrammed } from '../../src/daemon/service-sync-gate.js';
import { FakeClock, flushMicrotasks } from '../../src/util/fake-clock.js';

/** An LB whose first state is programmed when the test says so. */
function lbProgrammedLater(): FirstStateProgrammed & { programmed(): void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { whenFirstStateProgrammed: () => promise, programmed: () => resolve() };
}

function setUp(lb: FirstStateProgrammed | undefined, waitMs: number) {
  const clock = new FakeClock();
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const gate = new ServiceSyncGate({ lb, waitMs, clock, log });
  return { clock, logs, gate };
}

/** Starts a wait and records when it ends, in the fake clock's time. */
function track(gate: ServiceSyncGate, clock: FakeClock, deadlineMs: number) {
  const outcome: { waitedMs?: number; endedBy?: string; endedAt?: number } = {};
  void gate.waitUntil(deadlineMs).then(({ waitedMs, endedBy }) => {
    outcome.waitedMs = waitedMs;
    outcome.endedBy = endedBy;
    outcome.endedAt = clock.now();
  });
  return outcome;
}

describe('ServiceSyncGate', () => {
  test("an ADD is held until the LB has its source's first state, then ADDs pass at once", async () => {
    const lb = lbProgrammedLater();
    const { clock, logs, gate } = setUp(lb, 10_000);
    const start = clock.now();
    const first = track(gate, clock, start + 60_000);
    await clock.advance(1_500);
    expect(first.waitedMs).toBeUndefined();
    expect(gate.openedBy).toBeUndefined();
    expect(gate.holdRemainingMs()).toBe(8_500);
    lb.programmed();
    await flushMicrotasks();
    expect(first).toEqual({ waitedMs: 1_500, endedBy: 'first-state', endedAt: start + 1_500 });
    expect(gate.openedBy).toBe('first-state');
    expect(gate.holdRemainingMs()).toBe(0);
    expect(await gate.waitUntil(clock.now() + 60_000)).toEqual({
      waitedMs: 0,
      endedBy: 'first-state',
    });
    expect(logs.map((line) => line['msg'])).toEqual([
      "Service LB holds its source's first complete state; pod ADDs no longer wait for it",
    ]);
    expect(logs[0]).toMatchObject({ level: 30, afterMs: 1_500 });
    // The bound's timer went with the opening.
    expect(clock.pendingTimers()).toBe(0);
  });

  test('past the bound, counted from the start, the gate opens and says why', async () => {
    const lb = lbProgrammedLater();
    const { clock, logs, gate } = setUp(lb, 10_000);
    const start = clock.now();
    await clock.advance(4_000);
    const held = track(gate, clock, start + 60_000);
    await clock.advance(6_000);
    expect(held).toEqual({ waitedMs: 6_000, endedBy: 'bound-passed', endedAt: start + 10_000 });
    expect(gate.openedBy).toBe('bound-passed');
    expect(logs).toEqual([
      expect.objectContaining({
        level: 40,
        afterMs: 10_000,
        msg: expect.stringContaining('--lb-sync-wait'),
      }),
    ]);
    // A state arriving later changes nothing and logs nothing.
    lb.programmed();
    await flushMicrotasks();
    expect(gate.openedBy).toBe('bound-passed');
    expect(logs).toHaveLength(1);
  });

  test("an ADD whose caller's deadline comes first is answered then; the gate stays closed", async () => {
    const { clock, gate } = setUp(lbProgrammedLater(), 10_000);
    const start = clock.now();
    const held = track(gate, clock, start + 2_000);
    await clock.advance(2_000);
    expect(held).toEqual({ waitedMs: 2_000, endedBy: 'caller-deadline', endedAt: start + 2_000 });
    expect(gate.openedBy).toBeUndefined();
  });

  test('no Service source, or a wait of 0: nothing is held', async () => {
    for (const [lb, waitMs] of [
      [undefined, 10_000],
      [lbProgrammedLater(), 0],
    ] as const) {
      const { clock, logs, gate } = setUp(lb, waitMs);
      expect(gate.openedBy).toBe('not-held');
      expect(await gate.waitUntil(clock.now() + 1_000)).toEqual({
        waitedMs: 0,
        endedBy: 'not-held',
      });
      expect(logs).toEqual([]);
      expect(clock.pendingTimers()).toBe(0);
    }
  });

  test('close (the daemon stopping) lets held ADDs go, holds no more, and stops the bound', async () => {
    const { clock, gate } = setUp(lbProgrammedLater(), 10_000);
    const held = track(gate, clock, clock.now() + 60_000);
    gate.close();
    await flushMicrotasks();
    expect(held).toMatchObject({ waitedMs: 0, endedBy: 'stopping' });
    expect(gate.openedBy).toBe('stopping');
    expect(await gate.waitUntil(clock.now() + 1_000)).toEqual({ waitedMs: 0, endedBy: 'stopping' });
    expect(clock.pendingTimers()).toBe(0);
  });
});
