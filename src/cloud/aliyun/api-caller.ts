/**
 * The one door every ECS/VPC call goes through: a per-API token bucket, one ClientToken for
 * every attempt of a logical operation, jittered exponential retry of transient failures only,
 * one log line per attempt with the RequestId, metrics, and a CloudError when it gives up.
 *
 * The SDK's own retry stays off (openapi-core v7 retries only through Config.retryOptions,
 * which we never set), so retries cannot multiply and every attempt passes the rate limiter.
 */
import type { Logger } from '../../log/logger.js';
import type { CloudCallOutcome, CloudMetrics } from '../../observe/cloud-metrics.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { isTerwayError } from '../../errors/terway-error.js';
import { isCloudError } from '../cloud-error.js';
import { isReadOnlyApi } from './api-limits.js';
import { resolveClientToken } from './client-token.js';
import { RateLimiter } from './rate-limiter.js';
import type { BucketStatus } from './rate-limiter.js';
import { resolveRetryPolicy, retryDelayMs } from './retry-policy.js';
import type { RetryPolicy } from './retry-policy.js';
import { classifySdkError, toCloudError } from './sdk-error.js';
import type { SdkErrorInfo } from './sdk-error.js';

/** Rate-limit waits shorter than this are normal and not worth a log field. */
const NOTABLE_WAIT_MS = 1_000;

export interface ApiCallContext {
  /** Pass to the SDK request of a mutating API; identical on every attempt. */
  clientToken: string;
  /** 1-based. */
  attempt: number;
}

export interface ApiCallerOptions {
  clock: Clock;
  log: Logger;
  /** eni_conf `rate_limit`, merged over DEFAULT_API_RATE_LIMITS. */
  rateLimitPerMinute?: Record<string, number>;
  /** Over DEFAULT_RETRY_POLICY for every API. */
  retry?: Partial<RetryPolicy>;
  /** Over `retry` for one API; see retryOverridesFromBackoff for eni_conf `backoff_override`. */
  retryByApi?: Record<string, Partial<RetryPolicy>>;
  metrics?: CloudMetrics;
  /** Jitter source, [0, 1). */
  random?: () => number;
  /** Latency clock; defaults to `clock.now`. */
  now?: () => number;
}

export interface ApiCallOptions {
  /** Reuse a token across calls (e.g. a create re-issued after a restart); else a fresh UUID. */
  clientToken?: string;
  maxAttempts?: number;
  /** Aborts the wait for a token or a backoff; the attempt in flight is the SDK's to time out. */
  signal?: AbortSignal;
}

export interface ApiLastError {
  code: string;
  message: string;
  requestId: string | undefined;
  at: number;
}

export interface ApiStats {
  api: string;
  /** Logical calls (one per `call`). */
  calls: number;
  attempts: number;
  ok: number;
  /** Attempts answered with a Throttling code. */
  throttled: number;
  /** Attempts followed by another attempt. */
  retried: number;
  /** Logical calls that failed. */
  errors: number;
  lastError: ApiLastError | undefined;
  rateLimit: BucketStatus;
}

export interface ApiCallerStats {
  apis: ApiStats[];
}

type Counters = Omit<ApiStats, 'api' | 'rateLimit'>;

export class ApiCaller {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly limiter: RateLimiter;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly counters = new Map<string, Counters>();

