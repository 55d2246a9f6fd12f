// The benchmarks' own arithmetic and load loop: a bug here would not fail a benchmark, it would
// publish a wrong figure in BENCHMARKS.md (as a NaN CPU share once did).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { describe, expect, test } from '@jest/globals';

import { runLoad, type LoadOptions } from '../../bench/allocate/load.js';
import { commandOutput, firstLine, toolOutput } from '../../bench/support/commands.js';
import { median, medianRatio, percentile, summarize } from '../../bench/support/stats.js';
import { TERWAYD_NODE_FLAGS, terwaydEnv } from '../../src/daemon/runtime-settings.js';

describe('bench statistics', () => {
  test('median: the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    // Not the nearest-rank p50, which takes the lower middle value of an even count.
    expect(percentile([4, 1, 3, 2], 50)).toBe(2);
  });

  test('median of nothing, or of a figure some round failed to measure, is NaN', () => {
    expect(median([])).toBeNaN();
    expect(median([1, Number.NaN, 2])).toBeNaN();
  });

  test('median leaves its input as it was', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });

  test('medianRatio takes each round against its own baseline', () => {
    // Round 2 ran slow on both sides: its ratio is as good as the others'.
    const ours = [10, 40, 11];
    const baseline = [10, 40, 10];
    expect(medianRatio(ours, baseline)).toBe(1);
    // A ratio of medians would have been 11 / 10.
    expect(median(ours) / median(baseline)).toBeCloseTo(1.1);
  });

  test('medianRatio over rounds with a side missing is NaN, not a median of fewer rounds', () => {
    expect(medianRatio([1, 2, 3], [1, 2])).toBeNaN();
    expect(medianRatio([1, 2], [1, 2, 3])).toBeNaN();
  });

  test('summarize: nearest-rank percentiles of latency samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1
    expect(summarize(samples)).toEqual({ count: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
    const empty = summarize([]);
    expect(empty.count).toBe(0);
    expect(empty.p50Ms).toBeNaN();
  });
});

describe('runLoad', () => {
  function busyUntil(deadline: number): void {
    while (performance.now() < deadline) {
      // spin: hold the event loop, as a saturated process would
    }
  }

  function loadOptions(overrides: Partial<LoadOptions>): LoadOptions {
    return {
      concurrency: 4,
      warmupMs: 30,
      measureMs: 120,
      maxIterationsPerWorker: 1_000_000,
      maxErrors: 10,
      iteration: async (_worker, _n, timed) => {
        await timed('call', () => yieldToLoop());
      },
      ...overrides,
    };
  }

  test('reports the window once each way, in order, and counts only what fell inside it', async () => {
    const events: string[] = [];
    let started = 0;
    let ended = 0;
    const result = await runLoad(
      loadOptions({
        onWindowStart: () => {
          events.push('start');
          started = performance.now();
        },
        onWindowEnd: () => {
          events.push('end');
          ended = performance.now();
        },
      }),
    );
    expect(events).toEqual(['start', 'end']);
    expect(ended - started).toBeGreaterThanOrEqual(100);
    const call = result.steps.call!;
    expect(result.errors).toBe(0);
    expect(result.windowMs).toBe(120);
    // Warm-up calls ran but were not sampled.
    expect(call.latency.count).toBeGreaterThan(0);
    expect(call.latency.count).toBeLessThan(result.iterations);
    expect(call.perSecond).toBeGreaterThan(0);
    expect(call.perSecond).toBeLessThanOrEqual((result.iterations * 1000) / 120);
  });

  test('the window end is reported even when the workers stop before its timer fires', async () => {
    // Every worker's last call holds the event loop past the window's end: the workers then stop
    // by the clock, and the end timer would be cleared before it ever ran.
    let windowEnd = Number.POSITIVE_INFINITY;
    const events: string[] = [];
    await runLoad(
      loadOptions({
        concurrency: 1,
        onWindowStart: () => {
          events.push('start');
          windowEnd = performance.now() + 120;
        },
        onWindowEnd: () => events.push('end'),
        iteration: async (_worker, _n, timed) => {
          await timed('call', async () => {
            await yieldToLoop();
            if (Number.isFinite(windowEnd)) busyUntil(windowEnd + 20);
          });
        },
      }),
    );
    expect(events).toEqual(['start', 'end']);
  });

  test('stops after maxErrors failed iterations and keeps the first error', async () => {
    let calls = 0;
    const result = await runLoad(
      loadOptions({
        concurrency: 1,
        maxErrors: 3,
        iteration: async () => {
          calls++;
          await yieldToLoop();
          throw new Error(`refused ${calls}`);
        },
      }),
    );
    expect(result.errors).toBe(3);
    expect(calls).toBe(3);
    expect(result.iterations).toBe(0);
    expect(result.firstError).toBe('refused 1');
  });
});

describe('bench commands', () => {
  test('commandOutput returns stdout, run in the directory given', () => {
    expect(commandOutput('sh', ['-c', 'echo out; echo err >&2'])).toBe('out\n');
    expect(commandOutput('pwd', [], '/tmp').trim()).toBe('/tmp');
  });

  test('commandOutput throws with the command and its stderr, or its exit status', () => {
    expect(() => commandOutput('sh', ['-c', 'echo broken >&2; exit 3'])).toThrow(
      'sh -c echo broken >&2; exit 3: broken',
    );
    expect(() => commandOutput('sh', ['-c', 'exit 4'])).toThrow('exit 4');
    expect(() => commandOutput('no-such-command-here', [])).toThrow(/no-such-command-here.*ENOENT/);
  });

  test('toolOutput keeps both streams whatever the exit status; undefined if it cannot run', () => {
    expect(toolOutput('sh', ['-c', 'echo v1.2; echo note >&2; exit 1'])).toBe('v1.2\nnote\n');
    expect(toolOutput('no-such-command-here', ['--version'])).toBeUndefined();
  });

  test("firstLine: a banner's first line, trimmed; undefined when there is none", () => {
    expect(firstLine('sh', ['-c', 'echo "  tool 3.1  "; echo more'])).toBe('tool 3.1');
    expect(firstLine('sh', ['-c', 'true'])).toBeUndefined();
    expect(firstLine('no-such-command-here', [])).toBeUndefined();
  });
});

describe('page faults', () => {
  test('the first-touch probe, run as the benchmarks run it, counts a fault per fresh page and prices one', () => {
    // A child with terwayd's runtime settings, as bench/lb-maps runs its workers: a test runner's
    // own heap may hand back memory it had already touched, which the probe can only report.
    const probe =
      `import(${JSON.stringify(join(process.cwd(), 'dist/bench/support/page-faults.js'))})` +
      '.then((m) => console.log(JSON.stringify(m.firstTouchCost())))';
    const output = execFileSync(process.execPath, [...TERWAYD_NODE_FLAGS, '-e', probe], {
      env: terwaydEnv(process.env),
      encoding: 'utf8',
    });
    const cost = JSON.parse(output) as { faults: number; usPerFault: number };
    // 34 MiB a byte per 4 KiB page.
    expect(cost.faults).toBeGreaterThanOrEqual((34 * 1024 * 1024) / 4096 / 2);
    expect(Number.isFinite(cost.usPerFault)).toBe(true);
    expect(cost.usPerFault).toBeGreaterThan(0);
  });
});
