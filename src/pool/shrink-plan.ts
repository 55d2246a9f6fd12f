import { MAX_IPS_PER_CLOUD_CALL } from '../cloud/provider.js';

export type ShrinkAction =
  | { kind: 'unassign'; eniId: string; ips: string[] }
  | { kind: 'delete'; eniId: string; ipCount: number };

export interface ShrinkEniView {
  id: string;
  primaryIp: string;
  size: number;
  inUse: number;
  /** Every IP idle, nothing in flight: the whole ENI may go. */
  unused: boolean;
  /** False while the ENI has cloud work in flight or is not attached. */
  touchable: boolean;
  /** Idle addresses, longest idle first. */
  idle: readonly string[];
}

export interface ShrinkInput {
  /** How many idle IPs to give back. */
  release: number;
  enis: readonly ShrinkEniView[];
  /** Never go below this many secondary ENIs (min_eni). */
  minEni: number;
}

/**
 * Chooses which idle IPs go back to the cloud. Whole unused ENIs go first (detach + delete frees
 * an ENI slot and all its IPs in one call); then IPs are unassigned from the least used ENIs,
 * so pods pack onto fewer ENIs over time. An ENI's primary IP can only leave with the ENI.
 */
export function planShrink(input: ShrinkInput): ShrinkAction[] {
  const actions: ShrinkAction[] = [];
  let remaining = input.release;
  let eniCount = input.enis.length;
  const deleted = new Set<string>();

  const wholeEnis = input.enis
    .filter((eni) => eni.unused && eni.touchable)
    .sort((a, b) => a.size - b.size);
  for (const eni of wholeEnis) {
    if (remaining <= 0 || eniCount <= input.minEni) break;
    if (eni.size > remaining) continue;
    actions.push({ kind: 'delete', eniId: eni.id, ipCount: eni.size });
    deleted.add(eni.id);
    remaining -= eni.size;
    eniCount--;
  }

  const drainOrder = input.enis
    .filter((eni) => eni.touchable && !deleted.has(eni.id))
    .sort((a, b) => a.inUse - b.inUse || a.size - b.size);
  for (const eni of drainOrder) {
    if (remaining <= 0) break;
    const ips = eni.idle
      .filter((ip) => ip !== eni.primaryIp)
      .slice(0, Math.min(remaining, MAX_IPS_PER_CLOUD_CALL));
    if (ips.length === 0) continue;
    actions.push({ kind: 'unassign', eniId: eni.id, ips });
    remaining -= ips.length;
  }
  return actions;
}
