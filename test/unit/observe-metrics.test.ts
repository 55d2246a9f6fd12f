import { createServer, request, type Agent } from 'node:http';
import { Agent as HttpAgent } from 'node:http';

import { afterEach, describe, expect, test } from '@jest/globals';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import pino from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';

import { BPF_ANY, type BpfUpdateFlags } from '../../src/dataplane/bpf/bpf-maps.js';
import { unary } from '../../src/daemon/unary-handler.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { ARRAY_INDEX, NODE_COUNTERS } from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { registerCniMetrics } from '../../src/observe/cni-metrics.js';
import { registerLbMetrics, type LbReadout } from '../../src/observe/lb-metrics.js';
import { serveMetrics, type MetricsServer } from '../../src/observe/metrics-server.js';
import { registerPoolMetrics, type PoolReadout } from '../../src/observe/pool-metrics.js';
import {
  registerInformerMetrics,
  registerServicesFileMetrics,
} from '../../src/observe/source-metrics.js';
import type { PoolSnapshot } from '../../src/pool/pool-snapshot.js';
import { backends, frontend } from '../support/desired-frontends.js';
import { metricValue as valueOf } from '../support/metric-value.js';

const log = pino({ level: 'silent' });

const reconcilers: LbReconciler[] = [];
const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const each of reconcilers.splice(0)) each.stop();
  for (const each of servers.splice(0)) await each.close();
});

/** A reconciler on `maps` whose passes and figures feed the LB metrics of a fresh registry. */
function meteredReconciler(
  maps = memoryLbMaps(),
  retry: { initialRetryMs?: number; maxRetryMs?: number } = {},
) {
  const registry = new Registry();
  const lb = new LbReconciler({ maps, logger: log, ...retry });
  reconcilers.push(lb);
  lb.onPass = registerLbMetrics(registry, lb);
  return { registry, maps, lb };
}

/** terway_lb_moved_client_ports_total's series for one kind of connection. */
function movedPorts(registry: Registry, connection: 'service' | 'direct') {
  return valueOf(registry, 'terway_lb_moved_client_ports_total', { connection });
}

