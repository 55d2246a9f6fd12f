import { CloudError } from '../cloud-error.js';
import type { Clock } from '../../util/clock.js';
import { sleep } from '../../util/clock.js';

/** ECS documents no timings for async ENI transitions; Terway polls with a growing interval too. */
export const POLL_INITIAL_MS = 200;
export const POLL_MAX_MS = 2_000;
export const POLL_GROWTH = 1.5;

/** The interval after `intervalMs`: grown by POLL_GROWTH, never past `maxMs`. */
export function nextPollInterval(intervalMs: number, maxMs = POLL_MAX_MS): number {
  return Math.min(maxMs, intervalMs * POLL_GROWTH);
}

export interface PollOptions {
  clock: Clock;
  timeoutMs: number;
  /** For the timeout error: what we were waiting for, e.g. "eni-1 to be InUse". */
  what: string;
  operation: string;
  initialMs?: number;
  maxMs?: number;
}

/**
 * Calls `probe` until it returns a value (not undefined), sleeping on the clock with a growing
 * interval. Throws a `CloudError('WaitTimeout')` once `timeoutMs` has passed. A retryable
 * failure of the probe (a throttled Describe) counts as "not yet": giving up on an attach because
 * one status read was throttled would throw away an ENI that is about to be usable. Other
 * errors propagate at once.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: PollOptions,
): Promise<T> {
  const { clock } = options;
  const deadline = clock.now() + options.timeoutMs;
  let interval = options.initialMs ?? POLL_INITIAL_MS;
  for (;;) {
    let value: T | undefined;
    try {
      value = await probe();
    } catch (error) {
      if (!(error instanceof CloudError && error.retryable) || clock.now() >= deadline) throw error;
    }
    if (value !== undefined) return value;
    const left = deadline - clock.now();
    if (left <= 0) {
      throw new CloudError(
        WAIT_TIMEOUT,
        `gave up waiting ${options.timeoutMs} ms for ${options.what}`,
        { operation: options.operation },
      );
    }
    await sleep(clock, Math.min(interval, left));
    interval = nextPollInterval(interval, options.maxMs);
  }
}

/** Our own code for "the cloud accepted the call but the result never showed up in time". */
export const WAIT_TIMEOUT = 'WaitTimeout';
