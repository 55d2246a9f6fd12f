/**
 * When the conntrack collector's next pass runs. A fixed interval keeps the flow table from
 * filling only below one rate of new flows: at 30 s and 262,144 entries, about 6,500 TCP
 * connections a second (each ended flow stays 10 s past its close, then up to one interval more).
 * Above it the table fills between passes, and from then on every new flow evicts the entry
 * touched least recently, live or not: the very thing the collector is there to prevent. So the
 * next pass is due before the flows arriving at the rate the last two passes saw would take up
 * half of the room the table has left; never later than the configured interval, and never sooner
 * than a floor that bounds the collector's own work.
 */

/** The share of the table's free room the flows arriving until the next pass may take. */
export const COLLECT_HEADROOM_SHARE = 0.5;

/**
 * The soonest a pass follows the previous one. A pass over a full table costs about half a
 * second of work (BENCHMARKS.md §11), spread over the event loop in slices; over the few seconds'
 * worth of flows a table paced this fast holds, a small fraction of that.
 */
export const DEFAULT_SHORTEST_COLLECT_INTERVAL_MS = 2_000;

/** The flow table right after a pass: what it held at the dump less what the pass deleted. */
export interface TableAfterPass {
  /** Entries left: the dump's count less the flows deleted. */
  readonly remaining: number;
  /** CLOCK_MONOTONIC at the pass's dump, ns. */
  readonly atNs: bigint;
}

export interface PacingInput {
  readonly capacity: number;
  /** Entries at this pass's dump. */
  readonly scanned: number;
  /** The table after this pass, and after the previous one (undefined at the first). */
  readonly current: TableAfterPass;
  readonly previous: TableAfterPass | undefined;
  readonly longestMs: number;
  readonly shortestMs: number;
}

const NS_PER_MS = 1_000_000;

/**
 * The delay before the next pass, ms. The first pass has no rate to go by and keeps the longest
 * interval, as does a table that did not grow (new flows are what fills it).
 */
export function nextCollectDelayMs(input: PacingInput): number {
  const { capacity, scanned, current, previous, longestMs } = input;
  const shortestMs = Math.min(input.shortestMs, longestMs);
  if (previous === undefined) return longestMs;
  const elapsedMs = Number(current.atNs - previous.atNs) / NS_PER_MS;
  // Entries made since the previous pass (less any the kernel evicted meanwhile: a full table
  // understates the rate, but is also one with no room left, paced at the floor either way).
  const arrived = scanned - previous.remaining;
  if (elapsedMs <= 0 || arrived <= 0) return longestMs;
  const room = Math.max(0, capacity - current.remaining) * COLLECT_HEADROOM_SHARE;
  const dueMs = Math.floor((room * elapsedMs) / arrived);
  return Math.min(longestMs, Math.max(shortestMs, dueMs));
}