describe('LB metrics', () => {
  test('frontends by state, backends, sync, passes and writes follow the reconciler', async () => {
    const { registry, lb } = meteredReconciler();
    expect(await valueOf(registry, 'terway_lb_synced')).toBe(0);

    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    lb.replaceService('default/empty', [
      frontend('10.96.0.11', [], {
        service: { namespace: 'default', name: 'empty', portName: '' },
      }),
    ]);
    lb.markSynced();
    await lb.whenIdle();

    expect(await valueOf(registry, 'terway_lb_frontends', { state: 'desired' })).toBe(2);
    expect(await valueOf(registry, 'terway_lb_frontends', { state: 'programmed' })).toBe(2);
    expect(await valueOf(registry, 'terway_lb_frontends', { state: 'blocked' })).toBe(0);
    expect(await valueOf(registry, 'terway_lb_frontends', { state: 'no_ready_backend' })).toBe(1);
    expect(await valueOf(registry, 'terway_lb_backends')).toBe(2);
    expect(await valueOf(registry, 'terway_lb_synced')).toBe(1);
    const passes = await valueOf(registry, 'terway_lb_reconcile_passes_total', { result: 'ok' });
    expect(passes).toBeGreaterThanOrEqual(1);
    expect(await valueOf(registry, 'terway_lb_reconcile_passes_total', { result: 'failed' })).toBe(
      0,
    );
    expect(await valueOf(registry, 'terway_lb_reconcile_duration_seconds_count')).toBe(passes);
    expect(
      await valueOf(registry, 'terway_lb_map_writes_total', { kind: 'frontend_written' }),
    ).toBe(2);
    expect(await valueOf(registry, 'terway_lb_map_writes_total', { kind: 'backend_written' })).toBe(
      2,
    );
    expect(await valueOf(registry, 'terway_lb_map_writes_total', { kind: 'slot_written' })).toBe(2);

    lb.deleteService('default/web');
    await lb.whenIdle();
    expect(await valueOf(registry, 'terway_lb_frontends', { state: 'programmed' })).toBe(1);
    expect(await valueOf(registry, 'terway_lb_backends')).toBe(0);
    expect(
      await valueOf(registry, 'terway_lb_map_writes_total', { kind: 'frontend_deleted' }),
    ).toBe(1);
    expect(await valueOf(registry, 'terway_lb_map_writes_total', { kind: 'backend_deleted' })).toBe(
      2,
    );
  });

  test('failed passes are counted apart from the ones that wrote', async () => {
    const maps = memoryLbMaps();
    const realUpdate = maps.frontend.updateBatch.bind(maps.frontend);
    let failures = 2;
    maps.frontend.updateBatch = (keys: Buffer, values: Buffer, count, flags?: BpfUpdateFlags) => {
      if (failures-- > 0) throw new Error('injected: EAGAIN');
      return realUpdate(keys, values, count, flags ?? BPF_ANY);
    };
    const { registry, lb } = meteredReconciler(maps, { initialRetryMs: 5, maxRetryMs: 10 });
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2'))]);
    await lb.whenIdle();
    expect(await valueOf(registry, 'terway_lb_reconcile_passes_total', { result: 'failed' })).toBe(
      2,
    );
    expect(await valueOf(registry, 'terway_lb_reconcile_passes_total', { result: 'ok' })).toBe(1);
    expect(await valueOf(registry, 'terway_lb_reconcile_duration_seconds_count')).toBe(1);
  });

  test('blocked frontends are reported as the reconciler holds them', async () => {
    const registry = new Registry();
    const code = 1;
    const readout: LbReadout = {
      intent: {
        desired: new Map([[code, frontend('10.96.0.10', backends('10.0.0.2'))]]),
        blocked: new Map([[code, 'the slot array has no free block']]),
      },
      programmedFrontends: 0,
      programmedBackends: 0,
      parkedFrontendIds: 2,
      isSynced: true,
      passes: 3,
      failedPasses: 0,
      nodeFlowTotals: () => ({
        balanced: 7n,
        refused: 2n,
        clashed: 1n,
        moved: 4n,
        movedDirect: 6n,
        reused: 5n,
      }),
    };
    registerLbMetrics(registry, readout);
    expect(await valueOf(registry, 'terway_lb_frontends', { state: 'blocked' })).toBe(1);
    expect(await valueOf(registry, 'terway_lb_parked_frontend_ids')).toBe(2);
    expect(await valueOf(registry, 'terway_lb_frontends', { state: 'programmed' })).toBe(0);
    expect(await valueOf(registry, 'terway_lb_reconcile_passes_total', { result: 'ok' })).toBe(3);
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'balanced' })).toBe(7);
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'refused' })).toBe(2);
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'clashed' })).toBe(1);
    expect(await movedPorts(registry, 'service')).toBe(4);
    expect(await movedPorts(registry, 'direct')).toBe(6);
    expect(await valueOf(registry, 'terway_lb_reused_flow_entries_total')).toBe(5);
  });

  test("new flows are the datapath's node totals; a scrape while the maps are closed keeps the last", async () => {
    const { registry, maps } = meteredReconciler();
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'balanced' })).toBe(0);
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'refused' })).toBe(0);

    // What the programs write: the one entry of tw_node_stat (one CPU's slot, in memory).
    maps.nodeStats.updateBatch(
      encode(ARRAY_INDEX, { index: 0 }),
      encode(NODE_COUNTERS, {
        flows: 41n,
        rejected: 3n,
        clashes: 2n,
        moved: 5n,
        movedDirect: 8n,
        reused: 30n,
      }),
      1,
    );
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'balanced' })).toBe(41);
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'refused' })).toBe(3);
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'clashed' })).toBe(2);
    expect(await movedPorts(registry, 'service')).toBe(5);
    expect(await movedPorts(registry, 'direct')).toBe(8);
    expect(await valueOf(registry, 'terway_lb_reused_flow_entries_total')).toBe(30);

    maps.nodeStats.close();
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'balanced' })).toBe(41);
    expect(await movedPorts(registry, 'service')).toBe(5);
    expect(await movedPorts(registry, 'direct')).toBe(8);
    expect(await valueOf(registry, 'terway_lb_new_flows_total', { outcome: 'refused' })).toBe(3);
  });
});

describe('Service source metrics', () => {
  test('each informer: listed, failing since its last event, restarts and lists', async () => {
    const registry = new Registry();
    const informers = [
      { resource: 'services', listed: true, lists: 1, restarts: 0, failing: false, lastError: '' },
      {
        resource: 'endpointslices',
        listed: false,
        lists: 3,
        restarts: 2,
        failing: true,
        lastError: '',
      },
    ];
    registerInformerMetrics(registry, { status: () => ({ informers }) });
    const metric = (name: string, resource: string) => valueOf(registry, name, { resource });
    expect(await metric('terway_k8s_informer_listed', 'services')).toBe(1);
    expect(await metric('terway_k8s_informer_listed', 'endpointslices')).toBe(0);
    expect(await metric('terway_k8s_informer_failing', 'services')).toBe(0);
    expect(await metric('terway_k8s_informer_failing', 'endpointslices')).toBe(1);
    expect(await metric('terway_k8s_informer_restarts_total', 'endpointslices')).toBe(2);
    expect(await metric('terway_k8s_informer_lists_total', 'endpointslices')).toBe(3);
    // Read again at the next scrape, not added up.
    informers[1] = { ...informers[1]!, listed: true, lists: 4, failing: false };
    expect(await metric('terway_k8s_informer_lists_total', 'endpointslices')).toBe(4);
    expect(await metric('terway_k8s_informer_restarts_total', 'endpointslices')).toBe(2);
    expect(await metric('terway_k8s_informer_failing', 'endpointslices')).toBe(0);
  });

  test('the services file: rejected while its content is not in effect', async () => {
    const registry = new Registry();
    let error: string | undefined = 'document 2 of 2: kind Deployment';
    registerServicesFileMetrics(registry, { currentError: () => error });
    expect(await valueOf(registry, 'terway_services_file_rejected')).toBe(1);
    error = undefined;
    expect(await valueOf(registry, 'terway_services_file_rejected')).toBe(0);
  });
});

