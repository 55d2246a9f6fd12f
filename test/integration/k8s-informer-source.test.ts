/**
 * The cluster-mode Service source with client-node's real informers against the in-repo test
 * apiserver (real list/watch HTTP protocol on loopback).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { Registry } from 'prom-client';

import { TerwayError } from '../../src/errors/terway-error.js';
import { loadKubeConfig } from '../../src/k8s/informer-source.js';
import type { InformerSourceOptions, InformerSource } from '../../src/k8s/informer-source.js';
import { SERVICE_NAME_LABEL } from '../../src/k8s/service-translation.js';
import { ipToInt } from '../../src/util/ipv4.js';
import { registerInformerMetrics } from '../../src/observe/source-metrics.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import type { K8sObject, RecordedRequest } from '../../src/k8s/test-apiserver.js';
import { TestApiServer } from '../../src/k8s/test-apiserver.js';
import { startInformerSource, type LogLine } from '../support/informer-harness.js';
import { metricValue } from '../support/metric-value.js';
import type { RecordingSink } from '../support/recording-sink.js';
import { waitFor } from '../support/recording-sink.js';

const TEST_TIMEOUT_MS = 20_000;
const tmp = mkdtempSync(join(tmpdir(), 'terway-informer-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Harness {
  server: TestApiServer;
  source: InformerSource;
  sink: RecordingSink;
  logs: LogLine[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(options: { bookmarkIntervalMs?: number } = {}): Promise<TestApiServer> {
  const server = await TestApiServer.start(options);
  cleanups.push(() => server.close());
  return server;
}

function startSource(
  server: TestApiServer,
  options: Partial<InformerSourceOptions> = {},
): Omit<Harness, 'server'> {
  return startInformerSource({ kubeConfig: server.kubeConfig(), ...options }, cleanups);
}

async function syncedHarness(
  seed: (server: TestApiServer) => void = () => {},
  serverOptions: { bookmarkIntervalMs?: number } = {},
): Promise<Harness> {
  const server = await startServer(serverOptions);
  seed(server);
  const harness = { server, ...startSource(server) };
  await harness.source.whenSynced();
  // Synced means both lists are applied; the watches from their resourceVersions open right after.
  await waitFor('both watches open', () => server.openWatches() === 2);
  return harness;
}

function service(name: string, clusterIP: string, namespace = 'default'): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [
        { name: 'http', port: 80, protocol: 'TCP', targetPort: 'web' },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
      ],
    },
  };
}

interface EndpointSpec {
  ip: string;
  ready?: boolean;
  terminating?: boolean;
  nodeName?: string;
  /** `hints.forZones` names. */
  zones?: string[];
  /** `targetRef`: a pod of the slice's namespace. */
  pod?: string;
}

function slice(
  name: string,
  serviceName: string,
  endpoints: (string | EndpointSpec)[],
  options: { namespace?: string; httpPort?: number } = {},
): K8sObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: options.namespace ?? 'default',
      labels: { [SERVICE_NAME_LABEL]: serviceName },
    },
    addressType: 'IPv4',
    ports: [
      { name: 'http', port: options.httpPort ?? 8080, protocol: 'TCP' },
      { name: 'dns', port: 5353, protocol: 'UDP' },
    ],
    endpoints: endpoints.map((entry) => {
      const spec = typeof entry === 'string' ? { ip: entry } : entry;
      return {
        addresses: [spec.ip],
        ...(spec.nodeName === undefined ? {} : { nodeName: spec.nodeName }),
        ...(spec.pod === undefined ? {} : { targetRef: { kind: 'Pod', name: spec.pod } }),
        ...(spec.zones === undefined
          ? {}
          : { hints: { forZones: spec.zones.map((name) => ({ name })) } }),
        conditions: {
          ready: spec.ready ?? true,
          serving: spec.ready ?? true,
          terminating: spec.terminating ?? false,
        },
      };
    }),
  };
}

const HTTP = '10.96.0.10:80/TCP';
const isWatchOf =
  (resource: string) =>
  (request: RecordedRequest): boolean =>
    request.watch && request.path.endsWith(`/${resource}`);
const isListOf =
  (resource: string) =>
  (request: RecordedRequest): boolean =>
    !request.watch && request.path.endsWith(`/${resource}`);

