import { performance } from 'node:perf_hooks';
import type { LatencySummary } from '../support/stats.js';
import { summarize } from '../support/stats.js';

/** Times one call; the harness keeps the sample only inside the measurement window. */
export type Timed = <T>(step: string, call: () => Promise<T>) => Promise<T>;

export interface LoadOptions {
  /** Workers running at once; each runs its iterations strictly one after another. */
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  /** Hard cap per worker, so the loop ends even if the clock were to misbehave. */
  maxIterationsPerWorker: number;
  /** Stop early once this many iterations failed (the figures would be meaningless). */
  maxErrors: number;
  /** One iteration of one worker; `n` counts that worker's iterations from 0. */
  iteration: (worker: number, n: number, timed: Timed) => Promise<void>;
  /** Called when the measurement window opens and closes (CPU probes). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
}

export interface StepFigures {
  latency: LatencySummary;
  /** Calls of this step that completed inside the window, per second. */
  perSecond: number;
}

export interface LoadResult {
  steps: Record<string, StepFigures>;
  windowMs: number;
  iterations: number;
  errors: number;
  firstError: string | undefined;
}

/**
 * A closed-loop load: `concurrency` workers, each starting its next iteration as soon as the last
 * one finished, for a warm-up and then a measurement window. Latency samples are calls that
 * started inside the window; throughput counts calls that completed inside it. Every iteration
 * started is run to its end, so an allocation is always followed by its release.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const samples = new Map<string, number[]>();
  const completed = new Map<string, number>();
  const start = performance.now();
  const windowStart = start + options.warmupMs;
  const windowEnd = windowStart + options.measureMs;
  let iterations = 0;
  let errors = 0;
  let firstError: string | undefined;

  const reported = { started: false, ended: false };
  const startTimer = setTimeout(() => {
    reported.started = true;
    options.onWindowStart?.();
  }, options.warmupMs);
  const endTimer = setTimeout(() => {
    reported.ended = true;
    options.onWindowEnd?.();
  }, options.warmupMs + options.measureMs);

  const timed: Timed = async (step, call) => {
    const t0 = performance.now();
    const result = await call();
    const t1 = performance.now();
    if (t0 >= windowStart && t0 < windowEnd) {
      let list = samples.get(step);
      if (list === undefined) samples.set(step, (list = []));
      list.push(t1 - t0);
    }
    if (t1 >= windowStart && t1 < windowEnd) completed.set(step, (completed.get(step) ?? 0) + 1);
    return result;
  };

  const worker = async (id: number): Promise<void> => {
    for (let n = 0; n < options.maxIterationsPerWorker; n++) {
      if (performance.now() >= windowEnd || errors >= options.maxErrors) return;
      try {
        await options.iteration(id, n, timed);
        iterations++;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, id) => worker(id)));
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
  }
  // The workers stop at windowEnd by the performance clock; the end timer may fire later than
  // that, and would then be cleared above with the window's end never reported.
  if (reported.started && !reported.ended) options.onWindowEnd?.();

  const steps: Record<string, StepFigures> = {};
  for (const [step, list] of samples) {
    steps[step] = {
      latency: summarize(list),
      perSecond: ((completed.get(step) ?? 0) * 1000) / options.measureMs,
    };
  }
  return { steps, windowMs: options.measureMs, iterations, errors, firstError };
}
