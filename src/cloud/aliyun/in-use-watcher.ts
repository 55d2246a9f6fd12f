/**
 * Waits for ENIs to become InUse with one DescribeNetworkInterfaces for all of them: a burst that
 * attaches ten ENIs at once polls ten times less than ten separate waits, and the account's API
 * budget is shared by every node. Each waiter keeps its own growing interval; a poll goes out
 * when the earliest waiter is due and answers everyone it lists. Once one ENI has gone InUse, the
 * others are read around the time after their attach that it took (attach-latency.ts).
 *
 * ECS reports a failed attach by putting the ENI back to Available (ECS-API.md §2.2); such a
 * wait ends at once with ATTACH_FAILED instead of running to its timeout.
 */
import { CloudError } from '../cloud-error.js';
import { CloudErrorCodes } from '../provider.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { AttachLatency } from './attach-latency.js';
import type { CloudEni, EcsApi } from './ecs-api.js';
import { nextPollInterval, POLL_INITIAL_MS, WAIT_TIMEOUT } from './poll.js';

/** DescribeNetworkInterfaces takes at most 100 ids at a time. */
const MAX_IDS_PER_DESCRIBE = 100;
/**
 * Available reads, in a row, that end a wait which never saw the ENI Attaching. One is not
 * enough: a read just after the attach call may not reflect it yet. After an Attaching read,
 * a single Available read is the attach failing back.
 */
const AVAILABLE_READS_TO_FAIL = 2;

/** Our code for "ECS accepted the attach, then the ENI went back to Available". */
export const ATTACH_FAILED = CloudErrorCodes.EniAttachFailed;

interface Waiter {
  /** When the wait began: just after the attach call was answered. */
  startedAt: number;
  /** When the last read that saw the ENI not InUse was sent (startedAt before any). */
  notInUseReadAt: number;
  dueAt: number;
  intervalMs: number;
  deadline: number;
  timeoutMs: number;
  sawAttaching: boolean;
  availableReads: number;
  resolve: (eni: CloudEni) => void;
  reject: (error: unknown) => void;
}

export class InUseWatcher {
  private readonly waiters = new Map<string, Waiter>();
  private timer: TimerHandle | undefined;
  private polling = false;
  private readonly latency = new AttachLatency();

  constructor(
    private readonly api: EcsApi,
    private readonly clock: Clock,
  ) {}

  /**
   * Resolves with the ENI once ECS reports it InUse; rejects with ATTACH_FAILED once the attach
   * fails back to Available, and with WaitTimeout after `timeoutMs`.
   */
  waitInUse(eniId: string, timeoutMs: number): Promise<CloudEni> {
    return new Promise((resolve, reject) => {
      const now = this.clock.now();
      this.waiters.set(eniId, {
        startedAt: now,
        notInUseReadAt: now,
        dueAt: this.latency.nextRead(now, now, POLL_INITIAL_MS),
        intervalMs: POLL_INITIAL_MS,
        deadline: now + timeoutMs,
        timeoutMs,
        sawAttaching: false,
        availableReads: 0,
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
    const readAt = this.clock.now();
    try {
      const enis = await this.api.describeNetworkInterfaces({ eniIds: ids });
      for (const eni of enis) this.observe(eni, readAt);
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

  /** Settles the ENI's waiter when the read decides it: InUse, or the attach failed back. */
  private observe(eni: CloudEni, readAt: number): void {
    const waiter = this.waiters.get(eni.id);
    if (waiter === undefined) return;
    if (eni.status === 'InUse') {
      this.latency.learn(waiter.notInUseReadAt - waiter.startedAt, readAt - waiter.startedAt);
      this.waiters.delete(eni.id);
      waiter.resolve(eni);
      return;
    }
    waiter.notInUseReadAt = readAt;
    if (eni.status !== 'Available') {
      waiter.availableReads = 0;
      if (eni.status === 'Attaching') waiter.sawAttaching = true;
      return;
    }
    waiter.availableReads++;
    if (!waiter.sawAttaching && waiter.availableReads < AVAILABLE_READS_TO_FAIL) return;
    this.waiters.delete(eni.id);
    waiter.reject(
      new CloudError(
        ATTACH_FAILED,
        `${eni.id} went back to Available: ECS gave up attaching it${waiter.sawAttaching ? '' : ' (never seen Attaching)'}`,
        { operation: 'AttachNetworkInterface' },
      ),
    );
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
      waiter.intervalMs = nextPollInterval(waiter.intervalMs);
      waiter.dueAt = Math.min(
        waiter.deadline,
        this.latency.nextRead(waiter.startedAt, now, waiter.intervalMs),
      );
    }
  }
}
