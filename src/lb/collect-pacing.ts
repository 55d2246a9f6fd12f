/**
 * When the conntrack collector runs a pass before its interval is up. A fixed interval keeps the
 * flow table from filling only below one rate of new flows: at 30 s and 262,144 entries, about
 * 6,500 TCP connections a second (each ended flow stays 10 s past its close, then up to one
 * interval more). Above it the table fills between passes, and from then on every new flow evicts
 * the entry touched least recently, live or not: the very thing the collector is there to
 * prevent. So the collector also watches how many flow entries the programs have made since its
 * last pass (their own counters, a read every couple of seconds), and runs the next pass as soon
 * as those would take half of the room that pass left. A burst is met within one check, whatever
 * the rate was before it.
 */

/** The share of the room a pass left that new flows may take before the next pass runs. */
export const COLLECT_HEADROOM_SHARE = 0.5;

/**
 * Never a pass early for fewer new flows than this share of the table: a table full of live flows
 * has no room left, and a pass every check would cost a core's fifth for almost nothing.
 */
export const COLLECT_MIN_EARLY_SHARE = 0.05;

/** How often the programs' counters are read between passes. */
export const DEFAULT_FILL_CHECK_MS = 2_000;

/**
 * Whether `madeSince` new flow entries would take the share of the room a pass left (`capacity`
 * less the `remaining` entries) that calls for the next pass now.
 */
export function tableFillingUp(capacity: number, remaining: number, madeSince: number): boolean {
  const room = Math.max(0, capacity - remaining);
  const threshold = Math.max(room * COLLECT_HEADROOM_SHARE, capacity * COLLECT_MIN_EARLY_SHARE);
  return madeSince >= threshold;
}
