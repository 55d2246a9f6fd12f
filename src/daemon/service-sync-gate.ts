/**
 * Holds pod ADDs back until the node's Service LB has its source's first complete state in the
 * maps, for at most a bound counted from the Service LB's start (early in the daemon's).
 *
 * A pod's programs are attached at ADD, and its containers start as soon as ADD returns. On a node
 * whose maps are empty (a new node, or a new map layout) and whose source is still listing, a
 * container that dials a ClusterIP at once (a DNS lookup at start-up, nearly always) would send it
 * out untranslated, and a resolver waits 5 s before it asks again. Cilium holds endpoint creation
 * until its caches have synced for the same reason. The bound keeps an unreachable apiserver from
 * holding every pod of the node: past it, pods are added at once, and their Service traffic is
 * translated as soon as the state arrives.
 */
import type { Logger } from 'pino';

import type { Clock, TimerHandle } from '../util/clock.js';

/** The default of `--lb-sync-wait`. */
export const DEFAULT_LB_SYNC_WAIT_MS = 10_000;

/** What the gate waits for: the reconciler's first complete state, written to the maps. */
export interface FirstStateProgrammed {
  whenFirstStateProgrammed(): Promise<void>;
}

export interface ServiceSyncGateOptions {
  /** Undefined: no Service source, nothing to wait for. */
  readonly lb: FirstStateProgrammed | undefined;
  /** How long after the gate is made it opens whatever the LB says; 0 opens it at once. */
  readonly waitMs: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * Why the gate opened: the state came, the bound passed, nothing was ever held (no Service source,
 * or a wait of 0), or the daemon is stopping.
 */
export type GateOpening = 'first-state' | 'bound-passed' | 'not-held' | 'stopping';

/** One call's wait: how long, and whether the gate opened (and why) or its deadline came. */
export interface HeldFor {
  readonly waitedMs: number;
  readonly endedBy: GateOpening | 'caller-deadline';
}

export class ServiceSyncGate {
  private opening: GateOpening | undefined;
  private readonly startedAt: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly waiters: (() => void)[] = [];
  private bound: TimerHandle | undefined;
  private readonly boundAt: number;

  constructor(options: ServiceSyncGateOptions) {
    this.clock = options.clock;
    this.log = options.log;
    this.startedAt = options.clock.now();
    this.boundAt = this.startedAt + Math.max(0, options.waitMs);
    if (options.lb === undefined || options.waitMs <= 0) {
      this.open('not-held');
      return;
    }
    this.bound = options.clock.setTimeout(() => {
      this.bound = undefined;
      this.open('bound-passed');
    }, options.waitMs);
    void options.lb.whenFirstStateProgrammed().then(() => this.open('first-state'));
  }

  /** Why the gate opened; undefined while it holds ADDs back. */
  get openedBy(): GateOpening | undefined {
    return this.opening;
  }

  /** How much longer ADDs may be held: 0 once the gate is open. */
  holdRemainingMs(): number {
    return this.opening === undefined ? Math.max(0, this.boundAt - this.clock.now()) : 0;
  }

  /**
   * Resolves once the gate is open or at `deadlineMs` (the clock's time), whichever comes first: a
   * call must still be answered before its caller gives up. Says how long it waited, and what
   * ended the wait.
   */
  async waitUntil(deadlineMs: number): Promise<HeldFor> {
    if (this.opening !== undefined) return { waitedMs: 0, endedBy: this.opening };
    const from = this.clock.now();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.clock.clearTimeout(timer);
        const at = this.waiters.indexOf(done);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve();
      };
      const timer = this.clock.setTimeout(done, Math.max(0, deadlineMs - from));
      this.waiters.push(done);
    });
    return { waitedMs: this.clock.now() - from, endedBy: this.opening ?? 'caller-deadline' };
  }

  /** The daemon is stopping: held ADDs are answered, later ones are not held, the bound stops. */
  close(): void {
    this.open('stopping');
  }

  private open(by: GateOpening): void {
    if (this.opening !== undefined) return;
    this.opening = by;
    if (this.bound !== undefined) this.clock.clearTimeout(this.bound);
    this.bound = undefined;
    const afterMs = this.clock.now() - this.startedAt;
    if (by === 'first-state') {
      this.log.info(
        { afterMs },
        "Service LB holds its source's first complete state; pod ADDs no longer wait for it",
      );
    } else if (by === 'bound-passed') {
      this.log.warn(
        { afterMs },
        "Service LB's source has not delivered a complete state in time (--lb-sync-wait); " +
          'pods are added without waiting for it, and their Service traffic is translated once ' +
          'it arrives',
      );
    }
    this.release();
  }

  private release(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
