/**
 * rawLister over loopback HTTP: against the in-repo test apiserver, and against a bare server that
 * answers what a broken or refusing apiserver might.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, test } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';

import { isTerwayError } from '../../src/errors/terway-error.js';
import { projectService } from '../../src/k8s/object-projection.js';
import { ListHttpError, rawLister } from '../../src/k8s/raw-list.js';
import { describeKubernetesError } from '../../src/k8s/resilient-informer.js';
import { TestApiServer } from '../../src/k8s/test-apiserver.js';
import { failureOf } from '../support/k8s-objects.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Canned {
  status: number;
  body: string;
}

/** A server that answers every request with `canned` and remembers the request headers. */
async function cannedServer(canned: Canned): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(request.headers);
    response.writeHead(canned.status, { 'content-type': 'application/json' });
    response.end(canned.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function kubeConfigFor(url: string, token?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', ...(token === undefined ? {} : { token }) }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kubeConfig;
}

describe('rawLister', () => {
  test('lists the apiserver objects as plain JSON objects, with the list resourceVersion', async () => {
    const server = await TestApiServer.start();
    cleanups.push(() => server.close());
    server.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    const list = await rawLister(server.kubeConfig(), '/api/v1/services', projectService)();

    expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(list.items).toHaveLength(1);
    const [item] = list.items;
    // Not a client-node model instance: the objects are what the apiserver sent.
    expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
    expect(item).toMatchObject({
      metadata: { name: 'web', namespace: 'shop' },
      spec: { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
  });

  test('a list written otherwise (indented, non-ASCII, escapes, managedFields) lists the same objects', async () => {
    // The odd text goes in the port name, which the projection keeps.
    const service = (name: string, portName: string) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace: 'shop',
        managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': { 'f:ports': {} } } }],
      },
      spec: { clusterIP: '10.96.0.10', ports: [{ name: portName, port: 80, protocol: 'TCP' }] },
    });
    const items = [service('web', 'café 服务 🚀'), service('api', 'a "quoted" ] } [ { \\ text')];
    const body = JSON.stringify(
      { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items },
      null,
      '\t',
    );
    const { url } = await cannedServer({ status: 200, body });
    const list = await rawLister(kubeConfigFor(url), '/api/v1/services', projectService)();

    expect(list.metadata?.resourceVersion).toBe('7');
    expect(list.items).toEqual(items.map(projectService));
    expect(list.items.map((item) => item.spec?.ports?.[0]?.name)).toEqual([
      'café 服务 🚀',
      'a "quoted" ] } [ { \\ text',
    ]);
  });

  test("the kubeconfig's credentials go with the request", async () => {
    const { url, seen } = await cannedServer({
      status: 200,
      body: JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '7' }, items: [] }),
    });
    const list = await rawLister(
      kubeConfigFor(url, 'sekret'),
      '/api/v1/services',
      projectService,
    )();
    expect(list.items).toEqual([]);
    expect(seen[0]?.authorization).toBe('Bearer sekret');
  });

  test('a refusal keeps its status and Status message, worded like the generated API', async () => {
    const status = {
      kind: 'Status',
      status: 'Failure',
      message: 'services is forbidden: User "x" cannot list resource "services"',
      reason: 'Forbidden',
      code: 403,
    };
    const { url } = await cannedServer({ status: 403, body: JSON.stringify(status) });
    const error = await failureOf(
      rawLister(kubeConfigFor(url), '/api/v1/services', projectService),
    );

    expect(error).toBeInstanceOf(ListHttpError);
    expect((error as ListHttpError).code).toBe(403);
    expect(describeKubernetesError(error)).toBe(`HTTP 403: ${status.message}`);
  });

  test.each([
    ['not JSON', '<html>proxy error</html>', 'the response is not JSON'],
    [
      'a Status, not a list',
      JSON.stringify({ kind: 'Status', code: 200 }),
      'the response is not a list',
    ],
    [
      'items that are not an array',
      JSON.stringify({ metadata: {}, items: {} }),
      'the response is not a list',
    ],
    [
      'an item that is not JSON',
      '{"metadata":{},"items":[{"metadata":{}},tru]}',
      'the response is not JSON',
    ],
  ])('a 200 with %s is a KUBERNETES_ERROR', async (_name, body, message) => {
    const { url } = await cannedServer({ status: 200, body });
    const error = await failureOf(
      rawLister(kubeConfigFor(url), '/api/v1/services', projectService),
    );
    expect(isTerwayError(error) && error.code).toBe('KUBERNETES_ERROR');
    expect((error as Error).message).toContain(`list of /api/v1/services: ${message}`);
  });

  test('a kubeconfig without a current cluster is INVALID_CONFIG', async () => {
    const error = await failureOf(rawLister(new KubeConfig(), '/api/v1/services', projectService));
    expect(isTerwayError(error) && error.code).toBe('INVALID_CONFIG');
  });
});
