import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import type { DesiredFrontend } from '../../src/lb/desired-frontend.js';
import {
  frontendFilter,
  frontendViews,
  inspectFrontends,
  parseAddressFilter,
  type LbIntent,
} from '../../src/lb/lb-inspection.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { ARRAY_INDEX, COUNTERS } from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { frontendCodeOf } from '../../src/lb/programmed-state.js';
import { ipToInt } from '../../src/util/ipv4.js';
import { backends, frontend } from '../support/desired-frontends.js';

const log = pino({ level: 'silent' });

/** The program's atomic adds, as a test can make them: one counter entry written whole. */
function count(
  map: ReturnType<typeof memoryLbMaps>['frontendStats'],
  id: number,
  counters: { packets: bigint; bytes: bigint; flows: bigint; rejected: bigint },
): void {
  map.updateBatch(encode(ARRAY_INDEX, { index: id }), encode(COUNTERS, counters), 1);
}

async function programmed(services: Record<string, DesiredFrontend[]>) {
  const maps = memoryLbMaps();
  const reconciler = new LbReconciler({ maps, logger: log });
  for (const [service, frontends] of Object.entries(services)) {
    reconciler.replaceService(service, frontends);
  }
  reconciler.markSynced();
  await reconciler.whenIdle();
  return { maps, reconciler };
}