describe('pool metrics', () => {
  function poolOf(snapshot: PoolSnapshot, canAllocate: boolean): PoolReadout {
    return { snapshot: () => snapshot, canAllocate: () => canAllocate };
  }
  const eni = (id: string, state: 'in_use' | 'creating' | 'missing') => ({
    id,
    mac: '',
    state,
    primaryIp: '',
    vswitchId: '',
    vswitchCidr: '',
    gateway: '',
    pendingIps: 0,
    ips: [],
  });
  const figures = {
    idle: 3,
    inUse: 7,
    creating: 2,
    releasing: 1,
    invalid: 0,
    waiting: 4,
    minPoolSize: 2,
    maxPoolSize: 10,
    limits: { instanceType: 'ecs.g7.large', maxEnis: 2, ipsPerEni: 10, capacity: 20 },
    lastError: 'create an ENI failed: CLOUD_ERROR: throttled',
  };

  test('every state is reported, zeros included, from one snapshot of the pool', async () => {
    const registry = new Registry();
    const snapshot: PoolSnapshot = {
      enis: [eni('eni-1', 'in_use'), eni('eni-2', 'in_use'), eni('', 'creating')],
      pool: figures,
    };
    registerPoolMetrics(registry, poolOf(snapshot, false));
    const ips = async (state: string) => valueOf(registry, 'terway_pool_ips', { state });
    expect([
      await ips('idle'),
      await ips('in_use'),
      await ips('releasing'),
      await ips('invalid'),
      await ips('creating'),
    ]).toEqual([3, 7, 1, 0, 2]);
    const enis = async (state: string) => valueOf(registry, 'terway_pool_enis', { state });
    expect([
      await enis('in_use'),
      await enis('creating'),
      await enis('deleting'),
      await enis('missing'),
    ]).toEqual([2, 1, 0, 0]);
    expect(await valueOf(registry, 'terway_pool_waiting_allocations')).toBe(4);
    expect(await valueOf(registry, 'terway_pool_ip_capacity')).toBe(20);
    expect(await valueOf(registry, 'terway_pool_idle_bounds', { bound: 'min' })).toBe(2);
    expect(await valueOf(registry, 'terway_pool_idle_bounds', { bound: 'max' })).toBe(10);
    expect(await valueOf(registry, 'terway_pool_can_allocate')).toBe(0);
    expect(await valueOf(registry, 'terway_pool_grow_failing')).toBe(1);
  });

  test('a healthy pool reads as such', async () => {
    const registry = new Registry();
    registerPoolMetrics(
      registry,
      poolOf({ enis: [eni('eni-1', 'missing')], pool: { ...figures, lastError: undefined } }, true),
    );
    expect(await valueOf(registry, 'terway_pool_can_allocate')).toBe(1);
    expect(await valueOf(registry, 'terway_pool_grow_failing')).toBe(0);
    expect(await valueOf(registry, 'terway_pool_enis', { state: 'missing' })).toBe(1);
  });
});

