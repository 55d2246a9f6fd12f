/**
 * Lists in pages, and informers that cache only what they read: the test apiserver's `limit` and
 * `continue`, rawLister's paging and its fallback when a continue token expires, and the
 * projection of listed and watched objects on their way into client-node's ListWatch.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, test } from '@jest/globals';
import { KubeConfig, type V1Service } from '@kubernetes/client-node';
import pino from 'pino';

import { projectService } from '../../src/k8s/object-projection.js';
import { rawLister } from '../../src/k8s/raw-list.js';
import { ResilientInformer } from '../../src/k8s/resilient-informer.js';
import type { K8sObject } from '../../src/k8s/test-apiserver.js';
import { TestApiServer } from '../../src/k8s/test-apiserver.js';
import { systemClock } from '../../src/util/clock.js';
import { startInformerSource } from '../support/informer-harness.js';
import { httpService, readySlice } from '../support/k8s-objects.js';
import { waitFor } from '../support/recording-sink.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(): Promise<TestApiServer> {
  const server = await TestApiServer.start();
  cleanups.push(() => server.close());
  return server;
}

/** Service i of n, named so that key order is creation order. */
function numbered(index: number): K8sObject {
  return httpService(`svc-${String(index).padStart(4, '0')}`, `10.96.${index >> 8}.${index & 255}`);
}

/** A Service as a real apiserver stores it: managedFields and kubectl's annotation included. */
function fatService(name: string, clusterIP: string): K8sObject {
  const service = httpService(name, clusterIP);
  service.metadata = {
    ...service.metadata,
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(service) },
    managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsType: 'FieldsV1' }],
  };
  return service;
}

interface Page {
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: K8sObject[];
}

async function getPage(
  server: TestApiServer,
  query: string,
): Promise<{ status: number; body: Page & { reason?: string; message?: string } }> {
  const response = await fetch(`${server.url}/api/v1/services?${query}`);
  return { status: response.status, body: (await response.json()) as Page };
}

const namesOf = (items: readonly { metadata?: { name?: string } }[]): string[] =>
  items.map((item) => item.metadata?.name ?? '');

describe('test apiserver: paged lists', () => {
  test('limit cuts the list into pages in key order, all from the first page snapshot', async () => {
    const server = await startServer();
    for (let i = 6; i >= 0; i--) server.create(numbered(i));
    const first = await getPage(server, 'limit=3');
    expect(first.status).toBe(200);
    expect(namesOf(first.body.items)).toEqual(['svc-0000', 'svc-0001', 'svc-0002']);
    expect(first.body.metadata.remainingItemCount).toBe(4);
    const snapshotVersion = first.body.metadata.resourceVersion;

    // Written after the first page: not part of this list, which is one consistent snapshot.
    server.create(numbered(7));
    server.remove('Service', 'default', 'svc-0005');
    const second = await getPage(
      server,
      `limit=3&continue=${encodeURIComponent(first.body.metadata.continue ?? '')}`,
    );
    expect(namesOf(second.body.items)).toEqual(['svc-0003', 'svc-0004', 'svc-0005']);
    expect(second.body.metadata.resourceVersion).toBe(snapshotVersion);
    const third = await getPage(
      server,
      `limit=3&continue=${encodeURIComponent(second.body.metadata.continue ?? '')}`,
    );
    expect(namesOf(third.body.items)).toEqual(['svc-0006']);
    expect(third.body.metadata.continue).toBeUndefined();

    const unpaged = await getPage(server, '');
    expect(unpaged.body.items).toHaveLength(7);
    expect(unpaged.body.metadata.continue).toBeUndefined();
  });

  test('a continue token whose snapshot was compacted away is 410 Expired', async () => {
    const server = await startServer();
    for (let i = 0; i < 5; i++) server.create(numbered(i));
    const first = await getPage(server, 'limit=2');
    server.create(numbered(5));
    server.compactHistory();
    const next = await getPage(
      server,
      `limit=2&continue=${encodeURIComponent(first.body.metadata.continue ?? '')}`,
    );
    expect(next.status).toBe(410);
    expect(next.body.reason).toBe('Expired');
    expect(next.body.message).toContain('continue parameter is too old');

    const garbage = await getPage(server, 'limit=2&continue=not-a-token');
    expect(garbage.status).toBe(400);
    expect((await getPage(server, 'limit=-1')).status).toBe(400);
  });
});

