import { MAX_IPS_PER_CLOUD_CALL } from '../cloud/provider.js';
import type { EniSelectionPolicy } from './ip-state.js';
import type { PoolLimits } from './pool-limits.js';

export type GrowAction =
  { kind: 'assign'; eniId: string; count: number } | { kind: 'create'; ipCount: number };

export interface GrowEniView {
  id: string;
  size: number;
  inUse: number;
  /** False while the ENI has a request in flight, is not attached, or the cloud said it is full. */
  assignable: boolean;
  freeSlots: number;
}

export interface GrowInput {
  /** IPs to request now, beyond what is idle and already in flight. */
  wanted: number;
  enis: readonly GrowEniView[];
  /** ENIs being created right now (they count against the ENI limit). */
  creatingEnis: number;
  /** Slots those ENIs will still have once created: demand they can absorb with one assign
   *  call after they attach, instead of spending another scarce ENI. */
  creatingFreeSlots: number;
  /** Free slots of attached ENIs that only wait for their own in-flight call to finish. */
  busyFreeSlots?: number;
  limits: PoolLimits;
  canCreateEni: boolean;
  /** ENIs missing to reach min_eni: they are created whatever the IP demand. */
  enisBelowMin?: number;
  /**
   * IPs the plan's creates may bring beyond the demand, in all: what max_pool_size lets sit idle
   * once the demand is served. A create costs one call whatever its count, while the slots it
   * leaves empty cost an assign later, when a burst goes on (as bursts do).
   */
  idleHeadroom?: number;
  policy: EniSelectionPolicy;
}

/**
 * Turns a demand for IPs into cloud calls: fill the ENIs we have (one call per ENI, at most 10
 * IPs each), then create ENIs for the rest. Pure, so every branch is testable without a cloud.
 */
export function planGrowth(input: GrowInput): GrowAction[] {
  const actions: GrowAction[] = [];
  let remaining = input.wanted;
  const perCreate = Math.min(input.limits.ipsPerEni, MAX_IPS_PER_CLOUD_CALL);
  let eniCount = input.enis.length + input.creatingEnis;
  let extraLeft = Math.max(0, input.idleHeadroom ?? 0);
  const create = (): void => {
    const forDemand = Math.max(0, Math.min(remaining, perCreate));
    const extra = Math.min(extraLeft, perCreate - forDemand);
    extraLeft -= extra;
    // A new ENI always brings its own primary IP; ask for at least one secondary besides it,
    // since ECS rejects a zero SecondaryPrivateIpAddressCount.
    const ipCount = Math.max(forDemand + extra, Math.min(2, perCreate));
    actions.push({ kind: 'create', ipCount });
    // The new ENI absorbs its whole capacity: what the create cannot carry comes by assign once
    // it is attached (the next plan sees it as creating free slots), rather than by another ENI.
    remaining -= input.limits.ipsPerEni;
    eniCount++;
  };

  // min_eni is a count of ENIs, not of IPs: topping up an existing ENI never meets it. Its
  // creates come first, and the IPs they bring count against the demand.
  if (input.canCreateEni && perCreate > 0) {
    for (let i = 0; i < (input.enisBelowMin ?? 0) && eniCount < input.limits.maxEnis; i++) create();
  }
  if (remaining <= 0) return actions;

  const candidates = input.enis
    .filter((eni) => eni.assignable && eni.freeSlots > 0)
    .sort((a, b) =>
      input.policy === 'most_ips' ? b.inUse - a.inUse || b.size - a.size : a.inUse - b.inUse,
    );
  for (const eni of candidates) {
    if (remaining <= 0) break;
    const count = Math.min(remaining, eni.freeSlots, MAX_IPS_PER_CLOUD_CALL);
    actions.push({ kind: 'assign', eniId: eni.id, count });
    remaining -= count;
  }

  // ENIs are scarce (a handful per instance) while IPs on an existing ENI are cheap: wait for
  // ENIs already being created, or busy with an assign, rather than create another for demand
  // they can absorb once their call returns.
  remaining -= input.creatingFreeSlots + (input.busyFreeSlots ?? 0);
  if (!input.canCreateEni) return actions;
  while (remaining > 0 && eniCount < input.limits.maxEnis && perCreate > 0) create();
  return actions;
}
