/**
 * Waits for ENIs to become InUse with one DescribeNetworkInterfaces for all of them: a burst that
 * attaches ten ENIs at once polls ten times less than ten separate waits, and the account's API
 * budget is shared by every node. Each waiter keeps its own growing interval; a poll goes out
 * when the earliest waiter is due and answers everyone it lists.
 */
import { CloudError } from '../cloud-error.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { CloudEni, EcsApi } from './ecs-api.js';
import { POLL_GROWTH, POLL_INITIAL_MS, POLL_MAX_MS, WAIT_TIMEOUT } from './poll.js';

/** DescribeNetworkInterfaces takes at most 100 ids at a time. */
const MAX_IDS_PER_DESCRIBE = 100;

interface Waiter {
  dueAt: number;
  intervalMs: number;
  deadline: number;
  timeoutMs: number;
  resolve: (eni: CloudEni) => void;
  reject: (error: unknown) => void;
}

export class InUseWatcher {
  private readonly waiters = new Map<string, Waiter>();
  private timer: TimerHandle | undefined;
  private polling = false;

  constructor(
    private readonly api: EcsApi,
    private readonly clock: Clock,
  ) {}

  /** Resolves with the ENI once ECS reports it InUse; rejects with WaitTimeout after `timeoutMs`. */
  waitInUse(eniId: string, timeoutMs: number): Promise<CloudEni> {
    return new Promise((resolve, reject) => {
      const now = this.clock.now();
      this.waiters.set(eniId, {
        dueAt: now + POLL_INITIAL_MS,
        intervalMs: POLL_INITIAL_MS,
        deadline: now + timeoutMs,
        timeoutMs,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.polling || this.waiters.size === 0) return;
    const due = Math.min(...[...this.waiters.values()].map((waiter) => waiter.dueAt));
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        void this.poll();
      },
      Math.max(0, due - this.clock.now()),
    );
  }

  private async poll(): Promise<void> {
    this.polling = true;
    const ids = [...this.waiters.keys()].slice(0, MAX_IDS_PER_DESCRIBE);
    try {
      const enis = await this.api.describeNetworkInterfaces({ eniIds: ids });
      for (const eni of enis) {
        const waiter = this.waiters.get(eni.id);
        if (waiter !== undefined && eni.status === 'InUse') {
          this.waiters.delete(eni.id);
          waiter.resolve(eni);
        }
      }
    } catch (error) {
      // A retryable failure (a throttled read) only means "not yet"; anything else ends every
      // wait it covered, since the same read would fail for them all.
      if (!(error instanceof CloudError && error.retryable)) {
        for (const id of ids) {
          this.waiters.get(id)?.reject(error);
          this.waiters.delete(id);
        }
      }
    } finally {
      this.polling = false;
      this.advance(ids);
      this.schedule();
    }
  }

  /** Times out the expired waiters among those just polled, and grows the others' interval. */
  private advance(polled: readonly string[]): void {
    const now = this.clock.now();
    for (const id of polled) {
      const waiter = this.waiters.get(id);
      if (waiter === undefined) continue;
      if (now >= waiter.deadline) {
        this.waiters.delete(id);
        waiter.reject(
          new CloudError(
            WAIT_TIMEOUT,
            `gave up waiting ${waiter.timeoutMs} ms for ${id} to become InUse`,
            {
              operation: 'AttachNetworkInterface',
            },
          ),
        );
        continue;
      }
      waiter.intervalMs = Math.min(POLL_MAX_MS, waiter.intervalMs * POLL_GROWTH);
      waiter.dueAt = Math.min(waiter.deadline, now + waiter.intervalMs);
    }
  }
}
