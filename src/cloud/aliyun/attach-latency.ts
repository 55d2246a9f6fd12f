/**
 * When to read an attaching ENI's status next. ECS documents no attach time, so the first ENIs are
 * polled with a growing interval (poll.ts). But the attaches of one instance take about as long as
 * each other: once an ENI has gone InUse, the next ones will go InUse about as long after their own
 * attach. From then on an ENI is read densely around that moment, instead of at an interval grown
 * to a second or more by then, which left a burst's later ENIs idle for up to that long (measured:
 * 0.7 to 1 s between InUse and the read that saw it).
 *
 * What is learned is a lower bound: the time from the attach to the last read that still saw the
 * ENI not InUse. It is never later than the real moment, so a dense phase never starts after it;
 * and the regular schedule still applies, so an ENI is never read later than it was before.
 */
import { POLL_INITIAL_MS } from './poll.js';

/** The interval between reads while an ENI is expected to go InUse. */
export const DENSE_POLL_MS = POLL_INITIAL_MS;
/**
 * How long the dense phase lasts at least: attach times spread, and an ENI slower than the last
 * one should not drop straight back to a grown interval.
 */
export const DENSE_SPAN_MS = 2_000;

export class AttachLatency {
  private expectedMs: number | undefined;

  /** The attach → InUse time as last learned (a lower bound), or undefined before any. */
  get expected(): number | undefined {
    return this.expectedMs;
  }

  /**
   * An ENI went InUse: `lowerBoundMs` is the time from its attach to the last read that saw it
   * otherwise (0 when the first read saw it InUse). The latest one wins: the cloud's attach time
   * drifts, and an old figure would keep the dense phase where it no longer belongs.
   */
  learn(lowerBoundMs: number): void {
    this.expectedMs = Math.max(0, lowerBoundMs);
  }

  /**
   * When to read an ENI attached at `attachedAt` next, `regularMs` (its grown interval) after
   * `now` at the latest.
   */
  nextRead(attachedAt: number, now: number, regularMs: number): number {
    const regular = now + regularMs;
    if (this.expectedMs === undefined) return regular;
    const denseFrom = attachedAt + this.expectedMs;
    if (now < denseFrom) return Math.min(regular, denseFrom);
    const denseUntil = denseFrom + Math.max(DENSE_SPAN_MS, this.expectedMs);
    if (now < denseUntil) return Math.min(regular, now + DENSE_POLL_MS);
    return regular;
  }
}