  constructor(private readonly options: ApiCallerOptions) {
    this.clock = options.clock;
    this.log = options.log;
    this.limiter = new RateLimiter(options.clock, options.rateLimitPerMinute);
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => options.clock.now());
  }

  async call<T>(
    api: string,
    operation: (context: ApiCallContext) => Promise<T>,
    options: ApiCallOptions = {},
  ): Promise<T> {
    const { signal } = options;
    const clientToken = resolveClientToken(options.clientToken);
    const policy = resolveRetryPolicy(
      this.options.retry,
      this.options.retryByApi?.[api],
      options.maxAttempts === undefined ? undefined : { maxAttempts: options.maxAttempts },
    );
    const counters = this.countersFor(api);
    counters.calls++;

    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const waitedMs = await this.limiter.acquire(api, signal);
      this.options.metrics?.rateLimitWait.observe({ api }, waitedMs / 1000);
      counters.attempts++;
      const started = this.now();
      let result: T;
      try {
        result = await operation({ clientToken, attempt });
      } catch (error) {
        const latencyMs = this.now() - started;
        this.options.metrics?.latency.observe({ api }, latencyMs / 1000);
        // Our own validation or parsing failed: not a cloud answer, nothing to retry.
        if (isTerwayError(error) && !isCloudError(error)) {
          this.recordFailure(api, counters, error.code, error.message, undefined);
          throw error;
        }
        const info = classifySdkError(error);
        if (info.throttled) {
          counters.throttled++;
          this.limiter.onThrottled(api, info.retryAfterMs);
        }
        const base = { api, attempt, maxAttempts: policy.maxAttempts, latencyMs, waitedMs };
        if (!info.retryable || attempt >= policy.maxAttempts || signal?.aborted === true) {
          const cloudError = toCloudError(error, api);
          this.recordFailure(api, counters, info.cloudCode, cloudError.message, info.requestId);
          this.logFailure('cloud api call failed', base, info, clientToken, {
            retryable: info.retryable,
          });
          throw cloudError;
        }
        const delayMs = retryDelayMs(policy, attempt, this.random, info.retryAfterMs);
        counters.retried++;
        this.count(api, info.throttled ? 'throttled' : 'retried');
        this.logFailure('cloud api call failed, retrying', base, info, clientToken, {
          retryInMs: delayMs,
          ...(info.retryAfterMs === undefined ? {} : { retryAfterMs: info.retryAfterMs }),
        });
        await sleepUnlessAborted(this.clock, delayMs, signal);
        continue;
      }
      const latencyMs = this.now() - started;
      this.options.metrics?.latency.observe({ api }, latencyMs / 1000);
      counters.ok++;
      this.count(api, 'ok');
      const fields = {
        api,
        attempt,
        latencyMs,
        requestId: requestIdOf(result),
        ...(waitedMs >= NOTABLE_WAIT_MS ? { rateLimitWaitMs: waitedMs } : {}),
        ...(isReadOnlyApi(api) ? {} : { clientToken }),
      };
      if (isReadOnlyApi(api)) this.log.debug(fields, 'cloud api call ok');
      else this.log.info(fields, 'cloud api call ok');
      return result;
    }
  }

  stats(): ApiCallerStats {
    const buckets = this.limiter.status();
    const apis = [...this.counters]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([api, counters]) => ({
        api,
        ...counters,
        lastError: counters.lastError === undefined ? undefined : { ...counters.lastError },
        rateLimit: buckets[api] ?? this.limiter.bucket(api).status(),
      }));
    return { apis };
  }

  private countersFor(api: string): Counters {
    let counters = this.counters.get(api);
    if (counters === undefined) {
      counters = {
        calls: 0,
        attempts: 0,
        ok: 0,
        throttled: 0,
        retried: 0,
        errors: 0,
        lastError: undefined,
      };
      this.counters.set(api, counters);
    }
    return counters;
  }

  private count(api: string, outcome: CloudCallOutcome): void {
    this.options.metrics?.calls.inc({ api, outcome });
  }

  private recordFailure(
    api: string,
    counters: Counters,
    code: string,
    message: string,
    requestId: string | undefined,
  ): void {
    counters.errors++;
    counters.lastError = { code, message, requestId, at: this.clock.now() };
    this.count(api, 'error');
  }

  /**
   * Only picked fields: the SDK error's `data` and `cause` can carry request details, and the
   * logger's redaction is the second line of defence, not the first.
   */
  private logFailure(
    message: string,
    base: {
      api: string;
      attempt: number;
      maxAttempts: number;
      latencyMs: number;
      waitedMs: number;
    },
    info: SdkErrorInfo,
    clientToken: string,
    extra: Record<string, unknown>,
  ): void {
    const { waitedMs, ...rest } = base;
    this.log.warn(
      {
        ...rest,
        requestId: info.requestId,
        code: info.cloudCode,
        ...(info.statusCode === undefined ? {} : { statusCode: info.statusCode }),
        detail: info.detail,
        ...(waitedMs >= NOTABLE_WAIT_MS ? { rateLimitWaitMs: waitedMs } : {}),
        ...(isReadOnlyApi(base.api) ? {} : { clientToken }),
        ...extra,
      },
      message,
    );
  }
}

/** The SDK resolves `{statusCode, headers, body}`; wrappers may return the body itself. */
function requestIdOf(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const bag = result as Record<string, unknown>;
  const body = bag['body'];
  if (typeof body === 'object' && body !== null) {
    const id = (body as Record<string, unknown>)['requestId'];
    if (typeof id === 'string') return id;
  }
  const id = bag['requestId'] ?? bag['RequestId'];
  return typeof id === 'string' ? id : undefined;
}

/** A backoff on the clock that ends early, rejecting with the signal's reason, on abort. */
function sleepUnlessAborted(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) {
    return new Promise((resolve) => clock.setTimeout(resolve, delayMs));
  }
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let timer: TimerHandle | undefined = undefined;
    const onAbort = (): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      reject(signal.reason);
    };
    timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
