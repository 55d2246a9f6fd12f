/**
 * When to read an attaching ENI's status next. ECS documents no attach time, so the first ENIs are
 * polled with a growing interval (poll.ts). But the attaches of one instance take about as long as
 * each other, so once an ENI has gone InUse the watcher knows a window for the next ones: after
 * the last read that still saw it attaching (`lo`), by the read that saw it InUse (`hi`), both
 * counted from its attach. The next ENI is first read in the middle of that window, then densely
 * (its end read whatever): a burst's later ENIs are read within a dense interval of going InUse
 * (measured before this: the growing interval read them 0.6 to 1 s late), no read is spent before
 * the window, and a read that finds an ENI at the middle halves the window the next one learns.
 * On a fast attach, a node's second ENI costs no more reads than the growing interval took.
 *
 * A window from an attach much slower than the next one delays a read by the longest regular
 * interval (POLL_MAX_MS) at most, and the next ENI found teaches a window from its own attach.
 */
import { POLL_INITIAL_MS, POLL_MAX_MS } from './poll.js';

/** The interval between reads from the middle of the window on, while the ENI is attaching. */
export const DENSE_POLL_MS = POLL_INITIAL_MS;
/**
 * How long dense reads go on past the window's end: attach times spread, and an ENI slower than
 * the last one should not drop straight back to a grown interval.
 */
export const DENSE_SPAN_MS = 2_000;
/**
 * A read of another ENI this close before one of this ENI's planned reads stands in for it: every
 * read covers every attaching ENI, and a burst's ENIs attach tens of ms apart.
 */
export const READ_SLACK_MS = 100;

/** Times from an attach, ms: the last read that saw the ENI attaching, and the one that saw it InUse. */
export interface AttachWindow {
  readonly lo: number;
  readonly hi: number;
}

export class AttachLatency {
  private learned: AttachWindow | undefined;

  /** The window of the last ENI that went InUse, or undefined before any. */
  get window(): AttachWindow | undefined {
    return this.learned;
  }

  /**
   * An ENI went InUse: `lo` is the time from its attach to the last read that saw it attaching (0
   * when none did), `hi` to the read that saw it InUse (each when the read was sent). The latest
   * one wins: the cloud's attach time drifts, and an old window would keep reads where they no
   * longer belong.
   */
  learn(lo: number, hi: number): void {
    const from = Math.max(0, lo);
    this.learned = { lo: from, hi: Math.max(from, hi) };
  }

  /**
   * When to read an ENI attached at `attachedAt` next; `regularMs` is its grown interval, which
   * applies until a window is known and again once the dense reads after it are over.
   */
  nextRead(attachedAt: number, now: number, regularMs: number): number {
    const window = this.learned;
    if (window === undefined) return now + regularMs;
    const latest = now + POLL_MAX_MS;
    const middle = attachedAt + (window.lo + window.hi) / 2;
    if (now + READ_SLACK_MS < middle) return Math.min(middle, latest);
    const end = attachedAt + window.hi;
    if (now + READ_SLACK_MS < end) return Math.min(end, now + DENSE_POLL_MS);
    if (now < end + Math.max(DENSE_SPAN_MS, window.hi)) return now + DENSE_POLL_MS;
    return now + regularMs;
  }
}
