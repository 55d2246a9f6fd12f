/**
 * The standalone-mode Service source: a real file in a real directory, edited the ways operators
 * and editors edit files, watched with fs.watch.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import yaml from 'js-yaml';
import pino from 'pino';
import { Registry } from 'prom-client';

import { TerwayError } from '../../src/errors/terway-error.js';
import type { NodeTopology } from '../../src/k8s/lean-endpoint-slice.js';
import { parseServicesFile } from '../../src/k8s/services-file-parse.js';
import { ServicesFileSource } from '../../src/k8s/services-file-source.js';
import { SERVICE_NAME_LABEL } from '../../src/k8s/service-translation.js';
import type { K8sObject } from '../../src/k8s/test-apiserver.js';
import { registerServicesFileMetrics } from '../../src/observe/source-metrics.js';
import { httpService, readySlice } from '../support/k8s-objects.js';
import { metricValue } from '../support/metric-value.js';
import { RecordingSink, waitFor } from '../support/recording-sink.js';

const TEST_TIMEOUT_MS = 15_000;
const EXAMPLE = join(process.cwd(), 'examples', 'services.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'terway-services-file-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type LogLine = Record<string, unknown> & { msg: string; level: number };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let dirCount = 0;
function freshDir(): string {
  dirCount += 1;
  const dir = join(tmp, `case-${dirCount}`);
  mkdirSync(dir);
  return dir;
}

function startSource(path: string, thisNode?: NodeTopology) {
  const sink = new RecordingSink();
  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logs.push(JSON.parse(line) as LogLine) },
  );
  const source = new ServicesFileSource({ path, sink, logger, thisNode });
  source.start();
  cleanups.push(() => source.stop());
  return { source, sink, logs };
}

function multiDocYaml(objects: object[]): string {
  return objects.map((object) => yaml.dump(object)).join('---\n');
}

/** web + api, with `apiIps` as api's backends. */
function twoServices(apiIps: string[]): string {
  return multiDocYaml([
    httpService('web', '10.96.0.10'),
    readySlice('web-1', 'web', ['10.0.0.1']),
    httpService('api', '10.96.0.11'),
    readySlice('api-1', 'api', apiIps),
  ]);
}

const WEB = '10.96.0.10:80/TCP';
const API = '10.96.0.11:80/TCP';

