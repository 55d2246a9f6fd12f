import { describe, expect, test } from '@jest/globals';

import { pageByNumber, pageByToken, sequenceKey } from '../../src/emulator/api/paging.js';
import { StsIssuer } from '../../src/emulator/auth/sts-issuer.js';
import { AccountThrottle } from '../../src/emulator/control/account-throttle.js';
import { FaultInjector } from '../../src/emulator/control/fault-injector.js';
import { TokenBucket } from '../../src/emulator/control/token-bucket.js';
import { codeOf } from '../support/api-error-code.js';
import { Params } from '../../src/emulator/wire/params.js';
import { FakeClock } from '../../src/util/fake-clock.js';

describe('Params', () => {
  test('lists come back in index order, empty values skipped, too many refused', () => {
    const params = new Params({ 'Id.2': 'b', 'Id.10': 'c', 'Id.1': 'a', 'Id.3': '' });
    expect(params.list('Id', 5)).toEqual(['a', 'b', 'c']);
    expect(codeOf(() => params.list('Id', 2))).toBe('400 InvalidParameter');
    expect(codeOf(() => new Params({ 'Id.0': 'x' }).list('Id', 5))).toBe('400 InvalidParameter');
  });

  test('tags: keys required and unique', () => {
    expect(new Params({ 'Tag.1.Key': 'a', 'Tag.1.Value': '1', 'Tag.2.Key': 'b' }).tags()).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '' },
    ]);
    expect(codeOf(() => new Params({ 'Tag.1.Value': 'x' }).tags())).toBe('400 InvalidParameter');
    expect(codeOf(() => new Params({ 'Tag.1.Key': 'a', 'Tag.2.Key': 'a' }).tags())).toBe(
      '400 Duplicate.TagKey',
    );
  });

  test('integers: ranges refused or clamped; MissingParameter carries the API status', () => {
    const params = new Params({ N: '50', M: '5', X: 'abc' }, 403);
    expect(codeOf(() => params.int('N', 1, 49))).toBe('400 InvalidParameter');
    expect(params.int('M', 1, 49)).toBe(5);
    expect(codeOf(() => params.int('X', 1, 49))).toBe('400 InvalidParameter');
    expect(params.clampedInt('N', 10, 20, 10)).toBe(20);
    expect(params.clampedInt('M', 10, 20, 10)).toBe(10);
    expect(params.clampedInt('Absent', 10, 20, 15)).toBe(15);
    expect(codeOf(() => params.required('RegionId'))).toBe('403 MissingParameter');
    expect(codeOf(() => params.exclusive('A', true, 'B', true))).toBe(
      '400 InvalidParameter.Conflict',
    );
  });
});

describe('paging', () => {
  const items = Array.from({ length: 25 }, (_, i) => ({ seq: i + 1 }));
  const key = (item: { seq: number }) => sequenceKey(item.seq);

  test('NextToken walks every item once and ends with an empty token', () => {
    const seen: number[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = pageByToken(items, key, token, 10);
      seen.push(...page.items.map((item) => item.seq));
      token = page.nextToken === '' ? undefined : page.nextToken;
      pages++;
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(items.map((item) => item.seq));
  });

  test('a token survives the deletion of the item it names', () => {
    const first = pageByToken(items, key, undefined, 10);
    const remaining = items.filter((item) => item.seq !== 10 && item.seq !== 11);
    const second = pageByToken(remaining, key, first.nextToken, 10);
    expect(second.items.map((item) => item.seq)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
  });

  test('a malformed token is InvalidParameter; page numbers slice', () => {
    expect(codeOf(() => pageByToken(items, key, 'garbage!', 10))).toBe('400 InvalidParameter');
    expect(pageByNumber(items, 3, 10).map((item) => item.seq)).toEqual([21, 22, 23, 24, 25]);
  });
});

describe('token buckets', () => {
  test('burst, then one token per 1/rate seconds', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 2, burst: 3 }, clock);
    for (let i = 0; i < 3; i++) {
      expect(bucket.waitMs()).toBe(0);
      bucket.take();
    }
    expect(bucket.waitMs()).toBe(500);
    await clock.advance(250);
    expect(bucket.waitMs()).toBe(250);
    await clock.advance(250);
    expect(bucket.waitMs()).toBe(0);
  });

  test('a call needs every applicable bucket and a refused call takes nothing', async () => {
    const clock = new FakeClock();
    const throttle = new AccountThrottle(
      {
        perApi: { DescribeNetworkInterfaces: { ratePerSecond: 1, burst: 1 } },
        mutating: { ratePerSecond: 1, burst: 2 },
        all: { ratePerSecond: 10, burst: 4 },
      },
      clock,
    );
    expect(throttle.admit('DescribeNetworkInterfaces').allowed).toBe(true);
    expect(throttle.admit('DescribeNetworkInterfaces')).toEqual({
      allowed: false,
      retryAfterMs: 1000,
    });
    expect(throttle.admit('CreateNetworkInterface').allowed).toBe(true);
    expect(throttle.admit('AssignPrivateIpAddresses').allowed).toBe(true);
    expect(throttle.admit('DeleteNetworkInterface').allowed).toBe(false);
    // The shared 'all' bucket still has its 4th token: refused calls did not spend it.
    expect(throttle.admit('DescribeInstanceTypes').allowed).toBe(true);
    expect(throttle.admit('DescribeInstanceTypes')).toEqual({ allowed: false, retryAfterMs: 100 });
    await clock.advance(1000);
    expect(throttle.admit('DeleteNetworkInterface').allowed).toBe(true);
  });
});