describe('CNI call metrics', () => {
  function call<Req>(
    handler: (
      call: ServerUnaryCall<Req, string>,
      cb: (error: unknown, reply: unknown) => void,
    ) => void,
    request: Req,
  ): Promise<unknown> {
    return new Promise((resolve) => {
      handler({ request } as ServerUnaryCall<Req, string>, (error, reply) =>
        resolve(error ?? reply),
      );
    });
  }

  test('each call is counted by method and outcome, and timed', async () => {
    const registry = new Registry();
    const observe = registerCniMetrics(registry);
    const allocate = unary<string, string>(
      'AllocateIP',
      log,
      async (request) => {
        if (request === 'empty') {
          throw new TerwayError('POOL_EXHAUSTED', 'no idle IP before the deadline');
        }
        await new Promise((resolve) => setTimeout(resolve, 30));
        return 'ok';
      },
      observe,
    );
    expect(await call(allocate, 'pod')).toBe('ok');
    expect(await call(allocate, 'pod')).toBe('ok');
    expect(await call(allocate, 'empty')).toMatchObject({ details: expect.any(String) });

    const requests = (outcome: string) =>
      valueOf(registry, 'terway_cni_requests_total', { method: 'AllocateIP', outcome });
    expect(await requests('OK')).toBe(2);
    expect(await requests('POOL_EXHAUSTED')).toBe(1);
    expect(
      await valueOf(registry, 'terway_cni_request_duration_seconds_count', {
        method: 'AllocateIP',
      }),
    ).toBe(3);
    // The two successful calls each slept 30 ms: the sum is measured, not assumed.
    expect(
      await valueOf(registry, 'terway_cni_request_duration_seconds_sum', { method: 'AllocateIP' }),
    ).toBeGreaterThanOrEqual(0.055);
  });
});

describe('the metrics endpoint', () => {
  async function serve(registry: Registry): Promise<MetricsServer> {
    const server = await serveMetrics({ address: { host: '127.0.0.1', port: 0 }, registry, log });
    servers.push(server);
    return server;
  }

  function fetchText(
    url: string,
    method = 'GET',
    agent?: Agent,
  ): Promise<{ status: number; type: string; body: string }> {
    return new Promise((resolve, reject) => {
      const sent = request(url, { method, agent }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            type: String(response.headers['content-type']),
            body,
          }),
        );
      });
      sent.on('error', reject);
      sent.end();
    });
  }

  test('GET /metrics answers the registry in the exposition format; nothing else is served', async () => {
    const registry = new Registry();
    new Gauge({ name: 'probe_value', help: 'a test gauge', registers: [registry] }).set(42);
    const server = await serve(registry);
    expect(server.url).toBe(`http://127.0.0.1:${server.address.port}/metrics`);
    expect(server.address.port).toBeGreaterThan(0);

    const got = await fetchText(server.url);
    expect(got.status).toBe(200);
    expect(got.type).toBe(registry.contentType);
    expect(got.body).toContain('# HELP probe_value a test gauge');
    expect(got.body).toContain('probe_value 42');
    expect(await fetchText(`${server.url}?debug=1`)).toMatchObject({ status: 200 });

    expect(await fetchText(server.url, 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(await fetchText(server.url.replace('/metrics', '/'))).toMatchObject({ status: 404 });
    expect(await fetchText(server.url.replace('/metrics', '/metricsx'))).toMatchObject({
      status: 404,
    });
    expect(await fetchText(server.url, 'POST')).toMatchObject({
      status: 405,
      body: expect.stringContaining('read-only'),
    });
  });

  test('a collector that throws costs that scrape a 500, not the server', async () => {
    const registry = new Registry();
    let broken = true;
    new Counter({
      name: 'flaky_total',
      help: 'throws while broken',
      registers: [registry],
      collect() {
        if (broken) throw new Error('injected: the source is gone');
      },
    });
    const server = await serve(registry);
    const failed = await fetchText(server.url);
    expect(failed.status).toBe(500);
    expect(failed.body).toContain('injected: the source is gone');
    broken = false;
    expect(await fetchText(server.url)).toMatchObject({ status: 200 });
  });

  test('a port in use is ALREADY_RUNNING; an address not on this host is INVALID_CONFIG', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      await expect(
        serveMetrics({ address: { host: '127.0.0.1', port }, registry: new Registry(), log }),
      ).rejects.toMatchObject({
        code: 'ALREADY_RUNNING',
        message: expect.stringContaining(`127.0.0.1:${port} is in use`),
      });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    // TEST-NET-1: never an address of this host, and nothing is sent to it (only bind is tried).
    await expect(
      serveMetrics({ address: { host: '192.0.2.1', port: 0 }, registry: new Registry(), log }),
    ).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('no such address on this host'),
    });
  });

  test('close() does not wait for a scrape that is still collecting', async () => {
    const registry = new Registry();
    let release: () => void = () => {};
    const stuck = new Promise<void>((resolve) => (release = resolve));
    new Gauge({
      name: 'slow_value',
      help: 'collects until released',
      registers: [registry],
      async collect() {
        await stuck;
      },
    });
    const server = await serveMetrics({ address: { host: '127.0.0.1', port: 0 }, registry, log });
    const agent = new HttpAgent({ keepAlive: true });
    try {
      const scrape = fetchText(server.url, 'GET', agent).catch((error: Error) => error);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(1_000);
      // Cut off, not answered: the scraper sees the connection go.
      expect(String(await scrape)).toMatch(/socket hang up|ECONNRESET/);
    } finally {
      release();
      agent.destroy();
    }
  });
});