function invalidMessage(text: string): string {
  try {
    parseServicesFile(text, 'services.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(TerwayError);
    expect((error as TerwayError).code).toBe('INVALID_CONFIG');
    return (error as TerwayError).message;
  }
  throw new Error('expected the file to be rejected');
}

describe('parseServicesFile', () => {
  test('the example file: a two-port ClusterIP Service and its slice', () => {
    const content = parseServicesFile(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
    expect(content.services.map((s) => s.metadata?.name)).toEqual(['web']);
    expect(content.endpointSlices.map((s) => s.metadata?.name)).toEqual(['web-abc12']);
  });

  test('JSON: a single object, a v1 List, and an array', () => {
    const objects = [httpService('web', '10.96.0.10'), readySlice('web-1', 'web', ['10.0.0.1'])];
    const single = parseServicesFile(JSON.stringify(objects[0]), 'f.json');
    expect(single.services).toHaveLength(1);
    const list = parseServicesFile(
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
      'f.json',
    );
    expect([list.services.length, list.endpointSlices.length]).toEqual([1, 1]);
    const array = parseServicesFile(JSON.stringify(objects, null, '\t'), 'f.json');
    expect([array.services.length, array.endpointSlices.length]).toEqual([1, 1]);
  });

  test('an object without a namespace is in "default"', () => {
    const content = parseServicesFile(
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'x' },
        spec: { clusterIP: 'None' },
      }),
      'f.yaml',
    );
    expect(content.services[0]?.metadata?.namespace).toBe('default');
  });

  test('empty documents and an empty file declare nothing', () => {
    expect(parseServicesFile('', 'f.yaml')).toEqual({ services: [], endpointSlices: [] });
    expect(parseServicesFile('---\n---\n', 'f.yaml')).toEqual({ services: [], endpointSlices: [] });
  });

  test('a document of another kind is named by index and kind', () => {
    const text = multiDocYaml([
      httpService('web', '10.96.0.10'),
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } },
      { apiVersion: 'discovery.k8s.io/v1beta1', kind: 'EndpointSlice', metadata: { name: 's' } },
    ]);
    expect(invalidMessage(text)).toBe(
      'services file services.yaml is invalid:\n' +
        '  document 2 of 3: kind Deployment (apps/v1) is neither a Service (apiVersion v1) nor an ' +
        'EndpointSlice (apiVersion discovery.k8s.io/v1)\n' +
        '  document 3 of 3: kind EndpointSlice (discovery.k8s.io/v1beta1) is neither a Service ' +
        '(apiVersion v1) nor an EndpointSlice (apiVersion discovery.k8s.io/v1)',
    );
  });

  test('items of a List are located by item', () => {
    const text = JSON.stringify({
      kind: 'List',
      items: [httpService('web', '10.96.0.10'), 'oops'],
    });
    expect(invalidMessage(text)).toContain('document 1 of 1, item 2: a string is neither');
  });

  test('field errors name the document, the object and the field', () => {
    const bad = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { clusterIP: '10.96.0.300', ports: [{ name: 'http', port: '80' }] },
    };
    const message = invalidMessage(multiDocYaml([httpService('ok', '10.96.0.9'), bad]));
    expect(message).toContain(
      'document 2 of 2 (Service default/web): spec.clusterIP: expected an IP address',
    );
    expect(message).toContain('document 2 of 2 (Service default/web): spec.ports[0].port:');
  });

  test("internalTrafficPolicy and an endpoint's nodeName are checked like the other fields", () => {
    const service = httpService('web', '10.96.0.10') as { spec: object };
    const slice = readySlice('web-1', 'web', ['10.0.0.1']) as { endpoints: object[] };
    const message = invalidMessage(
      multiDocYaml([
        { ...service, spec: { ...service.spec, internalTrafficPolicy: 'local' } },
        { ...slice, endpoints: [{ ...slice.endpoints[0], nodeName: '' }] },
      ]),
    );
    expect(message).toContain('(Service default/web): spec.internalTrafficPolicy:');
    expect(message).toContain('(EndpointSlice default/web-1): endpoints[0].nodeName:');
  });

  test('topology hints are checked like the other fields: a zone is named, in a list', () => {
    const slice = readySlice('web-1', 'web', ['10.0.0.1', '10.0.0.2']) as { endpoints: object[] };
    const message = invalidMessage(
      multiDocYaml([
        httpService('web', '10.96.0.10'),
        {
          ...slice,
          endpoints: [
            { ...slice.endpoints[0], hints: { forZones: 'cn-hangzhou-k' } },
            { ...slice.endpoints[1], hints: { forNodes: [{ name: '' }] } },
          ],
        },
      ]),
    );
    expect(message).toContain('(EndpointSlice default/web-1): endpoints[0].hints.forZones:');
    expect(message).toContain(
      '(EndpointSlice default/web-1): endpoints[1].hints.forNodes[0].name:',
    );
  });

  test('a ClusterIP Service must carry its cluster IP (nothing allocates one)', () => {
    const noIp = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { ports: [{ port: 80 }] },
    };
    expect(invalidMessage(yaml.dump(noIp))).toContain(
      'spec.clusterIP: required in a services file',
    );
  });

  test('a slice needs its Service label and, for IPv4, IPv4 addresses', () => {
    const unlabelled = { ...readySlice('s', 'web', ['10.0.0.1']), metadata: { name: 's' } };
    const badAddress = readySlice('t', 'web', ['10.0.0.1', 'fd00::1']);
    const message = invalidMessage(multiDocYaml([unlabelled, badAddress]));
    expect(message).toContain(
      `document 1 of 2 (EndpointSlice default/s): metadata.labels.${SERVICE_NAME_LABEL}: required`,
    );
    expect(message).toContain(
      'document 2 of 2 (EndpointSlice default/t): endpoints[1].addresses[0]: expected an IPv4 address',
    );
  });

  test('the same object twice is an error', () => {
    const text = multiDocYaml([httpService('web', '10.96.0.10'), httpService('web', '10.96.0.11')]);
    expect(invalidMessage(text)).toContain(
      'document 2 of 2: Service default/web is already defined in document 1 of 2',
    );
  });

  test('syntax errors say which syntax', () => {
    expect(invalidMessage('{"kind": "Service",')).toMatch(/is not valid JSON/);
    expect(invalidMessage('kind: Service\n  bad: [indent')).toMatch(/is not valid YAML/);
  });
});