describe('fault injection', () => {
  test("an API's fault and the '*' fault are independent; latencies add", () => {
    const rolls = [0.5, 0.1];
    const faults = new FaultInjector(() => rolls.shift() ?? 0.99);
    faults.set('CreateNetworkInterface', {
      errorRate: 0.3,
      errorCode: 'Throttling',
      addedLatencyMs: 5,
    });
    faults.set('*', { errorRate: 0.2, addedLatencyMs: 7 });
    const verdict = faults.decide('CreateNetworkInterface');
    expect(verdict.kind).toBe('error');
    if (verdict.kind !== 'error') return;
    expect(verdict.error.code).toBe('InternalError');
    expect(verdict.error.status).toBe(500);
    expect(verdict.addedLatencyMs).toBe(12);
    expect(faults.decide('DescribeInstances')).toEqual({ kind: 'pass', addedLatencyMs: 7 });
  });

  test('codes get their real statuses; timeouts hang; bad rates are refused', () => {
    const faults = new FaultInjector(() => 0);
    faults.set('A', { errorRate: 1, errorCode: 'ServiceUnavailable' });
    faults.set('B', { timeoutRate: 1 });
    faults.set('C', { errorRate: 1, errorCode: 'Throttling' });
    const a = faults.decide('A');
    expect(a.kind === 'error' && a.error.status).toBe(503);
    expect(faults.decide('B')).toEqual({ kind: 'hang' });
    const c = faults.decide('C');
    expect(c.kind === 'error' && `${c.error.status} ${c.error.message}`).toBe(
      '400 Request was denied due to request throttling.',
    );
    expect(() => faults.set('D', { errorRate: 2 })).toThrow(/errorRate/);
    faults.clear();
    expect(faults.decide('A')).toEqual({ kind: 'pass', addedLatencyMs: 0 });
  });
});

describe('lost responses and fault budgets', () => {
  test('a lost response loses to an error, and only applied faults spend maxInjections', () => {
    const faults = new FaultInjector(() => 0);
    faults.set('CreateNetworkInterface', { lostResponseRate: 1, maxInjections: 2 });
    expect(faults.decide('CreateNetworkInterface')).toEqual({
      kind: 'lostResponse',
      addedLatencyMs: 0,
    });
    // An error means the call never ran, so there is no answer to lose and no budget spent.
    faults.set('*', { errorRate: 1, addedLatencyMs: 3, maxInjections: 1 });
    expect(faults.decide('CreateNetworkInterface')).toMatchObject({
      kind: 'error',
      addedLatencyMs: 3,
    });
    expect(Object.keys(faults.list())).toEqual(['CreateNetworkInterface']);
    expect(faults.decide('CreateNetworkInterface').kind).toBe('lostResponse');
    expect(faults.list()).toEqual({});
    expect(faults.decide('CreateNetworkInterface')).toEqual({ kind: 'pass', addedLatencyMs: 0 });
    faults.set('X', { timeoutRate: 1, maxInjections: 1 });
    expect(faults.decide('X')).toEqual({ kind: 'hang' });
    expect(faults.decide('X')).toEqual({ kind: 'pass', addedLatencyMs: 0 });
  });

  test('bad or misspelt fields are refused', () => {
    const faults = new FaultInjector(() => 0);
    expect(() => faults.set('A', { lostResponseRate: 1.5 })).toThrow(/lostResponseRate/);
    expect(() => faults.set('A', { maxInjections: 0 })).toThrow(/maxInjections/);
    expect(() => faults.set('A', { lostResponse: 1 } as never)).toThrow(/unknown fault field/);
    expect(faults.list()).toEqual({});
  });
});

describe('STS issuer', () => {
  test('credentials are reused until a third of their life is left, then rotated', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 25, 6, 0, 0));
    const sts = new StsIssuer(clock, 60 * 60_000);
    const first = sts.credentialsFor('i-1');
    expect(first.accessKeyId).toMatch(/^STS\./);
    expect(first.expiration).toBe('2026-11-25T07:00:00Z');
    expect(first.lastUpdated).toBe('2026-11-25T06:00:00Z');
    await clock.advance(39 * 60_000);
    expect(sts.credentialsFor('i-1').securityToken).toBe(first.securityToken);
    await clock.advance(2 * 60_000);
    const second = sts.credentialsFor('i-1');
    expect(second.securityToken).not.toBe(first.securityToken);
    expect(sts.lookup(first.securityToken)?.instanceId).toBe('i-1');
    expect(sts.credentialsFor('i-2').securityToken).not.toBe(second.securityToken);
  });
});
