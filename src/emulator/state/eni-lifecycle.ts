/**
 * The asynchronous half of Attach, Detach and Delete: ECS answers at once and finishes the
 * transition later (ECS-API.md §2.2). Timers run on the injected clock, and the lab hook hears
 * about every ENI entering or leaving InUse.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { AccountState } from './account-state.js';
import {
  beginAttach,
  beginDelete,
  beginDetach,
  completeAttach,
  completeDelete,
  completeDetach,
  failAttach,
  forceDetach,
} from './eni-transitions.js';
import type { EniRecord } from './account-types.js';

export interface TransitionDurations {
  /** Attaching → InUse. */
  attachMs: number;
  /** Detaching → Available. */
  detachMs: number;
  /** Deleting → gone. */
  deleteMs: number;
  /** Absent: a stuck attach stays Attaching for good (unless its stick request says otherwise). */
  stuckAttachFailMs?: number;
}

/** Lets a lab mirror attachments into real network namespaces (or anything else). */
export interface LabHook {
  onAttached(event: {
    instanceId: string;
    eniId: string;
    mac: string;
    privateIps: string[];
  }): void | Promise<void>;
  onDetached(event: { instanceId: string; eniId: string; mac: string }): void | Promise<void>;
  /**
   * Awaited after every API call that ran, before its answer is sent: a lab mirrors the account
   * (which IP sits on which ENI) into its network here, so a client never sees an IP assigned
   * that the network cannot deliver yet.
   */
  settle?(): Promise<void>;
}

/** pino-compatible, so the daemon can pass its own logger. */
export interface EmulatorLogger {
  warn(object: object, message: string): void;
}

export const consoleLogger: EmulatorLogger = {
  warn: (object, message) => console.warn(message, object),
};

/** The `stickNextAttaches` request in force: how many are left, and when each fails back. */
interface StickPlan {
  remaining: number;
  /** Undefined: never. */
  failAfterMs: number | undefined;
}

export class EniLifecycle {
  private readonly timers = new Map<number, TimerHandle>();
  private stickPlan: StickPlan = { remaining: 0, failAfterMs: undefined };

  constructor(
    private readonly state: AccountState,
    private readonly clock: Clock,
    private readonly durations: TransitionDurations,
    private readonly hook: LabHook | undefined,
    private readonly logger: EmulatorLogger,
  ) {}

  /**
   * The next `count` attaches never reach InUse; each fails back to Available `failAfterMs`
   * after it began. Undefined takes the configured `stuckAttachFailMs`; null means never, even
   * when one is configured. Replaces any earlier request.
   */
  stickNextAttaches(count: number, failAfterMs?: number | null): void {
    if (failAfterMs !== undefined && failAfterMs !== null && !(failAfterMs >= 0)) {
      throw new Error(`failAfterMs must be >= 0 ms, got ${failAfterMs}`);
    }
    this.stickPlan = {
      remaining: Math.max(0, Math.floor(count)),
      failAfterMs:
        failAfterMs === null ? undefined : (failAfterMs ?? this.durations.stuckAttachFailMs),
    };
  }

  attach(eniId: string, instanceId: string): void {
    if (this.stickPlan.remaining > 0) {
      const failAfter = this.stickPlan.failAfterMs;
      const failAt = failAfter === undefined ? undefined : this.clock.now() + failAfter;
      beginAttach(this.state, eniId, instanceId, { failAt });
      // Only an attach ECS accepted uses up a stuck slot; a refused one threw above.
      this.stickPlan.remaining--;
      if (failAt !== undefined) this.armFailBack(eniId, failAt);
      return;
    }
    beginAttach(this.state, eniId, instanceId);
    this.schedule(this.durations.attachMs, () => this.finishAttach(eniId));
  }

  detach(eniId: string, instanceId: string): void {
    const wasInUse = beginDetach(this.state, eniId, instanceId);
    if (wasInUse) this.notifyDetached(this.state.eni(eniId), instanceId);
    this.schedule(this.durations.detachMs, () => completeDetach(this.state, eniId));
  }

  delete(eniId: string): void {
    beginDelete(this.state, eniId);
    this.schedule(this.durations.deleteMs, () => completeDelete(this.state, eniId));
  }

  forceDetach(eniId: string): void {
    const eni = this.state.eni(eniId);
    const mac = eni.mac;
    const { wasInUse, instanceId } = forceDetach(this.state, eniId);
    if (wasInUse && instanceId !== undefined) {
      this.fire('onDetached', () => this.hook?.onDetached({ instanceId, eniId, mac }));
    }
  }

  /**
   * After loading saved state no timer survives, so pending transitions complete at once:
   * Attaching → InUse, Detaching → Available, Deleting → gone. A stuck attach stays stuck
   * and gets its saved fail-back deadline re-armed (one already past fails back now), so a
   * restart neither completes it nor leaves it Attaching for good.
   */
  completePending(): void {
    for (const eni of this.state.allEnis()) {
      if (eni.status === 'Attaching' && eni.stuck === true) {
        const failAt = eni.stuckFailAt;
        if (failAt === undefined) continue;
        if (failAt <= this.clock.now()) failAttach(this.state, eni.id, failAt);
        else this.armFailBack(eni.id, failAt);
      } else if (eni.status === 'Attaching') this.finishAttach(eni.id);
      else if (eni.status === 'Detaching') completeDetach(this.state, eni.id);
      else if (eni.status === 'Deleting') completeDelete(this.state, eni.id);
    }
  }

  stop(): void {
    for (const handle of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
  }

  private finishAttach(eniId: string): void {
    const eni = completeAttach(this.state, eniId);
    if (eni === undefined || eni.instanceId === undefined) return;
    const event = {
      instanceId: eni.instanceId,
      eniId,
      mac: eni.mac,
      privateIps: [...eni.privateIps],
    };
    this.fire('onAttached', () => this.hook?.onAttached(event));
  }

  private notifyDetached(eni: EniRecord, instanceId: string): void {
    const event = { instanceId, eniId: eni.id, mac: eni.mac };
    this.fire('onDetached', () => this.hook?.onDetached(event));
  }

  private armFailBack(eniId: string, failAt: number): void {
    this.schedule(Math.max(0, failAt - this.clock.now()), () =>
      failAttach(this.state, eniId, failAt),
    );
  }

  private schedule(delayMs: number, action: () => void): void {
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle.id);
      action();
    }, delayMs);
    this.timers.set(handle.id, handle);
  }

  /** A lab hook failure is the lab's problem: logged, never turned into an API error. */
  private fire(name: string, call: () => void | Promise<void> | undefined): void {
    if (this.hook === undefined) return;
    const report = (error: unknown): void =>
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        `lab hook ${name} failed`,
      );
    try {
      const result = call();
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }
}
