import { describe, expect, test } from '@jest/globals';
import { ClientError, ServerError, ThrottlingError } from '@alicloud/openapi-core';
import pino from 'pino';
import { Registry } from 'prom-client';

import { ApiCaller } from '../../src/cloud/aliyun/api-caller.js';
import type { ApiCallContext, ApiCallerOptions } from '../../src/cloud/aliyun/api-caller.js';
import {
  backoffCeilingMs,
  resolveRetryPolicy,
  retryDelayMs,
  retryOverridesFromBackoff,
} from '../../src/cloud/aliyun/retry-policy.js';
import { CloudError } from '../../src/cloud/cloud-error.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import { LOG_REDACTION } from '../../src/log/logger.js';
import { createCloudMetrics } from '../../src/observe/cloud-metrics.js';
import { FakeClock } from '../../src/util/fake-clock.js';

const API = 'AssignPrivateIpAddresses';

function sdkMap(statusCode: number, code: string, message: string, requestId: string) {
  return {
    statusCode,
    code,
    message: `code: ${statusCode}, ${message} request id: ${requestId}`,
    data: { RequestId: requestId, Code: code, Message: message },
    requestId,
  };
}
const throttling = (requestId: string, retryAfter?: number) =>
  new ThrottlingError({
    ...sdkMap(400, 'Throttling.User', 'Request was denied due to user flow control.', requestId),
    retryAfter,
  });
const internal = (requestId: string) =>
  new ServerError(sdkMap(500, 'InternalError', 'The request processing has failed.', requestId));
const clientError = (code: string, requestId: string) =>
  new ClientError(sdkMap(403, code, `${code} happened`, requestId));
const connReset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const timeout = () =>
  Object.assign(new Error('ReadTimeout(3000). POST https://ecs failed.'), {
    name: 'RequestTimeoutError',
  });

interface Harness {
  clock: FakeClock;
  caller: ApiCaller;
  lines: Record<string, unknown>[];
  registry: Registry;
}

function harness(overrides: Partial<ApiCallerOptions> = {}): Harness {
  const clock = new FakeClock();
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug', ...LOG_REDACTION },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const registry = new Registry();
  const caller = new ApiCaller({
    clock,
    log,
    metrics: createCloudMetrics(registry),
    random: () => 0.5,
    ...overrides,
  });
  return { clock, caller, lines, registry };
}

/** An operation that fails with each given error in turn, then resolves like the SDK does. */
function scripted(failures: unknown[], requestId = 'R-ok') {
  const contexts: ApiCallContext[] = [];
  const operation = async (context: ApiCallContext) => {
    contexts.push(context);
    const failure = failures[contexts.length - 1];
    if (failure !== undefined) throw failure;
    return { statusCode: 200, headers: {}, body: { requestId, ok: true } };
  };
  return { contexts, operation };
}

/** Runs the promise to completion while driving fake time in `stepMs` steps. */
async function drive<T>(clock: FakeClock, promise: Promise<T>, stepMs = 50): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  watched.catch(() => undefined);
  for (let i = 0; i < 10_000 && !settled; i++) await clock.advance(stepMs);
  return watched;
}

async function metricValues(registry: Registry, name: string) {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).map((v) => ({ labels: v.labels, value: v.value }));
}

