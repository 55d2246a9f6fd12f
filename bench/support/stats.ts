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

export function median(values: readonly number[]): number {
  return percentile(values, 50);
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
