/**
 * HeapSettler: one collection and one native release per burst of Service changes, only after
 * the burst has gone quiet, and never for changes that stay small.
 */
import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { HeapSettler } from '../../src/daemon/heap-settler.js';
import { FakeClock } from '../../src/util/fake-clock.js';

function harness(exposedGc = true) {
  const clock = new FakeClock();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  let rss = 200 * 2 ** 20;
  const settler = new HeapSettler({
    logger,
    clock,
    collect: exposedGc ? () => calls.push('gc') : undefined,
    releaseNative: () => {
      calls.push('trim');
      rss -= 30 * 2 ** 20;
    },
    rssBytes: () => rss,
    quietMs: 2_000,
    minChanges: 1_000,
  });
  return { clock, logs, settler };
}
let calls: string[] = [];

describe('HeapSettler', () => {
  test('a burst is collected once, after it has been quiet for quietMs', async () => {
    calls = [];
    const { clock, logs, settler } = harness();
    settler.changed(600);
    await clock.advance(1_500);
    settler.changed(600); // 1,200 now: the quiet period starts
    await clock.advance(1_500);
    settler.changed(10); // still busy: it starts over
    await clock.advance(1_999);
    expect(calls).toEqual([]);
    await clock.advance(1);
    expect(calls).toEqual(['gc', 'trim']);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      changes: 1_210,
      rssBeforeMb: 200,
      rssAfterMb: 170,
      fullGc: true,
      msg: 'memory given back after a burst of Service changes',
    });
    await clock.advance(60_000);
    expect(calls).toEqual(['gc', 'trim']);
  });

  test('changes that never add up to a burst cost nothing', async () => {
    calls = [];
    const { clock, settler } = harness();
    for (let i = 0; i < 9; i++) {
      settler.changed(100);
      await clock.advance(5_000);
    }
    expect(calls).toEqual([]);
    settler.changed(100); // the tenth: 1,000 since the last settle
    await clock.advance(2_000);
    expect(calls).toEqual(['gc', 'trim']);
  });

  test('without an exposed gc() the C heap is still released', async () => {
    calls = [];
    const { clock, logs, settler } = harness(false);
    settler.changed(5_000);
    await clock.advance(2_000);
    expect(calls).toEqual(['trim']);
    expect(logs[0]).toMatchObject({ fullGc: false });
  });

  test('stop cancels a pending settle', async () => {
    calls = [];
    const { clock, settler } = harness();
    settler.changed(5_000);
    settler.stop();
    await clock.advance(10_000);
    expect(calls).toEqual([]);
  });
});