describe('ServicesFileSource', () => {
  test(
    'the example file reaches the sink: ready and not-ready endpoints, both ports',
    async () => {
      const { source, sink, logs } = startSource(EXAMPLE);
      expect(source.isSynced()).toBe(true);
      expect(sink.calls.map((call) => call.kind)).toEqual(['replace', 'synced']);
      expect(sink.backends('default/web', '10.96.0.20:80/TCP')).toEqual([
        '10.99.0.11:8080',
        '10.99.0.12:8080',
      ]);
      expect(sink.backends('default/web', '10.96.0.20:80/TCP', 'draining')).toEqual([
        '10.99.0.13:8080',
      ]);
      expect(sink.backends('default/web', '10.96.0.20:53/UDP')).toEqual([
        '10.99.0.11:5353',
        '10.99.0.12:5353',
      ]);
      expect(sink.table.get('default/web')?.every((f) => f.affinityTimeoutSeconds === 0)).toBe(
        true,
      );
      expect(logs[0]).toMatchObject({ mode: 'standalone', servicesFile: EXAMPLE });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "internalTrafficPolicy: Local: the ClusterIP keeps the daemon's node's endpoints",
    async () => {
      const path = join(freshDir(), 'services.yaml');
      const service = httpService('web', '10.96.0.10') as { spec: object };
      const slice = readySlice('web-1', 'web', ['10.0.0.1', '10.0.0.2']) as {
        endpoints: object[];
      };
      writeFileSync(
        path,
        multiDocYaml([
          { ...service, spec: { ...service.spec, internalTrafficPolicy: 'Local' } },
          {
            ...slice,
            endpoints: slice.endpoints.map((endpoint, index) => ({
              ...endpoint,
              nodeName: index === 0 ? 'node-a' : 'node-b',
            })),
          },
        ]),
      );
      const { sink, logs } = startSource(path, { name: 'node-b' });
      expect(sink.backends('default/web', WEB)).toEqual(['10.0.0.2:8080']);
      expect(logs[0]).toMatchObject({ mode: 'standalone', node: 'node-b' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "topology hints: new flows go to the endpoints hinted for the daemon's zone, and an edit that drops a hint widens them again",
    async () => {
      const path = join(freshDir(), 'services.yaml');
      const zoned = (zones: Array<string | undefined>): K8sObject => {
        const slice = readySlice(
          'web-1',
          'web',
          zones.map((_, index) => `10.0.0.${index + 1}`),
        ) as K8sObject & { endpoints: object[] };
        return {
          ...slice,
          endpoints: slice.endpoints.map((endpoint, index) => {
            const zone = zones[index];
            return zone === undefined
              ? endpoint
              : { ...endpoint, hints: { forZones: [{ name: zone }] } };
          }),
        };
      };
      const service = httpService('web', '10.96.0.10');
      writeFileSync(path, multiDocYaml([service, zoned(['zone-a', 'zone-b', 'zone-b'])]));
      const { sink, logs } = startSource(path, { name: 'node-b', zone: 'zone-b' });
      expect(sink.backends('default/web', WEB)).toEqual(['10.0.0.2:8080', '10.0.0.3:8080']);
      // The other zone's endpoint keeps the flows it has.
      expect(sink.backends('default/web', WEB, 'draining')).toEqual(['10.0.0.1:8080']);
      expect(logs[0]).toMatchObject({ mode: 'standalone', node: 'node-b', zone: 'zone-b' });

      // One ready endpoint without a hint: kube-proxy ignores the hints, and so does this.
      writeFileSync(path, multiDocYaml([service, zoned(['zone-a', 'zone-b', undefined])]));
      await waitFor(
        'every endpoint ready again',
        () => sink.backends('default/web', WEB).length === 3,
      );
      expect(sink.backends('default/web', WEB, 'draining')).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'JSON file is read the same way',
    async () => {
      const path = join(freshDir(), 'services.json');
      writeFileSync(
        path,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [httpService('web', '10.96.0.10'), readySlice('web-1', 'web', ['10.0.0.1'])],
        }),
      );
      const { sink } = startSource(path);
      expect(sink.backends('default/web', WEB)).toEqual(['10.0.0.1:8080']);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an in-place write re-sends only the Service that changed',
    async () => {
      const path = join(freshDir(), 'services.yaml');
      writeFileSync(path, twoServices(['10.0.1.1']));
      const { sink } = startSource(path);
      const before = sink.calls.length;

      writeFileSync(path, twoServices(['10.0.1.1', '10.0.1.2']));
      await waitFor('api backends', () => sink.backends('default/api', API).length === 2);
      expect(sink.servicesTouchedSince(before)).toEqual(['default/api']);
      expect(sink.backends('default/web', WEB)).toEqual(['10.0.0.1:8080']);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a rename over the file (how editors and `mv` replace it) is seen; removals are deletions',
    async () => {
      const dir = freshDir();
      const path = join(dir, 'services.yaml');
      writeFileSync(path, twoServices(['10.0.1.1']));
      const { sink } = startSource(path);
      const before = sink.calls.length;

      const next = multiDocYaml([
        httpService('web', '10.96.0.10'),
        readySlice('web-1', 'web', ['10.0.0.1', '10.0.0.2']),
      ]);
      writeFileSync(join(dir, '.services.yaml.tmp'), next);
      renameSync(join(dir, '.services.yaml.tmp'), path);
      await waitFor('api deleted', () => !sink.table.has('default/api'));
      expect(sink.calls.slice(before)).toEqual([
        { kind: 'delete', service: 'default/api' },
        { kind: 'replace', service: 'default/web', frontends: expect.any(Array) },
      ]);
      expect(sink.backends('default/web', WEB)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);

      // And the watch survives the inode change: a second replacement is seen too.
      writeFileSync(join(dir, '.services.yaml.tmp'), twoServices(['10.0.1.9']));
      renameSync(join(dir, '.services.yaml.tmp'), path);
      await waitFor('api back', () => sink.backends('default/api', API)[0] === '10.0.1.9:8080');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a burst of writes is applied once',
    async () => {
      const path = join(freshDir(), 'services.yaml');
      writeFileSync(path, twoServices(['10.0.1.1']));
      const { sink, logs } = startSource(path);
      const applied = () => logs.filter((line) => line.msg === 'services file applied').length;
      expect(applied()).toBe(1);
      for (let i = 2; i <= 6; i += 1) writeFileSync(path, twoServices([`10.0.1.${i}`]));
      await waitFor('last write', () => sink.backends('default/api', API)[0] === '10.0.1.6:8080');
      expect(applied()).toBe(2);
      expect(sink.callsFor('default/api')).toHaveLength(2);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a bad edit keeps the last good state and logs why; fixing it applies the fix',
    async () => {
      const path = join(freshDir(), 'services.yaml');
      writeFileSync(path, twoServices(['10.0.1.1']));
      const { source, sink, logs } = startSource(path);
      const registry = new Registry();
      registerServicesFileMetrics(registry, source);
      const rejected = () => metricValue(registry, 'terway_services_file_rejected');
      await waitFor('the first read', () => sink.backends('default/api', API).length === 1);
      expect(await rejected()).toBe(0);
      const before = sink.calls.length;

      writeFileSync(
        path,
        `${twoServices(['10.0.1.1'])}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n`,
      );
      await waitFor('the error', () => source.currentError() !== undefined);
      expect(await rejected()).toBe(1);
      expect(source.currentError()).toContain('document 5 of 5: kind Deployment (apps/v1)');
      expect(logs.find((line) => line.level === 50)).toMatchObject({
        msg: 'services file not applied; keeping the last good state',
        servicesFile: path,
        reason: expect.stringContaining('kind Deployment'),
      });
      writeFileSync(path, 'kind: [unclosed');
      await waitFor('the syntax error', () => /not valid YAML/.test(source.currentError() ?? ''));
      expect(sink.calls.length).toBe(before);
      expect(sink.backends('default/api', API)).toEqual(['10.0.1.1:8080']);

      writeFileSync(path, twoServices(['10.0.1.3']));
      await waitFor('fixed', () => sink.backends('default/api', API)[0] === '10.0.1.3:8080');
      expect(source.currentError()).toBeUndefined();
      expect(await rejected()).toBe(0);
      expect(sink.servicesTouchedSince(before)).toEqual(['default/api']);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a bad edit undone (the file back to the content in effect) clears the error, with nothing re-applied',
    async () => {
      const path = join(freshDir(), 'services.yaml');
      const good = twoServices(['10.0.1.1']);
      writeFileSync(path, good);
      const { source, sink } = startSource(path);
      const registry = new Registry();
      registerServicesFileMetrics(registry, source);
      await waitFor('the first read', () => sink.backends('default/api', API).length === 1);
      const before = sink.calls.length;
      writeFileSync(path, 'kind: [unclosed');
      await waitFor('the error', () => source.currentError() !== undefined);
      expect(await metricValue(registry, 'terway_services_file_rejected')).toBe(1);

      writeFileSync(path, good);
      await waitFor('the error cleared', () => source.currentError() === undefined);
      expect(await metricValue(registry, 'terway_services_file_rejected')).toBe(0);
      expect(sink.calls.length).toBe(before);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an invalid file at start: not synced until it is fixed',
    async () => {
      const path = join(freshDir(), 'services.yaml');
      writeFileSync(path, 'kind: [unclosed');
      const { source, sink } = startSource(path);
      expect(source.isSynced()).toBe(false);
      expect(sink.calls).toEqual([]);
      writeFileSync(path, twoServices(['10.0.1.1']));
      await waitFor('synced', () => source.isSynced());
      expect(sink.calls.at(-1)).toEqual({ kind: 'synced' });
      expect(sink.table.size).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a missing file is an empty, synced state with a warning; creating it applies it',
    async () => {
      const dir = freshDir();
      const path = join(dir, 'services.yaml');
      const { source, sink, logs } = startSource(path);
      expect(source.isSynced()).toBe(true);
      expect(sink.calls).toEqual([{ kind: 'synced' }]);
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 40,
          msg: 'services file does not exist: no Services until it is created',
        }),
      );

      writeFileSync(path, twoServices(['10.0.1.1']));
      await waitFor('created', () => sink.table.size === 2);

      unlinkSync(path);
      await waitFor('removed', () => sink.table.size === 0);
      expect(sink.calls.slice(-2).map((call) => call.kind)).toEqual(['delete', 'delete']);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a ConfigMap volume update (the ..data symlink swap) is seen',
    async () => {
      const dir = freshDir();
      mkdirSync(join(dir, '..v1'));
      writeFileSync(join(dir, '..v1', 'services.yaml'), twoServices(['10.0.1.1']));
      symlinkSync('..v1', join(dir, '..data'));
      symlinkSync(join('..data', 'services.yaml'), join(dir, 'services.yaml'));
      const { sink } = startSource(join(dir, 'services.yaml'));
      expect(sink.backends('default/api', API)).toEqual(['10.0.1.1:8080']);

      // What the kubelet's atomic writer does: new dir, new symlink, rename it over ..data.
      mkdirSync(join(dir, '..v2'));
      writeFileSync(join(dir, '..v2', 'services.yaml'), twoServices(['10.0.1.2']));
      symlinkSync('..v2', join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      await waitFor('swapped', () => sink.backends('default/api', API)[0] === '10.0.1.2:8080');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'after stop() the file is no longer followed',
    async () => {
      const path = join(freshDir(), 'services.yaml');
      writeFileSync(path, twoServices(['10.0.1.1']));
      const { source, sink } = startSource(path);
      await source.stop();
      const before = sink.calls.length;
      writeFileSync(path, twoServices(['10.0.1.2']));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(sink.calls.length).toBe(before);
    },
    TEST_TIMEOUT_MS,
  );

  test('a directory that does not exist cannot be watched: INVALID_CONFIG', () => {
    const sink = new RecordingSink();
    const source = new ServicesFileSource({
      path: join(tmp, 'no-such-dir', 'services.yaml'),
      sink,
      logger: pino({ level: 'silent' }),
    });
    expect(() => source.start()).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }) as unknown as Error,
    );
  });
});
