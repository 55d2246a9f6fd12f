/**
 * The README's reference tables against the code they describe: an error code or a metric added
 * without a line in the README fails here, and so does a line left behind by one removed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, test } from '@jest/globals';
import { Registry } from 'prom-client';

import { ERROR_CODES } from '../../src/errors/terway-error.js';
import { createCloudMetrics } from '../../src/observe/cloud-metrics.js';
import { registerCniMetrics } from '../../src/observe/cni-metrics.js';
import { registerConntrackMetrics, registerLbMetrics } from '../../src/observe/lb-metrics.js';
import { registerPoolMetrics } from '../../src/observe/pool-metrics.js';
import {
  registerInformerMetrics,
  registerServicesFileMetrics,
} from '../../src/observe/source-metrics.js';
import { REPO_ROOT } from '../support/bins.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The first column of the table under `heading`, backticks stripped. */
function firstColumn(heading: string): string[] {
  const start = README.indexOf(`\n${heading}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const rows: string[] = [];
  let inTable = false;
  for (const line of README.slice(start + heading.length + 2).split('\n')) {
    if (line.startsWith('|')) {
      inTable = true;
      const cell = line.split('|')[1]!.trim();
      if (/^`[^`]+`$/.test(cell)) rows.push(cell.slice(1, -1));
    } else if (inTable) {
      break;
    }
  }
  return rows;
}

describe('README reference tables', () => {
  test('Error codes lists every code terwayd reports, and only those', () => {
    expect(firstColumn('#### Error codes').sort()).toEqual([...ERROR_CODES].sort());
  });

  test('Metrics lists every series terwayd registers, and only those', async () => {
    const registry = new Registry();
    createCloudMetrics(registry);
    registerCniMetrics(registry);
    registerPoolMetrics(registry, {
      snapshot: () => ({
        enis: [],
        pool: {
          idle: 0,
          inUse: 0,
          creating: 0,
          releasing: 0,
          invalid: 0,
          waiting: 0,
          minPoolSize: 0,
          maxPoolSize: 0,
          limits: { capacity: 0 },
          lastError: undefined,
        },
      }),
      canAllocate: () => true,
    });
    registerLbMetrics(registry, {
      intent: { desired: new Map(), blocked: new Map() },
      programmedFrontends: 0,
      programmedBackends: 0,
      parkedFrontendIds: 0,
      isSynced: false,
      passes: 0,
      failedPasses: 0,
      nodeFlowTotals: () => ({
        balanced: 0n,
        refused: 0n,
        clashed: 0n,
        moved: 0n,
        movedDirect: 0n,
        reused: 0n,
      }),
    });
    registerConntrackMetrics(registry, 262_144);
    registerInformerMetrics(registry, { status: () => ({ informers: [] }) });
    registerServicesFileMetrics(registry, { currentError: () => undefined });
    const registered = (await registry.getMetricsAsJSON()).map((metric) => metric.name).sort();
    const documented = firstColumn('## Metrics').filter((name) => name.startsWith('terway_'));
    expect(documented.sort()).toEqual(registered);
  });
});
