/**
 * Gives memory back once a large burst of Service changes has passed. A 10,000-Service sync grows
 * V8's heap by tens of MB of garbage beside what it keeps; V8's memory reducer shrinks it only
 * after it judges the process idle, which on a busy node it may not for a long time (measured:
 * terwayd still at its load peak, 159 MB, 15 s after such a sync, against 135-141 MB when the
 * reducer had run). A node daemon that sits at its peak needs a memory limit sized for the peak.
 *
 * So, once the changes of a burst have added up to `minChanges` and the reconciler has then been
 * quiet for `quietMs`, one full collection runs (when terwayd runs with --expose-gc, as
 * runtime-settings.ts starts it), then the C heap's free pages go back too. It blocks the event
 * loop for tens of milliseconds, once per burst; small steady changes never reach the threshold.
 */
import type { Logger } from 'pino';

import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';

export const DEFAULT_SETTLE_QUIET_MS = 2_000;
/** Frontends written or deleted: about a tenth of a 10,000-Service cluster's. */
export const DEFAULT_SETTLE_MIN_CHANGES = 1_000;

export interface HeapSettlerOptions {
  readonly logger: Logger;
  /** Hands the C heap's free pages back (releaseFreedHeap). */
  readonly releaseNative: () => void;
  /** A full V8 collection; the default is the global gc() that --expose-gc installs, if any. */
  readonly collect?: (() => void) | undefined;
  readonly rssBytes?: () => number;
  readonly clock?: Clock;
  readonly quietMs?: number;
  readonly minChanges?: number;
}

export class HeapSettler {
  private readonly logger: Logger;
  private readonly releaseNative: () => void;
  private readonly collect: (() => void) | undefined;
  private readonly rssBytes: () => number;
  private readonly clock: Clock;
  private readonly quietMs: number;
  private readonly minChanges: number;
  private pendingChanges = 0;
  private timer: TimerHandle | undefined;

  constructor(options: HeapSettlerOptions) {
    this.logger = options.logger;
    this.releaseNative = options.releaseNative;
    this.collect = 'collect' in options ? options.collect : exposedGc();
    this.rssBytes = options.rssBytes ?? (() => process.memoryUsage.rss());
    this.clock = options.clock ?? systemClock;
    this.quietMs = options.quietMs ?? DEFAULT_SETTLE_QUIET_MS;
    this.minChanges = options.minChanges ?? DEFAULT_SETTLE_MIN_CHANGES;
  }

  /** Counts `changes` toward a burst and restarts the quiet period. */
  changed(changes: number): void {
    if (changes <= 0) return;
    this.pendingChanges += changes;
    if (this.pendingChanges < this.minChanges) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.settle();
    }, this.quietMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private settle(): void {
    const changes = this.pendingChanges;
    this.pendingChanges = 0;
    const before = this.rssBytes();
    const started = performance.now();
    this.collect?.();
    this.releaseNative();
    const after = this.rssBytes();
    this.logger.info(
      {
        changes,
        rssBeforeMb: Math.round(before / 2 ** 20),
        rssAfterMb: Math.round(after / 2 ** 20),
        fullGc: this.collect !== undefined,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      },
      'memory given back after a burst of Service changes',
    );
  }
}

function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
}