describe('the load balancer as an operator inspects it', () => {
  test('each frontend the maps hold, with its Service, its backends in slot order and the counters', async () => {
    const { maps, reconciler } = await programmed({
      'default/web': [
        frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'), { affinityTimeoutSeconds: 60 }),
      ],
      'default/dns': [
        frontend('10.96.0.53', backends('10.0.0.9'), {
          address: { ip: '10.96.0.53', port: 53, protocol: 'UDP' },
          service: { namespace: 'default', name: 'dns', portName: 'dns' },
          external: true,
        }),
      ],
    });
    const [web, dns] = inspectFrontends(maps, reconciler.intent);
    count(maps.frontendStats, web!.id, { packets: 7n, bytes: 700n, flows: 2n, rejected: 1n });
    count(maps.backendStats, web!.backends[1]!.id, {
      packets: 3n,
      bytes: 300n,
      flows: 1n,
      rejected: 0n,
    });

    const views = inspectFrontends(maps, reconciler.intent);
    expect(views.map((view) => view.frontend)).toEqual([
      { ip: '10.96.0.10', port: 80, protocol: 'TCP' },
      { ip: '10.96.0.53', port: 53, protocol: 'UDP' },
    ]);
    const [webNow, dnsNow] = views;
    expect(webNow).toMatchObject({
      id: web!.id,
      affinityTimeoutSeconds: 60,
      external: false,
      desired: { service: { namespace: 'default', name: 'web', portName: 'http' } },
      blocked: undefined,
      pending: false,
      counters: { packets: 7n, bytes: 700n, flows: 2n, rejected: 1n },
    });
    expect(webNow!.backends.map((backend) => [backend.ip, backend.port, backend.state])).toEqual([
      ['10.0.0.2', 8080, 'ready'],
      ['10.0.0.3', 8080, 'ready'],
    ]);
    expect(webNow!.backends[1]!.counters).toEqual({
      packets: 3n,
      bytes: 300n,
      flows: 1n,
      rejected: 0n,
    });
    expect(webNow!.backends[0]!.counters).toEqual({
      packets: 0n,
      bytes: 0n,
      flows: 0n,
      rejected: 0n,
    });
    expect(dnsNow).toMatchObject({ external: true, id: dns!.id, pending: false });
  });

  test('a draining backend is listed after the ready ones, with the id and counters it still has', async () => {
    const { maps, reconciler } = await programmed({
      'default/web': [
        frontend('10.96.0.10', backends('10.0.0.2'), { draining: backends('10.0.0.3') }),
      ],
    });
    const [view] = inspectFrontends(maps, reconciler.intent);
    const [ready, draining] = view!.backends;
    expect([ready!.ip, ready!.state]).toEqual(['10.0.0.2', 'ready']);
    expect([draining!.ip, draining!.port, draining!.state]).toEqual(['10.0.0.3', 8080, 'draining']);
    expect(draining!.id).toBeGreaterThan(0);
    expect(draining!.id).not.toBe(ready!.id);
    count(maps.backendStats, draining!.id, { packets: 4n, bytes: 9n, flows: 1n, rejected: 0n });
    expect(inspectFrontends(maps, reconciler.intent)[0]!.backends[1]!.counters?.packets).toBe(4n);
  });

  test('a ready backend topology hints leave out is told apart from a not-ready one', async () => {
    const { maps, reconciler } = await programmed({
      'default/web': [
        frontend('10.96.0.10', backends('10.0.0.2'), {
          draining: backends('10.0.0.3', '10.0.0.4'),
          topology: 'zone',
          hintedAway: backends('10.0.0.4'),
        }),
        frontend('10.96.0.11', backends('10.0.0.2'), {
          draining: backends('10.0.0.4'),
          topology: 'node',
          hintedAway: backends('10.0.0.4'),
        }),
      ],
    });
    const states = inspectFrontends(maps, reconciler.intent).map((view) =>
      view.backends.map((backend) => `${backend.ip} ${backend.state}`),
    );
    expect(states).toEqual([
      ['10.0.0.2 ready', '10.0.0.3 draining', '10.0.0.4 other zone'],
      ['10.0.0.2 ready', '10.0.0.4 other node'],
    ]);
  });

  test('what the maps and the desired state disagree on is shown as such', async () => {
    const { maps, reconciler } = await programmed({
      'default/web': [frontend('10.96.0.10', backends('10.0.0.2'))],
      'default/old': [
        frontend('10.96.0.20', backends('10.0.0.4'), {
          service: { namespace: 'default', name: 'old', portName: '' },
        }),
      ],
    });
    const blockedAddress = frontend('10.96.0.30', backends('10.0.0.5'), {
      service: { namespace: 'default', name: 'big', portName: '' },
    });
    const unwritten = frontend('10.96.0.40', backends('10.0.0.6'), {
      service: { namespace: 'default', name: 'new', portName: '' },
    });
    // The desired state moved on: web gained a backend, old is gone, two are not in the maps.
    const moved = frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.7'));
    const intent: LbIntent = {
      desired: new Map([
        [frontendCodeOf(moved.address), moved],
        [frontendCodeOf(blockedAddress.address), blockedAddress],
        [frontendCodeOf(unwritten.address), unwritten],
      ]),
      blocked: new Map([[frontendCodeOf(blockedAddress.address), 'no frontend id is free']]),
    };
    const views = inspectFrontends(maps, intent);
    expect(
      views.map((view) => [view.frontend.ip, view.id > 0, view.pending, view.blocked ?? '']),
    ).toEqual([
      ['10.96.0.10', true, true, ''],
      ['10.96.0.20', true, false, ''],
      ['10.96.0.30', false, false, 'no frontend id is free'],
      ['10.96.0.40', false, true, ''],
    ]);
    expect(views[1]!.desired).toBeUndefined();
    expect(views[1]!.backends.map((backend) => backend.ip)).toEqual(['10.0.0.4']);
    expect(views[2]!.backends).toEqual([]);
    expect(views[2]!.counters).toBeUndefined();
    expect(reconciler.programmedFrontends).toBe(2);
  });

  test('read one frontend at a time while the reconciler writes: each is read as it is when reached', async () => {
    const own = (name: string): Partial<DesiredFrontend> => ({
      service: { namespace: 'default', name, portName: '' },
    });
    const { maps, reconciler } = await programmed({
      'default/a': [frontend('10.96.0.1', backends('10.0.0.1'), own('a'))],
      'default/b': [frontend('10.96.0.2', backends('10.0.0.2'), own('b'))],
      'default/c': [frontend('10.96.0.3', backends('10.0.0.3'), own('c'))],
    });
    const views = frontendViews(maps, reconciler.intent);
    expect(views.next().value?.frontend.ip).toBe('10.96.0.1');
    // Meanwhile b outgrows its slot block and moves, and c goes.
    const grown = backends('10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5');
    reconciler.replaceService('default/b', [frontend('10.96.0.2', grown, own('b'))]);
    reconciler.deleteService('default/c');
    await reconciler.whenIdle();
    const rest = [...views].filter((view) => view !== undefined);
    expect(rest.map((view) => [view.frontend.ip, view.backends.map((b) => b.ip)])).toEqual([
      ['10.96.0.2', ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5']],
    ]);
  });

  test('a filter keeps one Service, one address, or one address and port', async () => {
    const { maps, reconciler } = await programmed({
      'default/web': [
        frontend('10.96.0.10', backends('10.0.0.2')),
        frontend('10.96.0.10', backends('10.0.0.2'), {
          address: { ip: '10.96.0.10', port: 443, protocol: 'TCP' },
        }),
      ],
      'kube-system/dns': [
        frontend('10.96.0.53', backends('10.0.0.9'), {
          address: { ip: '10.96.0.53', port: 53, protocol: 'UDP' },
          service: { namespace: 'kube-system', name: 'dns', portName: '' },
        }),
      ],
    });
    const shown = (filter: string): string[] =>
      inspectFrontends(maps, reconciler.intent, frontendFilter(filter)).map(
        (view) => `${view.frontend.ip}:${view.frontend.port}`,
      );
    expect(shown('')).toEqual(['10.96.0.10:80', '10.96.0.10:443', '10.96.0.53:53']);
    expect(shown('kube-system/dns')).toEqual(['10.96.0.53:53']);
    expect(shown('default/web')).toEqual(['10.96.0.10:80', '10.96.0.10:443']);
    expect(shown('10.96.0.10')).toEqual(['10.96.0.10:80', '10.96.0.10:443']);
    expect(shown('10.96.0.10:443')).toEqual(['10.96.0.10:443']);
    expect(shown('default/nothing')).toEqual([]);
  });

  test('a filter that is neither a Service nor an address is refused, naming what was typed', () => {
    expect(() => frontendFilter('web')).toThrow(/not a Service \(namespace\/name\).*"web"/);
    expect(() => frontendFilter('10.96.0.10:http')).toThrow(/not a port: "http"/);
    expect(() => frontendFilter('10.96.0.10:70000')).toThrow(/not a port: "70000"/);
    expect(() => frontendFilter('Default/Web')).toThrow(/not a Service/);
    expect(parseAddressFilter('10.96.0.010')).toBeUndefined();
    expect(parseAddressFilter('10.96.0.10')).toEqual({
      ip: '10.96.0.10',
      addr: ipToInt('10.96.0.10'),
      port: undefined,
    });
  });
});