describe('rawLister paging', () => {
  test('fetches every page, projects each item, and keeps the first page resourceVersion', async () => {
    const server = await startServer();
    for (let i = 0; i < 7; i++) server.create(fatService(`svc-${i}`, `10.96.0.${i + 1}`));
    const version = String(server.currentResourceVersion());
    const list = await rawLister(server.kubeConfig(), '/api/v1/services', projectService, 3)();

    expect(list.items).toHaveLength(7);
    expect(list.metadata?.resourceVersion).toBe(version);
    for (const item of list.items) {
      expect(item.metadata?.annotations).toBeUndefined();
      expect(item.metadata?.managedFields).toBeUndefined();
      expect(item.spec?.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    }
    const lists = server.requests.filter((r) => r.path === '/api/v1/services' && !r.watch);
    expect(lists.map((r) => r.query['limit'])).toEqual(['3', '3', '3']);
    expect(lists.map((r) => r.query['continue'] !== undefined)).toEqual([false, true, true]);
  });

  test('a continue token that expires mid-list: the list starts over unpaged, as client-go does', async () => {
    const seen: string[] = [];
    const everything = ['a', 'b', 'c'].map((name) => httpService(name, '10.96.0.1'));
    const answer = (request: IncomingMessage): { status: number; body: unknown } => {
      const query = new URL(request.url ?? '/', 'http://x').searchParams;
      if (query.get('continue') !== null) {
        return {
          status: 410,
          body: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' },
        };
      }
      if (query.get('limit') !== null) {
        return {
          status: 200,
          body: {
            metadata: { resourceVersion: '5', continue: 'tok' },
            items: everything.slice(0, 1),
          },
        };
      }
      return { status: 200, body: { metadata: { resourceVersion: '9' }, items: everything } };
    };
    const http = createServer((request, response) => {
      seen.push(request.url ?? '');
      const { status, body } = answer(request);
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => http.close(() => resolve())));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });

    const list = await rawLister(kubeConfig, '/api/v1/services', projectService, 1)();
    expect(namesOf(list.items)).toEqual(['a', 'b', 'c']);
    expect(list.metadata?.resourceVersion).toBe('9');
    expect(seen).toEqual([
      '/api/v1/services?limit=1',
      '/api/v1/services?limit=1&continue=tok',
      '/api/v1/services',
    ]);
  });
});

describe('informers cache projected objects', () => {
  test('listed and watched objects reach the handlers (and ListWatch cache) projected', async () => {
    const server = await startServer();
    server.create(fatService('listed', '10.96.0.1'));
    const upserts: V1Service[] = [];
    const deletes: V1Service[] = [];
    let listed = false;
    const informer = new ResilientInformer<V1Service>({
      resource: 'services',
      path: '/api/v1/services',
      list: rawLister(server.kubeConfig(), '/api/v1/services', projectService),
      project: projectService,
      kubeConfig: server.kubeConfig(),
      logger: pino({ level: 'silent' }),
      clock: systemClock,
      initialBackoffMs: 20,
      maxBackoffMs: 200,
      watchTimeoutSeconds: undefined,
      onUpsert: (object) => upserts.push(object),
      onDelete: (object) => deletes.push(object),
      onListed: () => (listed = true),
    });
    informer.start();
    cleanups.push(() => informer.stop());
    await waitFor(
      'the list applied and the watch open',
      () => listed && server.openWatches() === 1,
    );

    server.create(fatService('watched', '10.96.0.2'));
    const updated = fatService('watched', '10.96.0.2');
    (updated['spec'] as { ports: unknown[] }).ports.push({
      name: 'dns',
      port: 53,
      protocol: 'UDP',
    });
    server.update(updated);
    server.remove('Service', 'default', 'listed');
    await waitFor(
      'add, update and delete delivered',
      () => upserts.length === 3 && deletes.length === 1,
    );

    expect(namesOf(upserts)).toEqual(['listed', 'watched', 'watched']);
    for (const object of [...upserts, ...deletes]) {
      expect(Object.keys(object).sort()).toEqual(['metadata', 'spec']);
      expect(Object.keys(object.metadata ?? {}).sort()).toEqual([
        'name',
        'namespace',
        'resourceVersion',
      ]);
    }
    expect(upserts[2]?.spec?.ports).toHaveLength(2);
    expect(deletes[0]?.metadata?.name).toBe('listed');
  });

  test('a cluster larger than one page syncs through paged lists', async () => {
    const server = await startServer();
    const count = 1203;
    for (let i = 0; i < count; i++) {
      server.create(numbered(i));
      server.create(
        readySlice(`svc-${String(i).padStart(4, '0')}-abc`, `svc-${String(i).padStart(4, '0')}`, [
          '10.0.0.5',
        ]),
      );
    }
    const { source, sink } = startInformerSource({ kubeConfig: server.kubeConfig() }, cleanups);
    await source.whenSynced();

    expect(sink.table.size).toBe(count);
    expect(sink.backends('default/svc-1202', '10.96.4.178:80/TCP')).toEqual(['10.0.0.5:8080']);
    for (const path of ['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices']) {
      const lists = server.requests.filter((r) => r.path === path && !r.watch);
      expect(lists.map((r) => r.query['limit'])).toEqual(['500', '500', '500']);
    }
  });
});