describe('retries', () => {
  test.each([
    ['Throttling', throttling('R-1')],
    ['InternalError (5xx)', internal('R-1')],
    ['RequestTimeoutError', timeout()],
    ['ECONNRESET', connReset()],
  ])('%s is retried with the same ClientToken until it succeeds', async (_name, failure) => {
    const { clock, caller } = harness();
    const { contexts, operation } = scripted([failure, failure]);
    const result = await drive(clock, caller.call(API, operation));
    expect(result.body.ok).toBe(true);
    expect(contexts.map((c) => c.attempt)).toEqual([1, 2, 3]);
    const tokens = new Set(contexts.map((c) => c.clientToken));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens];
    expect(token).toMatch(/^[\x21-\x7e]{1,64}$/);
  });

  test.each([
    'InvalidParameter',
    'InvalidVSwitchId.IpNotEnough',
    'EniPerInstanceLimitExceeded',
    'InvalidEniId.NotFound',
    'IdempotentParameterMismatch',
  ])('%s is thrown at once as a CloudError', async (code) => {
    const { caller } = harness();
    const failure = clientError(code, 'R-bad');
    const { contexts, operation } = scripted([failure]);
    const error = await caller.call(API, operation).catch((e: unknown) => e);
    expect(contexts).toHaveLength(1);
    expect(error).toBeInstanceOf(CloudError);
    const cloud = error as CloudError;
    expect(cloud.cloudCode).toBe(code);
    expect(cloud.operation).toBe(API);
    expect(cloud.requestId).toBe('R-bad');
    expect(cloud.retryable).toBe(false);
    expect(cloud.cause).toBe(failure);
  });

  test('gives up after maxAttempts with a retryable CloudError', async () => {
    const { clock, caller } = harness({ retry: { maxAttempts: 3 } });
    const { contexts, operation } = scripted([internal('a'), internal('b'), internal('c')]);
    const error = await drive(clock, caller.call(API, operation)).catch((e: unknown) => e);
    expect(contexts).toHaveLength(3);
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({ cloudCode: 'InternalError', requestId: 'c', retryable: true });
  });

  test('per-call maxAttempts=1 disables retries', async () => {
    const { caller } = harness();
    const { contexts, operation } = scripted([connReset()]);
    const error = await caller.call(API, operation, { maxAttempts: 1 }).catch((e: unknown) => e);
    expect(contexts).toHaveLength(1);
    expect(error).toMatchObject({ cloudCode: 'NetworkError', retryable: true });
    const timedOut = await caller
      .call(API, scripted([timeout()]).operation, { maxAttempts: 1 })
      .catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ cloudCode: 'RequestTimeout', retryable: true });
  });

  test('our own TerwayError from inside the operation passes through untouched', async () => {
    const { caller } = harness();
    const bug = new TerwayError('INTERNAL', 'unparseable response');
    const { contexts, operation } = scripted([bug]);
    await expect(caller.call(API, operation)).rejects.toBe(bug);
    expect(contexts).toHaveLength(1);
    expect(caller.stats().apis[0]).toMatchObject({
      errors: 1,
      lastError: { code: 'INTERNAL', message: 'unparseable response' },
    });
  });

  test('a given ClientToken is used on every attempt; an invalid one is refused up front', async () => {
    const { clock, caller } = harness();
    const { contexts, operation } = scripted([throttling('x')]);
    await drive(clock, caller.call(API, operation, { clientToken: 'create-eni-42' }));
    expect(contexts.map((c) => c.clientToken)).toEqual(['create-eni-42', 'create-eni-42']);
    const tooLong = 'x'.repeat(65);
    await expect(caller.call(API, operation, { clientToken: tooLong })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(contexts).toHaveLength(2);
  });

  test('separate logical calls get different ClientTokens', async () => {
    const { caller } = harness();
    const first = scripted([]);
    const second = scripted([]);
    await caller.call(API, first.operation);
    await caller.call(API, second.operation);
    expect(first.contexts[0]?.clientToken).not.toBe(second.contexts[0]?.clientToken);
  });
});

