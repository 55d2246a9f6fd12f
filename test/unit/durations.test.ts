import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import {
  checkDuration,
  MAX_DURATION_MS,
  parseDurationMs,
  tryParseDurationMs,
} from '../../src/config/durations.js';

describe('parseDurationMs', () => {
  test.each([
    ['5m', 300_000],
    ['120s', 120_000],
    ['1m30s', 90_000],
    ['300ms', 300],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['0', 0],
    ['0s', 0],
    ['+10s', 10_000],
    [' 10s ', 10_000],
  ])('Go duration %j is %d ms', (input, ms) => {
    expect(parseDurationMs(input)).toBeCloseTo(ms, 9);
  });

  test.each([
    [120, 120_000],
    [0, 0],
    [0.25, 250],
  ])('a plain number %d means seconds', (input, ms) => {
    expect(parseDurationMs(input)).toBe(ms);
  });

  test.each([
    '-5m',
    '-1',
    'abc',
    '',
    '5x',
    '5m garbage',
    'garbage 5m',
    '1h30', // parse-duration would read 1h30m; Go rejects the unit-less tail
    '5 m',
    '1 week',
    '1d',
    '1e3ms',
    '1.s',
  ])('rejects %j', (input) => {
    expect(tryParseDurationMs(input)).toBeUndefined();
    expect(() => parseDurationMs(input)).toThrow(RangeError);
  });

  test.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('rejects the number %d', (input) => {
    expect(tryParseDurationMs(input)).toBeUndefined();
  });

  test('rejects non-string, non-number input', () => {
    for (const input of [null, undefined, true, {}, ['5m']]) {
      expect(tryParseDurationMs(input)).toBeUndefined();
    }
  });

  test('a unit-less number string is rejected with a hint', () => {
    const result = checkDuration('30');
    expect(result).toEqual({ ok: false, reason: 'missing unit (write "30s" for seconds)' });
  });

  test('negative durations say so', () => {
    expect(checkDuration('-5m')).toEqual({
      ok: false,
      reason: 'negative durations are not allowed',
    });
    expect(checkDuration(-3)).toEqual({ ok: false, reason: 'negative durations are not allowed' });
  });

  test('durations beyond what a Node timer can hold are rejected', () => {
    expect(tryParseDurationMs(`${MAX_DURATION_MS}ms`)).toBe(MAX_DURATION_MS);
    expect(tryParseDurationMs(`${MAX_DURATION_MS + 1}ms`)).toBeUndefined();
    expect(tryParseDurationMs('720h')).toBeUndefined();
    expect(tryParseDurationMs(30 * 24 * 3600)).toBeUndefined();
  });

  test('the error names the input and what is allowed', () => {
    expect(() => parseDurationMs('5x')).toThrow(
      /invalid duration "5x": not a duration; expected a duration such as "300ms"/,
    );
  });

  test('any h/m/s/ms combination adds up', () => {
    fc.assert(
      fc.property(
        fc.nat(200),
        fc.nat(59),
        fc.nat(59),
        fc.nat(999),
        (hours, minutes, seconds, millis) => {
          const text = `${hours}h${minutes}m${seconds}s${millis}ms`;
          const expected = ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis;
          expect(parseDurationMs(text)).toBe(expected);
        },
      ),
    );
  });

  test('a number of seconds and the same value written with "s" agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000_000 }), (seconds) => {
        expect(parseDurationMs(seconds)).toBe(parseDurationMs(`${seconds}s`));
      }),
    );
  });
});
