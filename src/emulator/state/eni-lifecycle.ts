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
  /** Absent: a stuck attach stays Attaching for good. */
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
}

/** pino-compatible, so the daemon can pass its own logger. */
export interface EmulatorLogger {
  warn(object: object, message: string): void;
}

export const consoleLogger: EmulatorLogger = {
  warn: (object, message) => console.warn(message, object),
};

export class EniLifecycle {
  private readonly timers = new Map<number, TimerHandle>();
  private attachesToStick = 0;

  constructor(
    private readonly state: AccountState,
    private readonly clock: Clock,
    private readonly durations: TransitionDurations,
    private readonly hook: LabHook | undefined,
    private readonly logger: EmulatorLogger,
  ) {}

  stickNextAttaches(count: number): void {
    this.attachesToStick = Math.max(0, Math.floor(count));
  }

  attach(eniId: string, instanceId: string): void {
    const stuck = this.attachesToStick > 0;
    beginAttach(this.state, eniId, instanceId, stuck);
    if (stuck) {
      this.attachesToStick--;
      const failAfter = this.durations.stuckAttachFailMs;
      if (failAfter !== undefined) this.schedule(failAfter, () => failAttach(this.state, eniId));
      return;
    }
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
   * Attaching → InUse (stuck attaches stay stuck), Detaching → Available, Deleting → gone.
   */
  completePending(): void {
    for (const eni of this.state.allEnis()) {
      if (eni.status === 'Attaching') this.finishAttach(eni.id);
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