describe('initial sync', () => {
  test(
    'both lists reach the sink, each Service with its backends, then markSynced',
    async () => {
      const server = await startServer();
      server.create(service('web', '10.96.0.10'));
      server.create(service('api', '10.96.0.11', 'shop'));
      server.create(slice('web-1', 'web', ['10.0.0.1', '10.0.0.2']));
      server.create(slice('api-1', 'api', ['10.0.1.1'], { namespace: 'shop' }));
      // Through a kubeconfig file, as terwayd --kubeconfig would load it.
      const kubeConfig = loadKubeConfig(server.writeKubeconfig(join(tmp, 'kubeconfig')));
      const { source, sink, logs } = startSource(server, { kubeConfig });

      expect(source.isSynced()).toBe(false);
      await source.whenSynced();
      expect(source.isSynced()).toBe(true);
      expect(sink.calls.at(-1)).toEqual({ kind: 'synced' });
      expect(sink.calls.map((call) => call.kind)).toEqual(['replace', 'replace', 'synced']);
      // No frontend was ever sent without its backends.
      expect(sink.callsFor('default/web')).toHaveLength(1);
      expect(sink.backends('default/web', HTTP)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
      expect(sink.backends('default/web', '10.96.0.10:53/UDP')).toEqual([
        '10.0.0.1:5353',
        '10.0.0.2:5353',
      ]);
      expect(sink.backends('shop/api', '10.96.0.11:80/TCP')).toEqual(['10.0.1.1:8080']);

      expect(logs).toContainEqual(
        expect.objectContaining({ mode: 'cluster', apiserver: server.url, context: 'test' }),
      );
      expect(source.status()).toMatchObject({
        synced: true,
        informers: [
          { resource: 'services', listed: true, lists: 1, restarts: 0 },
          { resource: 'endpointslices', listed: true, lists: 1, restarts: 0 },
        ],
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an empty cluster still syncs',
    async () => {
      const { sink } = await syncedHarness();
      expect(sink.calls).toEqual([{ kind: 'synced' }]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'failed initial lists are retried with backoff, logged with their reason, and sync later',
    async () => {
      const server = await startServer();
      server.create(service('web', '10.96.0.10'));
      server.failNextRequests(3, 500, isListOf('endpointslices'));
      const { source, sink, logs } = startSource(server);
      const registry = new Registry();
      registerInformerMetrics(registry, source);
      await source.whenSynced();

      expect(server.requestCounts('endpointslices').lists).toBe(4);
      // What Prometheus would read: the three restarts and four list calls, now listed and well.
      const metric = (name: string, resource: string) => metricValue(registry, name, { resource });
      expect(await metric('terway_k8s_informer_restarts_total', 'endpointslices')).toBe(3);
      expect(await metric('terway_k8s_informer_restarts_total', 'services')).toBe(0);
      expect(await metric('terway_k8s_informer_lists_total', 'endpointslices')).toBe(4);
      expect(await metric('terway_k8s_informer_listed', 'endpointslices')).toBe(1);
      expect(await metric('terway_k8s_informer_failing', 'endpointslices')).toBe(0);
      const failures = logs.filter(
        (line) => line.resource === 'endpointslices' && line.level === 40,
      );
      expect(failures.map((line) => line.attempt)).toEqual([1, 2, 3]);
      expect(failures[0]).toMatchObject({
        msg: 'endpointslices list failed; restarting the informer',
        err: expect.objectContaining({
          code: 'KUBERNETES_ERROR',
          message: expect.stringContaining(
            'endpointslices list failed: HTTP 500: injected failure 500',
          ),
        }),
      });
      // Exponential from 20 ms, less up to 20 % jitter.
      const delays = failures.map((line) => line.retryInMs as number);
      expect(delays[0]).toBeGreaterThanOrEqual(16);
      expect(delays[1]).toBeGreaterThanOrEqual(32);
      expect(delays[2]).toBeGreaterThanOrEqual(64);
      expect(sink.synced).toBe(true);
      expect(source.status().informers[1]).toMatchObject({ restarts: 3, listed: true });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('internalTrafficPolicy: Local', () => {
  test(
    "the ClusterIP gets this node's endpoints; a watch event that moves one here reprograms it, one between other nodes does not",
    async () => {
      const server = await startServer();
      const local = service('web', '10.96.0.10') as K8sObject & { spec: object };
      server.create({ ...local, spec: { ...local.spec, internalTrafficPolicy: 'Local' } });
      const onNodes = (second: string): K8sObject =>
        slice('web-1', 'web', [
          { ip: '10.0.0.1', nodeName: 'node-a' },
          { ip: '10.0.0.2', nodeName: second },
        ]);
      server.create(onNodes('node-b'));
      const { source, sink, logs } = startSource(server, {
        thisNode: { name: 'node-a', zone: 'zone-1' },
      });
      await source.whenSynced();
      expect(sink.backends('default/web', HTTP)).toEqual(['10.0.0.1:8080']);
      expect(logs).toContainEqual(
        expect.objectContaining({ mode: 'cluster', node: 'node-a', zone: 'zone-1' }),
      );

      server.update(onNodes('node-c'));
      server.update(onNodes('node-a'));
      await waitFor('10.0.0.2 on this node', () =>
        sink.backends('default/web', HTTP).includes('10.0.0.2:8080'),
      );
      expect(sink.backends('default/web', HTTP)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
      // node-b → node-c moved nothing onto or off this node: no delivery for it.
      expect(sink.callsFor('default/web')).toHaveLength(2);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('topology hints', () => {
  test(
    "the ClusterIP's new flows go to this zone's endpoints; a hint moving here reprograms it, one between other zones does not",
    async () => {
      const server = await startServer();
      server.create(service('web', '10.96.0.10'));
      const hinted = (second: string): K8sObject =>
        slice('web-1', 'web', [
          { ip: '10.0.0.1', zones: ['zone-1'] },
          { ip: '10.0.0.2', zones: [second] },
        ]);
      server.create(hinted('zone-2'));
      const { source, sink } = startSource(server, {
        thisNode: { name: 'node-a', zone: 'zone-1' },
      });
      await source.whenSynced();
      expect(sink.backends('default/web', HTTP)).toEqual(['10.0.0.1:8080']);
      expect(sink.backends('default/web', HTTP, 'draining')).toEqual(['10.0.0.2:8080']);

      server.update(hinted('zone-3'));
      server.update(hinted('zone-1'));
      await waitFor('10.0.0.2 hinted for this zone', () =>
        sink.backends('default/web', HTTP).includes('10.0.0.2:8080'),
      );
      expect(sink.backends('default/web', HTTP, 'draining')).toEqual([]);
      // zone-2 → zone-3 changed nothing this node reads: no delivery for it.
      expect(sink.callsFor('default/web')).toHaveLength(2);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('restart backoff', () => {
  test(
    'runs on the injected clock, doubles per failure, and stops at the cap',
    async () => {
      const clock = new FakeClock();
      const server = await startServer();
      server.failNextRequests(10, 500, isListOf('services'));
      const { source, logs } = startSource(server, {
        clock,
        initialBackoffMs: 1000,
        maxBackoffMs: 4000,
      });
      const failures = () =>
        logs.filter((line) => line.resource === 'services' && line.level === 40);
      await waitFor('first failure', () => failures().length === 1);
      // No real time makes it retry: only the clock does.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.requestCounts('services').lists).toBe(1);
      expect(clock.pendingTimers()).toBe(1);

      for (let attempt = 2; attempt <= 4; attempt += 1) {
        await clock.advance(failures().at(-1)?.retryInMs as number);
        await waitFor(`failure ${attempt}`, () => failures().length === attempt);
      }
      // 1 s, 2 s, 4 s, then the 4 s cap; each less up to 20 % jitter, never above the cap.
      const delays = failures().map((line) => line.retryInMs as number);
      const expected = [1000, 2000, 4000, 4000];
      delays.forEach((delay, index) => {
        expect(delay).toBeLessThanOrEqual(expected[index]!);
        expect(delay).toBeGreaterThanOrEqual(expected[index]! * 0.8);
      });
      expect(server.requestCounts('services').lists).toBe(4);
      await source.stop();
      expect(clock.pendingTimers()).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('informer metrics', () => {
  test(
    'a failed list reads as failing until a list succeeds, while the backoff keeps its count',
    async () => {
      const clock = new FakeClock();
      const server = await startServer();
      server.failNextRequests(1, 500, isListOf('services'));
      const { source, logs } = startSource(server, { clock, initialBackoffMs: 1000 });
      const registry = new Registry();
      registerInformerMetrics(registry, source);
      const metric = (name: string) => metricValue(registry, name, { resource: 'services' });
      const failure = () => logs.find((line) => line.resource === 'services' && line.level === 40);
      await waitFor('the failure', () => failure() !== undefined);
      expect(await metric('terway_k8s_informer_failing')).toBe(1);
      expect(await metric('terway_k8s_informer_listed')).toBe(0);

      await clock.advance(failure()!.retryInMs as number);
      await source.whenSynced();
      expect(await metric('terway_k8s_informer_failing')).toBe(0);
      expect(await metric('terway_k8s_informer_listed')).toBe(1);
      expect(await metric('terway_k8s_informer_restarts_total')).toBe(1);
      expect(await metric('terway_k8s_informer_lists_total')).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('changes after sync', () => {
  test(
    'Services and slices added, modified and deleted reach the sink',
    async () => {
      const { server, sink } = await syncedHarness();

      server.create(service('web', '10.96.0.10'));
      await waitFor('web added', () => sink.table.has('default/web'));
      expect(sink.backends('default/web', HTTP)).toEqual([]);

      server.create(slice('web-1', 'web', ['10.0.0.1']));
      await waitFor('backend added', () => sink.backends('default/web', HTTP).length === 1);

      server.update(slice('web-1', 'web', ['10.0.0.1', '10.0.0.3']));
      await waitFor('backend list modified', () => sink.backends('default/web', HTTP).length === 2);
      expect(sink.backends('default/web', HTTP)).toEqual(['10.0.0.1:8080', '10.0.0.3:8080']);

      server.update({
        ...service('web', '10.96.0.10'),
        spec: { ...(service('web', '10.96.0.10').spec as object), sessionAffinity: 'ClientIP' },
      });
      await waitFor(
        'affinity',
        () => sink.table.get('default/web')?.[0]?.affinityTimeoutSeconds === 10_800,
      );

      server.remove('EndpointSlice', 'default', 'web-1');
      await waitFor('backends removed', () => sink.backends('default/web', HTTP).length === 0);

      server.remove('Service', 'default', 'web');
      await waitFor('service deleted', () => !sink.table.has('default/web'));
      expect(sink.callsFor('default/web').at(-1)).toEqual({
        kind: 'delete',
        service: 'default/web',
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'the pods the slices name, listed and then watched, are what inspection names a backend by',
    async () => {
      const { server, source } = await syncedHarness((s) => {
        s.create(service('web', '10.96.0.10'));
        s.create(slice('web-1', 'web', [{ ip: '10.0.0.1', pod: 'web-a' }, '10.0.0.2']));
      });
      const podAt = (ip: string) => {
        const pod = source.endpointPods().podAt(ipToInt(ip));
        return pod === undefined ? undefined : `${pod.namespace}/${pod.name}`;
      };
      expect([podAt('10.0.0.1'), podAt('10.0.0.2')]).toEqual(['default/web-a', undefined]);

      // A rolled pod: the endpoint's address now belongs to another one.
      server.update(slice('web-1', 'web', [{ ip: '10.0.0.1', pod: 'web-b' }]));
      await waitFor('renamed', () => podAt('10.0.0.1') === 'default/web-b');
      server.remove('EndpointSlice', 'default', 'web-1');
      await waitFor('gone', () => source.endpointPods().size === 0);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an endpoint that stops being ready moves to draining; terminating is never ready',
    async () => {
      const { server, sink } = await syncedHarness((s) => {
        s.create(service('web', '10.96.0.10'));
        s.create(slice('web-1', 'web', ['10.0.0.1', '10.0.0.2']));
      });
      server.update(
        slice('web-1', 'web', [
          '10.0.0.1',
          { ip: '10.0.0.2', ready: false },
          { ip: '10.0.0.4', ready: true, terminating: true },
        ]),
      );
      await waitFor(
        '10.0.0.2 draining',
        () => sink.backends('default/web', HTTP, 'draining').length === 2,
      );
      expect(sink.backends('default/web', HTTP, 'ready')).toEqual(['10.0.0.1:8080']);
      expect(sink.backends('default/web', HTTP, 'draining')).toEqual([
        '10.0.0.2:8080',
        '10.0.0.4:8080',
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'the backend port is resolved by port name in each slice',
    async () => {
      const { server, sink } = await syncedHarness((s) => s.create(service('web', '10.96.0.10')));
      // targetPort "web" resolved to 8080 on some pods and 9090 on others: two slices.
      server.create(slice('web-a', 'web', ['10.0.0.1'], { httpPort: 8080 }));
      server.create(slice('web-b', 'web', ['10.0.0.2'], { httpPort: 9090 }));
      await waitFor('both slices', () => sink.backends('default/web', HTTP).length === 2);
      expect(sink.backends('default/web', HTTP)).toEqual(['10.0.0.1:8080', '10.0.0.2:9090']);
      expect(sink.backends('default/web', '10.96.0.10:53/UDP')).toEqual([
        '10.0.0.1:5353',
        '10.0.0.2:5353',
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a slice update that changes nothing the datapath uses reprograms nothing',
    async () => {
      const { server, sink } = await syncedHarness((s) => {
        s.create(service('web', '10.96.0.10'));
        s.create(slice('web-1', 'web', ['10.0.0.1']));
      });
      const before = sink.calls.length;
      const relabelled = slice('web-1', 'web', ['10.0.0.1']);
      (relabelled.metadata as { labels: Record<string, string> }).labels['team'] = 'payments';
      server.update(relabelled);
      // A marker change after it: once the marker arrives, the relabel has been processed too.
      server.create(service('marker', '10.96.0.99'));
      await waitFor('marker', () => sink.table.has('default/marker'));
      expect(sink.servicesTouchedSince(before)).toEqual(['default/marker']);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('watch failures', () => {
  test(
    'a broken watch is restarted with backoff and catches up on what it missed',
    async () => {
      const { server, source, sink, logs } = await syncedHarness((s) => {
        s.create(service('web', '10.96.0.10'));
        s.create(slice('web-1', 'web', ['10.0.0.1']));
      });
      // Reconnects fail twice more, so the changes below land while nobody is watching.
      server.failNextRequests(2, 503, isWatchOf('endpointslices'));
      expect(server.dropWatches('error')).toBe(2);
      server.update(slice('web-1', 'web', ['10.0.0.1', '10.0.0.2']));
      server.create(service('api', '10.96.0.11'));

      await waitFor('caught up', () => sink.backends('default/web', HTTP).length === 2);
      await waitFor('api', () => sink.table.has('default/api'));
      const failures = logs.filter(
        (line) => line.resource === 'endpointslices' && line.level === 40,
      );
      expect(failures.map((line) => (line.err as { message: string }).message)).toEqual([
        expect.stringMatching(/^endpointslices watch failed: .*[Pp]remature close/),
        'endpointslices watch failed: HTTP 503 Service Unavailable',
        'endpointslices watch failed: HTTP 503 Service Unavailable',
      ]);
      // Resumed from its resourceVersion: no second list.
      expect(server.requestCounts('endpointslices').lists).toBe(1);
      expect(server.requestCounts('services').lists).toBe(1);
      await waitFor('watches open again', () => server.openWatches() === 2);
      expect(source.status().informers[1]).toMatchObject({ restarts: 3 });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a watch the server ends cleanly (its timeout) is re-opened without a restart',
    async () => {
      const server = await startServer();
      server.create(service('web', '10.96.0.10'));
      const { source, sink } = startSource(server, { watchTimeoutSeconds: 1 });
      await source.whenSynced();
      await waitFor(
        're-watch after the 1 s timeout',
        () => server.requestCounts('services').watches >= 2,
      );
      server.create(slice('web-1', 'web', ['10.0.0.1']));
      await waitFor('backend', () => sink.backends('default/web', HTTP).length === 1);
      expect(server.requests.filter(isWatchOf('services'))[0]?.query['timeoutSeconds']).toBe('1');
      expect(source.status().informers.map((informer) => informer.restarts)).toEqual([0, 0]);
      expect(server.requestCounts('services').lists).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'history compacted during a gap: 410 Gone, re-list, and deletions in the gap are seen',
    async () => {
      const { server, source, sink, logs } = await syncedHarness((s) => {
        s.create(service('web', '10.96.0.10'));
        s.create(service('api', '10.96.0.11'));
        s.create(slice('web-1', 'web', ['10.0.0.1']));
        s.create(slice('api-1', 'api', ['10.0.1.1']));
      });
      server.dropWatches('error');
      server.remove('Service', 'default', 'api');
      server.remove('EndpointSlice', 'default', 'api-1');
      server.update(slice('web-1', 'web', ['10.0.0.1', '10.0.0.2']));
      server.create(service('new', '10.96.0.12'));
      server.compactHistory();

      await waitFor('api deleted', () => !sink.table.has('default/api'));
      await waitFor('new added', () => sink.table.has('default/new'));
      await waitFor('web caught up', () => sink.backends('default/web', HTTP).length === 2);
      expect(sink.callsFor('default/api').at(-1)).toEqual({
        kind: 'delete',
        service: 'default/api',
      });
      // The expired watch got the real apiserver's answer (an ERROR event, code 410), and re-listed.
      expect(server.requestCounts('services').lists).toBe(2);
      expect(server.requestCounts('endpointslices').lists).toBe(2);
      expect(logs).toContainEqual(
        expect.objectContaining({
          resource: 'services',
          code: 410,
          reason: 'Expired',
          msg: 'watch resourceVersion expired (410 Gone); re-listing',
        }),
      );
      expect(Number(source.status().informers[0]?.resourceVersion)).toBeGreaterThanOrEqual(
        server.currentResourceVersion() - 1,
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a 410 answered as an HTTP status re-lists too',
    async () => {
      const { server, sink } = await syncedHarness((s) => s.create(service('web', '10.96.0.10')));
      server.failNextRequests(1, 410, isWatchOf('services'));
      server.dropWatches('close');
      server.create(service('api', '10.96.0.11'));
      await waitFor('api', () => sink.table.has('default/api'));
      expect(server.requestCounts('services').lists).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an unreachable apiserver is retried, and stop() ends the retries and rejects whenSynced',
    async () => {
      const server = await startServer();
      const url = server.url;
      await server.close();
      const replacement = await startServer();
      const kubeConfig = replacement.kubeConfig();
      kubeConfig.clusters[0] = { ...kubeConfig.clusters[0]!, server: url };
      const { source, logs } = startSource(replacement, { kubeConfig });
      const synced = source.whenSynced();
      await waitFor(
        'two failures per informer',
        () => logs.filter((line) => line.level === 40).length >= 4,
      );
      expect(logs.find((line) => line.level === 40)?.err).toMatchObject({
        message: expect.stringMatching(/list failed: .*ECONNREFUSED/),
      });
      await source.stop();
      await expect(synced).rejects.toBeInstanceOf(TerwayError);
      const failuresAtStop = logs.filter((line) => line.level === 40).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(logs.filter((line) => line.level === 40).length).toBe(failuresAtStop);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'after stop() no watch stays open and no change reaches the sink',
    async () => {
      const { server, source, sink } = await syncedHarness((s) =>
        s.create(service('web', '10.96.0.10')),
      );
      expect(server.openWatches()).toBe(2);
      await source.stop();
      await waitFor('watches closed', () => server.openWatches() === 0);
      const before = sink.calls.length;
      server.create(service('api', '10.96.0.11'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(sink.calls.length).toBe(before);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('bookmarks', () => {
  test(
    'requested on every watch; they keep a quiet resource resumable after compaction',
    async () => {
      const { server, source, sink } = await syncedHarness(
        (s) => s.create(service('web', '10.96.0.10')),
        { bookmarkIntervalMs: 20 },
      );
      const watch = server.requests.find(isWatchOf('services'));
      expect(watch?.query).toMatchObject({ allowWatchBookmarks: 'true' });
      expect(Number(watch?.query['timeoutSeconds'])).toBeGreaterThanOrEqual(300);
      expect(Number(watch?.query['timeoutSeconds'])).toBeLessThan(600);

      // Many slice writes move the global resourceVersion; Services stay quiet.
      for (let i = 0; i < 20; i += 1) server.apply(slice('web-1', 'web', [`10.0.0.${i + 1}`]));
      const target = String(server.currentResourceVersion());
      await waitFor(
        'a bookmark to carry the services informer to the latest resourceVersion',
        () => source.status().informers[0]?.resourceVersion === target,
      );
      expect(source.status().informers[0]?.bookmarks).toBeGreaterThan(0);

      // Everything before now is gone; a watch from the bookmark's version is still servable.
      server.compactHistory();
      server.dropWatches('error');
      server.create(service('api', '10.96.0.11'));
      await waitFor('api', () => sink.table.has('default/api'));
      expect(server.requestCounts('services').lists).toBe(1);
      await waitFor(
        '20th backend',
        () => sink.backends('default/web', HTTP)[0] === '10.0.0.20:8080',
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe('loadKubeConfig', () => {
  test('no path outside a pod, or a file that is not there: INVALID_CONFIG', () => {
    const saved = process.env['KUBERNETES_SERVICE_HOST'];
    delete process.env['KUBERNETES_SERVICE_HOST'];
    try {
      expect(() => loadKubeConfig(undefined)).toThrow(/KUBERNETES_SERVICE_HOST is unset/);
      expect(() => loadKubeConfig(join(tmp, 'missing'))).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }) as unknown as Error,
      );
    } finally {
      if (saved !== undefined) process.env['KUBERNETES_SERVICE_HOST'] = saved;
    }
  });
});

/** The parts of the test apiserver's protocol that client-node's informers do not exercise. */
describe('test apiserver protocol', () => {
  async function get(
    server: TestApiServer,
    path: string,
  ): Promise<{ status: number; body: string }> {
    const response = await fetch(`${server.url}${path}`);
    return { status: response.status, body: await response.text() };
  }

  test(
    'namespaced lists, lists at an expired resourceVersion, single objects, discovery',
    async () => {
      const server = await startServer();
      server.create(service('web', '10.96.0.10'));
      server.create(service('api', '10.96.0.11', 'shop'));
      const namespaced = JSON.parse((await get(server, '/api/v1/namespaces/shop/services')).body);
      expect(namespaced).toMatchObject({
        kind: 'ServiceList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '3' },
      });
      expect(namespaced.items.map((item: K8sObject) => item.metadata?.name)).toEqual(['api']);
      expect(namespaced.items[0].kind).toBeUndefined();

      server.compactHistory();
      const expired = await get(server, '/api/v1/services?resourceVersion=2');
      expect(expired.status).toBe(410);
      expect(JSON.parse(expired.body)).toMatchObject({
        kind: 'Status',
        code: 410,
        reason: 'Expired',
      });
      expect((await get(server, '/api/v1/services?resourceVersion=3')).status).toBe(200);

      const one = JSON.parse((await get(server, '/api/v1/namespaces/default/services/web')).body);
      expect(one.metadata).toMatchObject({ name: 'web', resourceVersion: '2' });
      expect(one.metadata.uid).toEqual(expect.any(String));
      expect((await get(server, '/api/v1/namespaces/default/services/nope')).status).toBe(404);
      expect((await get(server, '/apis/discovery.k8s.io/v1/endpointslices')).status).toBe(200);
      expect(JSON.parse((await get(server, '/apis')).body).groups[0].name).toBe('discovery.k8s.io');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a watch without resourceVersion replays the current objects as ADDED, then streams',
    async () => {
      const server = await startServer();
      server.create(service('web', '10.96.0.10'));
      const controller = new AbortController();
      const response = await fetch(`${server.url}/api/v1/namespaces/default/services?watch=true`, {
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      let text = '';
      server.create(service('api', '10.96.0.11'));
      server.create(service('other', '10.96.0.12', 'elsewhere'));
      server.remove('Service', 'default', 'web');
      while (text.split('\n').length < 4) {
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
      }
      controller.abort();
      const events = text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; object: K8sObject });
      expect(events.map((event) => [event.type, event.object.metadata?.name])).toEqual([
        ['ADDED', 'web'],
        ['ADDED', 'api'],
        ['DELETED', 'web'],
      ]);
      expect(events[2]?.object.metadata?.resourceVersion).toBe('5');
    },
    TEST_TIMEOUT_MS,
  );
});
