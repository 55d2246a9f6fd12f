/**
 * Whether the node's Service LB holds its source's first complete state in the maps, and if not,
 * why: what a readiness probe asks (terway-cli status --services-synced). A DaemonSet rollout then
 * moves on to the next node only once this one's Services are programmed, and a node whose source
 * cannot list shows as not ready instead of passing quietly.
 *
 * CNI STATUS does not ask it. Pod ADDs are held for that state (service-sync-gate.ts) rather than
 * refused, and a runtime whose STATUS call fails reports the node's network as not ready: kubelet
 * would mark the whole node NotReady at every daemon restart, for a wait that is bounded anyway.
 */
import type { ServiceSyncGate } from './service-sync-gate.js';

export interface ServicesReadinessSource {
  readonly source: 'kubernetes' | 'file' | 'none';
  readonly reconciler: {
    readonly isSynced: boolean;
    readonly hasProgrammedFirstState: boolean;
    readonly failure: Error | undefined;
  };
  sourceProblem(): string | undefined;
  readonly firstStateGate: Pick<ServiceSyncGate, 'openedBy' | 'holdRemainingMs'>;
}

const SOURCE_TEXT = { kubernetes: 'Kubernetes API', file: 'services file' } as const;

/**
 * Undefined once the first complete state is in the maps, or when there is no Service LB or no
 * source (nothing will ever come); else one line: what is missing, the source's or the maps'
 * problem when there is one, and what pod ADDs do meanwhile.
 */
export function servicesPendingReason(lb: ServicesReadinessSource | undefined): string | undefined {
  if (lb === undefined || lb.source === 'none') return undefined;
  const { reconciler } = lb;
  if (reconciler.hasProgrammedFirstState) return undefined;
  const parts = reconciler.isSynced
    ? [
        "the Service LB's first complete state is not in its maps yet",
        reconciler.failure === undefined
          ? undefined
          : `writing it failed: ${reconciler.failure.message}`,
      ]
    : [
        `the Service LB's source (${SOURCE_TEXT[lb.source]}) has not delivered a complete state yet`,
        lb.sourceProblem(),
      ];
  parts.push(addHoldText(lb.firstStateGate));
  return parts.filter((part) => part !== undefined).join('; ');
}

function addHoldText(gate: Pick<ServiceSyncGate, 'openedBy' | 'holdRemainingMs'>): string {
  switch (gate.openedBy) {
    case undefined:
      return `pod ADDs wait for it, at most ${(gate.holdRemainingMs() / 1000).toFixed(1)} s more (--lb-sync-wait)`;
    case 'bound-passed':
      return 'pod ADDs no longer wait for it (--lb-sync-wait passed)';
    case 'not-held':
      return 'pod ADDs do not wait for it (--lb-sync-wait 0)';
    case 'stopping':
      return 'terwayd is stopping';
    case 'first-state':
      // The gate opens on the reconciler's first programmed state, so only a stopped reconciler
      // gets here.
      return 'pod ADDs no longer wait for it';
  }
}
