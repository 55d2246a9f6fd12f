/**
 * Durations in `eni_conf`: Go `time.ParseDuration` strings ("300ms", "1m30s"), as Terway reads
 * them, or plain JSON numbers meaning seconds. Results are milliseconds.
 *
 * `parse-duration` does the arithmetic, but it is deliberately forgiving ("5m garbage" is 5 min,
 * "1h30" is 90 min, "1 week" is valid). A config typo must fail loudly rather than silently
 * become some other duration, so the input's shape is checked against Go's grammar first.
 */
import parseDurationString from 'parse-duration';

/**
 * Node's timers overflow above 2^31 − 1 ms (about 24.8 days) and then fire after 1 ms, which would
 * turn a long reclaim interval into a busy loop. Nothing in the daemon needs longer.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Go's units. Go accepts both the micro sign (U+00B5) and Greek mu (U+03BC) for microseconds. */
const GO_DURATION_RE = /^\+?(?:(?:\d+(?:\.\d+)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const GREEK_MU = 'μ';
const MICRO_SIGN = 'µ';

/** What a valid duration looks like, for error messages. */
export const DURATION_EXPECTED =
  'a duration such as "300ms", "120s", "1m30s" or "2h" (units ns, us, ms, s, m, h), or a number of seconds';

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

/** Validates and converts; never throws. `reason` says what is wrong, for error messages. */
export function checkDuration(input: unknown): DurationResult {
  let ms: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, reason: 'not a finite number' };
    if (input < 0) return { ok: false, reason: 'negative durations are not allowed' };
    ms = input * 1000;
  } else if (typeof input === 'string') {
    const text = input.trim();
    if (text.startsWith('-')) return { ok: false, reason: 'negative durations are not allowed' };
    // Go accepts a bare "0" as the one unit-less duration.
    if (text === '0' || text === '+0') return { ok: true, ms: 0 };
    if (/^\+?(?:\d+(?:\.\d+)?|\.\d+)$/.test(text)) {
      return { ok: false, reason: `missing unit (write "${text}s" for seconds)` };
    }
    if (!GO_DURATION_RE.test(text)) return { ok: false, reason: 'not a duration' };
    const parsed = parseDurationString(text.replaceAll(GREEK_MU, MICRO_SIGN), 'ms');
    if (parsed === null || !Number.isFinite(parsed)) return { ok: false, reason: 'not a duration' };
    ms = parsed;
  } else {
    return { ok: false, reason: 'not a string or number' };
  }
  if (ms > MAX_DURATION_MS) {
    return { ok: false, reason: `longer than the maximum of ${MAX_DURATION_MS} ms (~24.8 days)` };
  }
  return { ok: true, ms };
}

/** Milliseconds, or `undefined` when the input is not a valid non-negative duration. */
export function tryParseDurationMs(input: unknown): number | undefined {
  const result = checkDuration(input);
  return result.ok ? result.ms : undefined;
}

/** Milliseconds; throws `RangeError` naming the input and what is allowed. */
export function parseDurationMs(input: string | number): number {
  const result = checkDuration(input);
  if (result.ok) return result.ms;
  throw new RangeError(
    `invalid duration ${JSON.stringify(input)}: ${result.reason}; expected ${DURATION_EXPECTED}`,
  );
}
