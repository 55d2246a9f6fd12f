import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { ServiceSyncGate } from '../../src/daemon/service-sync-gate.js';
import {
  servicesPendingReason,
  type ServicesReadinessSource,
} from '../../src/daemon/services-readiness.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { FakeClock, flushMicrotasks } from '../../src/util/fake-clock.js';
import { backends, frontend } from '../support/desired-frontends.js';

const log = pino({ level: 'silent' });

/** A Service LB as terwayd wires it: a real reconciler on in-memory maps, a real gate. */
function serviceLb(options: { source?: 'kubernetes' | 'file' | 'none'; waitMs?: number } = {}) {
  const maps = memoryLbMaps();
  const reconciler = new LbReconciler({ maps, logger: log, initialRetryMs: 60_000 });
  const clock = new FakeClock();
  const source = options.source ?? 'kubernetes';
  let problem: string | undefined;
  const lb: ServicesReadinessSource = {
    source,
    reconciler,
    sourceProblem: () => problem,
    firstStateGate: new ServiceSyncGate({
      lb: source === 'none' ? undefined : reconciler,
      waitMs: options.waitMs ?? 10_000,
      clock,
      log,
    }),
  };
  return {
    lb,
    maps,
    reconciler,
    clock,
    setProblem: (text: string | undefined) => (problem = text),
  };
}

describe('servicesPendingReason', () => {
  test('pending until the source has delivered and the reconciler has written it; the reason says what pod ADDs do meanwhile', async () => {
    const { lb, reconciler, clock, setProblem } = serviceLb();
    expect(servicesPendingReason(lb)).toBe(
      "the Service LB's source (Kubernetes API) has not delivered a complete state yet; " +
        'pod ADDs wait for it, at most 10.0 s more (--lb-sync-wait)',
    );
    setProblem('services informer failing, retrying with backoff: 500 Internal Server Error');
    await clock.advance(2_500);
    expect(servicesPendingReason(lb)).toBe(
      "the Service LB's source (Kubernetes API) has not delivered a complete state yet; " +
        'services informer failing, retrying with backoff: 500 Internal Server Error; ' +
        'pod ADDs wait for it, at most 7.5 s more (--lb-sync-wait)',
    );
    await clock.advance(7_500);
    expect(servicesPendingReason(lb)).toMatch(
      /; pod ADDs no longer wait for it \(--lb-sync-wait passed\)$/,
    );

    setProblem(undefined);
    reconciler.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.21'))]);
    reconciler.markSynced();
    // Delivered, not yet written: the pass runs on the next turn.
    expect(servicesPendingReason(lb)).toBe(
      "the Service LB's first complete state is not in its maps yet; " +
        'pod ADDs no longer wait for it (--lb-sync-wait passed)',
    );
    await reconciler.whenIdle();
    expect(servicesPendingReason(lb)).toBeUndefined();
  });

  test('a failed write of that state is named until a retry succeeds', async () => {
    const { lb, maps, reconciler } = serviceLb({ source: 'file' });
    const realUpdate = maps.frontend.updateBatch.bind(maps.frontend);
    maps.frontend.updateBatch = () => {
      throw new Error('injected: ENOMEM');
    };
    reconciler.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.21'))]);
    reconciler.markSynced();
    await new Promise((resolve) => setImmediate(resolve));
    await flushMicrotasks();
    expect(reconciler.failure).toBeDefined();
    expect(servicesPendingReason(lb)).toMatch(
      /^the Service LB's first complete state is not in its maps yet; writing it failed: .*ENOMEM.*; pod ADDs wait for it, at most 10\.0 s more \(--lb-sync-wait\)$/,
    );
    maps.frontend.updateBatch = realUpdate;
    reconciler.stop();
  });

  test('nothing is pending without a Service LB or without a source, whatever the maps hold', () => {
    expect(servicesPendingReason(undefined)).toBeUndefined();
    const { lb } = serviceLb({ source: 'none' });
    expect(lb.reconciler.hasProgrammedFirstState).toBe(false);
    expect(servicesPendingReason(lb)).toBeUndefined();
  });

  test('--lb-sync-wait 0: pending all the same, and said that ADDs do not wait', () => {
    const { lb } = serviceLb({ source: 'file', waitMs: 0 });
    expect(servicesPendingReason(lb)).toBe(
      "the Service LB's source (services file) has not delivered a complete state yet; " +
        'pod ADDs do not wait for it (--lb-sync-wait 0)',
    );
  });
});