describe('backoff timing', () => {
  test('the server retry-after is honoured before the next attempt', async () => {
    const { clock, caller } = harness({
      rateLimitPerMinute: { [API]: 60_000 },
      random: () => 0,
    });
    const { contexts, operation } = scripted([throttling('R-t', 3_000)]);
    const done = caller.call(API, operation);
    await clock.advance(2_999);
    expect(contexts).toHaveLength(1);
    await clock.advance(10);
    expect(contexts).toHaveLength(2);
    await done;
  });

  test('delays grow exponentially within the jittered ceiling', async () => {
    const { clock, caller } = harness({ random: () => 0.999 });
    const attemptsAt: number[] = [];
    const start = clock.now();
    const operation = async () => {
      attemptsAt.push(clock.now() - start);
      if (attemptsAt.length < 4) throw internal('R');
      return 'done';
    };
    await drive(clock, caller.call(API, operation), 1);
    const gaps = attemptsAt.slice(1).map((at, i) => at - (attemptsAt[i] as number));
    // Full jitter with random≈1: just under the 200, 400, 800 ms ceilings.
    expect(gaps).toEqual([200, 400, 799]);
  });

  test('jitter stays within [0, ceiling] and the ceiling is capped', () => {
    const policy = resolveRetryPolicy({ baseDelayMs: 200, maxDelayMs: 1_000 });
    expect([1, 2, 3, 4, 5, 10].map((r) => backoffCeilingMs(policy, r))).toEqual([
      200, 400, 800, 1_000, 1_000, 1_000,
    ]);
    for (const r of [0, 0.1, 0.5, 0.9, 0.9999]) {
      for (const retry of [1, 2, 3, 8]) {
        const delay = retryDelayMs(policy, retry, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(backoffCeilingMs(policy, retry));
      }
    }
    const equal = resolveRetryPolicy({ jitter: 'equal' });
    expect(retryDelayMs(equal, 1, () => 0)).toBe(100);
    expect(retryDelayMs(resolveRetryPolicy({ jitter: 'none' }), 2, () => 0.3)).toBe(400);
    // A server retry-after wins, capped, plus at most one base delay of spread.
    expect(retryDelayMs(policy, 1, () => 0.5, 5_000)).toBe(5_100);
    expect(retryDelayMs(policy, 1, () => 0, 10 * 60_000)).toBe(policy.maxRetryAfterMs);
  });

  test("Terway's backoff_override feeds per-API policies", () => {
    const { all, byApi } = retryOverridesFromBackoff({
      '': { durationMs: 500, steps: 2 },
      eni_ip_ops: { durationMs: 1_000, factor: 1.5, jitter: 0.2, steps: 6 },
    });
    expect(all).toEqual({ baseDelayMs: 500, maxAttempts: 3 });
    expect(byApi[API]).toEqual({
      baseDelayMs: 1_000,
      multiplier: 1.5,
      jitter: 'equal',
      maxAttempts: 7,
    });
    expect(byApi['CreateNetworkInterface']).toBeUndefined();
  });

  test('retryByApi overrides the global policy for that API only', async () => {
    const { clock, caller } = harness({
      retry: { maxAttempts: 2 },
      retryByApi: { [API]: { maxAttempts: 4 } },
    });
    const assign = scripted([internal('1'), internal('2'), internal('3')]);
    await drive(clock, caller.call(API, assign.operation));
    expect(assign.contexts).toHaveLength(4);
    const other = scripted([internal('1'), internal('2'), internal('3')]);
    await drive(clock, caller.call('DeleteNetworkInterface', other.operation)).catch(
      () => undefined,
    );
    expect(other.contexts).toHaveLength(2);
  });
});

describe('rate limiting inside the caller', () => {
  test('calls beyond the burst wait for tokens instead of failing', async () => {
    const { clock, caller } = harness({ rateLimitPerMinute: { [API]: 6 } });
    const startedAt: number[] = [];
    const start = clock.now();
    const calls = [0, 1, 2, 3].map(() =>
      caller.call(API, async () => {
        startedAt.push(clock.now() - start);
        return 1;
      }),
    );
    await drive(clock, Promise.all(calls), 1_000);
    expect(startedAt).toEqual([0, 0, 10_000, 20_000]);
  });

  test('Throttling slows the API bucket, which recovers later', async () => {
    const { clock, caller } = harness();
    const { operation } = scripted([throttling('R-1')]);
    await drive(clock, caller.call(API, operation));
    const slowed = caller.stats().apis[0]?.rateLimit;
    expect(slowed).toMatchObject({
      baseCallsPerMinute: 400,
      callsPerMinute: 200,
      throttleEvents: 1,
    });
    await clock.advance(10 * 60_000);
    expect(caller.stats().apis[0]?.rateLimit.callsPerMinute).toBe(400);
  });

  test('an abort while waiting for a rate token rejects promptly', async () => {
    const { clock, caller } = harness({ rateLimitPerMinute: { [API]: 1 } });
    await caller.call(API, async () => 1);
    await caller.call(API, async () => 1);
    const controller = new AbortController();
    const ran: number[] = [];
    const pending = caller.call(API, async () => ran.push(1), { signal: controller.signal });
    pending.catch(() => undefined);
    await clock.advance(1_000);
    controller.abort(new Error('pod deleted'));
    await expect(pending).rejects.toThrow('pod deleted');
    expect(ran).toEqual([]);
  });
});

describe('abort during backoff', () => {
  test('rejects with the signal reason without waiting out the delay', async () => {
    const { clock, caller } = harness();
    const controller = new AbortController();
    const { contexts, operation } = scripted([throttling('R', 20_000)]);
    const pending = caller.call(API, operation, { signal: controller.signal });
    pending.catch(() => undefined);
    await clock.advance(100);
    expect(contexts).toHaveLength(1);
    controller.abort(new Error('deadline exceeded'));
    await expect(pending).rejects.toThrow('deadline exceeded');
    // The backoff timer is gone: nothing fires later.
    await clock.advance(60_000);
    expect(contexts).toHaveLength(1);
  });

  test('an already-aborted signal makes no attempt', async () => {
    const { caller } = harness();
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    const { contexts, operation } = scripted([]);
    await expect(caller.call(API, operation, { signal: controller.signal })).rejects.toThrow(
      'too late',
    );
    expect(contexts).toHaveLength(0);
  });
});

describe('observability', () => {
  test('metrics count every attempt once by outcome, with latency and wait histograms', async () => {
    const { clock, caller, registry } = harness();
    const { operation } = scripted([throttling('1'), internal('2')]);
    await drive(clock, caller.call(API, operation));
    await caller
      .call('DeleteNetworkInterface', scripted([clientError('InvalidParameter', '3')]).operation)
      .catch(() => undefined);
    const calls = await metricValues(registry, 'terway_cloud_api_calls_total');
    expect(calls).toEqual(
      expect.arrayContaining([
        { labels: { api: API, outcome: 'throttled' }, value: 1 },
        { labels: { api: API, outcome: 'retried' }, value: 1 },
        { labels: { api: API, outcome: 'ok' }, value: 1 },
        { labels: { api: 'DeleteNetworkInterface', outcome: 'error' }, value: 1 },
      ]),
    );
    expect(calls).toHaveLength(4);
    const text = await registry.metrics();
    expect(text).toContain(`terway_cloud_api_latency_seconds_count{api="${API}"} 3`);
    expect(text).toContain(`terway_cloud_api_rate_limit_wait_seconds_count{api="${API}"} 3`);
  });

  test('stats report calls, attempts, outcomes, the last error and the bucket', async () => {
    const { clock, caller } = harness();
    await drive(clock, caller.call(API, scripted([throttling('T1')]).operation));
    // The throttled bucket now runs at half rate: the next call waits for its token.
    const failing = caller.call(
      API,
      scripted([clientError('InvalidVSwitchId.IpNotEnough', 'R-last')]).operation,
    );
    await drive(clock, failing).catch(() => undefined);
    const [stats] = caller.stats().apis;
    expect(stats).toMatchObject({
      api: API,
      calls: 2,
      attempts: 3,
      ok: 1,
      throttled: 1,
      retried: 1,
      errors: 1,
      lastError: { code: 'InvalidVSwitchId.IpNotEnough', requestId: 'R-last', at: clock.now() },
    });
    expect(stats?.lastError?.message).toContain('InvalidVSwitchId.IpNotEnough happened');
    expect(stats?.rateLimit.baseCallsPerMinute).toBe(400);
  });

  test('one log line per attempt with api, requestId, latency, attempt and code; no secrets', async () => {
    const { clock, caller, lines } = harness();
    const secret = 'LTAI-very-secret-value';
    const leaky = new ThrottlingError({
      ...sdkMap(400, 'Throttling', 'denied', 'R-first'),
      // A misbehaving proxy echoing the signed request back in the body.
      data: {
        RequestId: 'R-first',
        Code: 'Throttling',
        AccessKeySecret: secret,
        Message: 'denied',
      },
      accessKeySecret: secret,
    });
    const operation = async (context: ApiCallContext) => {
      if (context.attempt === 1) throw leaky;
      return { statusCode: 200, headers: {}, body: { requestId: 'R-second' } };
    };
    await drive(clock, caller.call(API, operation));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 40,
      api: API,
      requestId: 'R-first',
      attempt: 1,
      code: 'Throttling',
      msg: 'cloud api call failed, retrying',
    });
    expect(typeof lines[0]?.['latencyMs']).toBe('number');
    expect(typeof lines[0]?.['retryInMs']).toBe('number');
    expect(lines[1]).toMatchObject({ level: 30, api: API, requestId: 'R-second', attempt: 2 });
    expect(lines[1]?.['clientToken']).toBe(lines[0]?.['clientToken']);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  test('read-only successes log at debug, failures that give up at warn', async () => {
    const { caller, lines } = harness();
    await caller.call('DescribeNetworkInterfaces', scripted([]).operation);
    await caller
      .call(
        'DescribeNetworkInterfaces',
        scripted([clientError('InvalidParameter', 'R-p')]).operation,
      )
      .catch(() => undefined);
    expect(lines.map((l) => [l['level'], l['msg']])).toEqual([
      [20, 'cloud api call ok'],
      [40, 'cloud api call failed'],
    ]);
    expect(lines[0]?.['clientToken']).toBeUndefined();
  });
});
