/**
 * The instance's security groups, read once for ENIs when eni_conf names none, and retried
 * patiently under throttling (see SecurityGroupLookup).
 */
import type { Logger } from 'pino';

import { MAX_SECURITY_GROUPS } from '../../config/eni-conf.js';
import { isTerwayError, TerwayError, toTerwayError } from '../../errors/terway-error.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { resolveRetryPolicy, retryDelayMs } from './retry-policy.js';

/**
 * A failed security-group lookup is retried soon (start-up throttling clears in seconds), then
 * less and less often, so a node that cannot read its instance costs one call a minute.
 */
export const SECURITY_GROUP_RETRY_MS = 1_000;
export const SECURITY_GROUP_RETRY_MAX_MS = 60_000;

export interface SecurityGroupLookupOptions {
  /** eni_conf's groups; when set, nothing is looked up. */
  configured: string[];
  describe: () => Promise<string[]>;
  clock: Clock;
  log: Logger;
  random: () => number;
}

interface Outcome {
  promise: Promise<string[]>;
  resolve: (groups: string[]) => void;
  reject: (error: unknown) => void;
}

/**
 * The instance's security groups, for ENIs when eni_conf names none. Under account-wide
 * throttling, a lookup retried by every create multiplied DescribeInstances by the pool's
 * concurrency (~2,400 calls in the cluster benchmark). So: one attempt at a time, each a single
 * logical call that the ApiCaller already rate-limits and retries; after it gives up, this waits
 * its own backoff and tries again, on its own timer. Creates wait for the attempt in flight or
 * the next one and learn its outcome, so the pool still sees (and reports) the cloud's error.
 */
export class SecurityGroupLookup {
  private groups: string[] | undefined;
  /** Settles with the attempt in flight or, during a backoff, the next one. */
  private outcome: Outcome | undefined;
  private timer: TimerHandle | undefined;
  private failures = 0;
  private closed = false;
  private readonly policy = resolveRetryPolicy({
    baseDelayMs: SECURITY_GROUP_RETRY_MS,
    maxDelayMs: SECURITY_GROUP_RETRY_MAX_MS,
    // Nodes throttled together at start-up should not come back together.
    jitter: 'equal',
  });

  constructor(private readonly options: SecurityGroupLookupOptions) {
    if (options.configured.length > 0) this.groups = options.configured;
  }

  get(): Promise<string[]> {
    if (this.groups !== undefined) return Promise.resolve(this.groups);
    if (this.closed) return Promise.reject(shuttingDown());
    if (this.outcome === undefined) {
      this.outcome = newOutcome();
      void this.attempt();
    }
    return this.outcome.promise;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.outcome?.reject(shuttingDown());
    this.outcome = undefined;
  }

  private async attempt(): Promise<void> {
    const outcome = this.outcome;
    if (outcome === undefined) return;
    const { log } = this.options;
    try {
      const all = await this.options.describe();
      const groups = all.slice(0, MAX_SECURITY_GROUPS);
      if (all.length > groups.length) {
        log.warn(
          { securityGroupIds: all, used: groups, max: MAX_SECURITY_GROUPS },
          'the instance is in more security groups than an ENI may join; new ENIs join the first ones',
        );
      }
      log.info(
        { securityGroupIds: groups, failedAttempts: this.failures },
        'no security_groups configured: new ENIs join the instance security groups',
      );
      this.groups = groups;
      this.outcome = undefined;
      outcome.resolve(groups);
    } catch (error) {
      this.failures++;
      if (this.closed) {
        outcome.reject(error);
        return;
      }
      // Whoever asked later than this attempt waits for the next one, not for a call of its own.
      this.outcome = newOutcome();
      const delayMs = this.retryDelay(error);
      log.warn(
        { err: toTerwayError(error), failedAttempts: this.failures, retryInMs: delayMs },
        'could not read the instance security groups; ENI creates wait for the retry',
      );
      outcome.reject(error);
      this.timer = this.options.clock.setTimeout(() => {
        this.timer = undefined;
        void this.attempt();
      }, delayMs);
    }
  }

  /** A refusal that retrying cannot fix (no RAM permission, say) waits the longest. */
  private retryDelay(error: unknown): number {
    if (isTerwayError(error) && !error.retryable) return this.policy.maxDelayMs;
    return retryDelayMs(this.policy, this.failures, this.options.random);
  }
}

function newOutcome(): Outcome {
  let resolve!: (groups: string[]) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<string[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A background retry may fail with nobody waiting; that is logged, not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function shuttingDown(): TerwayError {
  return new TerwayError('NOT_READY', 'the ECS provider is shutting down');
}
