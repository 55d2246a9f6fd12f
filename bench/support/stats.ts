/** Nearest-rank percentile of an ascending sample. */
function atRank(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Nearest-rank percentile of an unsorted sample (copied, not mutated). */
export function percentile(samples: readonly number[], p: number): number {
  return atRank(Float64Array.from(samples).sort(), p);
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50Ms: atRank(sorted, 50),
    p99Ms: atRank(sorted, 99),
    maxMs: atRank(sorted, 100),
  };
}

/**
 * The median: the middle value, or the mean of the two middle values of an even count; NaN if
 * any value is (a figure a round failed to measure shows as n/a, not as the others' median). Not
 * the nearest-rank p50, which for an even count is the lower of the two: over 10 rounds a ratio
 * where lower passes would then always be read on its favourable side.
 */
export function median(values: readonly number[]): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  // A typed array sorts NaN last, where it would silently drop out of the middle.
  if (n === 0 || Number.isNaN(sorted[n - 1]!)) return Number.NaN;
  const upper = sorted[n >> 1]!;
  return n % 2 === 1 ? upper : (sorted[(n >> 1) - 1]! + upper) / 2;
}

/**
 * The median over rounds of each round's `numerators[i] / denominators[i]`: the two sides of one
 * round ran under the same conditions, so their quotient cancels what a noisy spell did to both.
 * A round missing either side counts as NaN and makes the result NaN: a ratio is never quietly
 * taken over fewer rounds than the report says.
 */
export function medianRatio(
  numerators: readonly number[],
  denominators: readonly number[],
): number {
  const rounds = Math.max(numerators.length, denominators.length);
  return median(
    Array.from(
      { length: rounds },
      (_, i) => (numerators[i] ?? Number.NaN) / (denominators[i] ?? Number.NaN),
    ),
  );
}

/** Milliseconds with a precision that suits the magnitude. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value < 1) return `${value.toFixed(3)} ms`;
  if (value < 10) return `${value.toFixed(2)} ms`;
  return `${value.toFixed(1)} ms`;
}

export function rate(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
}

export function ratio(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value.toFixed(2)}×`;
}

/** One benchmark target as the reports print it: the figure, its limit, and the verdict. */
export interface Target {
  name: string;
  measured: string;
  limit: string;
  pass: boolean;
}
