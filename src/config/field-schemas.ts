/**
 * Building blocks of the eni_conf schema. Each field schema carries its own "expected ..." text
 * as the zod message, so an error line reads `key: got <value>, expected <what is allowed>`.
 */
import { isIPv4 } from 'node:net';
import * as z from 'zod';

import { LISTEN_ADDRESS_FORMS, readListenAddress } from '../util/listen-address.js';
import { checkDuration, DURATION_EXPECTED } from './durations.js';

/** Backoff durations given as JSON numbers are Go `time.Duration` nanoseconds (that is how Terway
 *  decodes them); anything below 1 ms is almost certainly someone meaning seconds. */
export const MIN_NUMERIC_BACKOFF_NS = 1_000_000;
const NS_PER_MS = 1_000_000;

export function isIPv4Cidr(value: string): boolean {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(value);
  if (!match) return false;
  const [, address = '', prefix = ''] = match;
  return isIPv4(address) && Number(prefix) <= 32;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Drops `null` values (Go's "unset"), and empty strings where `emptyMeansUnset` says so. */
export function dropUnset(value: unknown, emptyMeansUnset?: ReadonlySet<string>): unknown {
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry === null || entry === undefined) continue;
    if (entry === '' && emptyMeansUnset?.has(key)) continue;
    out[key] = entry;
  }
  return out;
}

export function intAtLeast(min: number) {
  const expected = `an integer >= ${min}`;
  return z.number(expected).int(expected).min(min, expected);
}

export function anyInt() {
  const expected = 'an integer';
  return z.number(expected).int(expected);
}

export function numberBetween(min: number, max: number) {
  const expected = `a number between ${min} and ${max}`;
  return z.number(expected).min(min, expected).max(max, expected);
}

export function nonEmptyString(expected: string) {
  return z.string(expected).min(1, expected);
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
}

export function cidr(expected = 'an IPv4 CIDR such as "172.21.0.0/20"') {
  return z.string(expected).refine(isIPv4Cidr, expected);
}

/** A duration in ms; `positive` rejects zero where zero would mean a busy loop. */
export function duration(options: { positive: boolean }) {
  const expected = options.positive ? `${DURATION_EXPECTED}, greater than zero` : DURATION_EXPECTED;
  return z.unknown().transform((value, ctx): number => {
    const result = checkDuration(value);
    if (!result.ok || (options.positive && result.ms === 0)) {
      ctx.addIssue({ code: 'custom', message: expected, input: value });
      return z.NEVER;
    }
    return result.ms;
  });
}

/** Terway keeps `idle_ip_reclaim_jitter_factor` as a string (`*string`); numbers are friendlier. */
export function jitterFactor() {
  const expected = 'a number between 0 and 1 (a numeric string such as "0.1" is accepted too)';
  return z.unknown().transform((value, ctx): number => {
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && value.trim() !== ''
          ? Number(value)
          : Number.NaN;
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      ctx.addIssue({ code: 'custom', message: expected, input: value });
      return z.NEVER;
    }
    return n;
  });
}

/** A listener's address, read as every listener reads it (util/listen-address.ts). */
export function hostPort() {
  const expected = `${LISTEN_ADDRESS_FORMS}, such as "127.0.0.1:18080" (port 0 picks a free port)`;
  return z.string(expected).superRefine((value, ctx) => {
    const read = readListenAddress(value);
    if ('refused' in read) {
      ctx.addIssue({ code: 'custom', message: `${expected}; ${read.refused}`, input: value });
    }
  });
}

/** `host[:port]`, HTTPS; an `http://` or `https://` prefix picks the scheme explicitly. */
export function endpoint() {
  const expected =
    'a "host[:port]" such as "ecs-vpc.cn-hangzhou.aliyuncs.com", optionally prefixed with "http://" or "https://"';
  return z
    .string(expected)
    .refine((value) => /^(https?:\/\/)?[A-Za-z0-9.-]+(:\d{1,5})?$/.test(value), expected);
}

/** Terway's own `extra_routes` are `[{"dst": "<cidr>"}]`; plain CIDR strings are accepted too. */
export function extraRoute() {
  const expected = 'an IPv4 CIDR string, or an object {"dst": "<IPv4 CIDR>"}';
  return z.unknown().transform((value, ctx): string => {
    const dst = isPlainObject(value) ? value['dst'] : value;
    if (typeof dst !== 'string' || !isIPv4Cidr(dst)) {
      ctx.addIssue({ code: 'custom', message: expected, input: value });
      return z.NEVER;
    }
    return dst;
  });
}

/** Backoff durations: a Go duration string, or (as Terway decodes JSON numbers) nanoseconds. */
export function backoffDuration() {
  const expected = `a duration string such as "2s", or an integer number of nanoseconds (Go time.Duration) >= ${MIN_NUMERIC_BACKOFF_NS}`;
  return z.unknown().transform((value, ctx): number => {
    if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= MIN_NUMERIC_BACKOFF_NS) return value / NS_PER_MS;
    } else if (typeof value === 'string') {
      const result = checkDuration(value);
      if (result.ok) return result.ms;
    }
    ctx.addIssue({ code: 'custom', message: expected, input: value });
    return z.NEVER;
  });
}
