/**
 * The cluster-mode client over HTTPS, as it always talks to a real apiserver: the CA from the
 * kubeconfig verifies the server, and the bearer token goes over the verified connection. The
 * certificates are made per run with the openssl CLI, so nothing secret or expiring is checked in.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';

import { TerwayError } from '../../src/errors/terway-error.js';
import { loadKubeConfig, SERVICES_PATH } from '../../src/k8s/informer-source.js';
import type { InformerSourceOptions } from '../../src/k8s/informer-source.js';
import { projectService } from '../../src/k8s/object-projection.js';
import { rawLister } from '../../src/k8s/raw-list.js';
import type { TestApiServerTls } from '../../src/k8s/test-apiserver.js';
import { TestApiServer } from '../../src/k8s/test-apiserver.js';
import { failureOf, httpService, readySlice } from '../support/k8s-objects.js';
import { startInformerSource, type StartedSource } from '../support/informer-harness.js';
import { waitFor } from '../support/recording-sink.js';

const TEST_TIMEOUT_MS = 20_000;
const TOKEN = 'tls-test-token';
/**
 * What Node reports when the chain does not lead to a trusted CA. Which one depends on whether
 * the server sends its issuer along; this server sends only its own certificate.
 */
const UNTRUSTED_CHAIN_CODES = [
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
];
const UNTRUSTED_CHAIN_MESSAGE =
  /unable to get local issuer certificate|unable to verify|self[- ]signed certificate/;

let tmp: string;
/** The CA that issued the server's certificate, and one that has nothing to do with it. */
let serverCa: string;
let unrelatedCa: string;
let serverTls: TestApiServerTls;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'terway-tls-test-'));
  const ca = makeCa('ca', 'terway test CA');
  serverCa = ca.cert;
  unrelatedCa = makeCa('other-ca', 'terway unrelated CA').cert;
  serverTls = { ...makeServerCert('server', 'ca'), ca: serverCa };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** P-256: keys are made in milliseconds, where RSA would slow every run. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(name: string, commonName: string): { cert: string } {
  openssl(
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  return { cert: readFileSync(join(tmp, `${name}.crt`), 'utf8') };
}

/** A leaf for IP 127.0.0.1 (what a verifying client checks the URL against), issued by `ca`. */
function makeServerCert(name: string, ca: string): { cert: string; key: string } {
  openssl(
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(
    join(tmp, `${name}.ext`),
    [
      'subjectAltName=IP:127.0.0.1',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  return {
    cert: readFileSync(join(tmp, `${name}.crt`), 'utf8'),
    key: readFileSync(join(tmp, `${name}.key`), 'utf8'),
  };
}

const WARN = 40;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startTlsServer(): Promise<TestApiServer> {
  const server = await TestApiServer.start({ tls: serverTls });
  cleanups.push(() => server.close());
  return server;
}

function startSource(options: Pick<InformerSourceOptions, 'kubeConfig'>): StartedSource {
  return startInformerSource(options, cleanups);
}

describe('rawLister over HTTPS', () => {
  test(
    'verifies the server with the kubeconfig CA and sends the bearer token',
    async () => {
      const server = await startTlsServer();
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      server.create(httpService('web', '10.96.0.10', 'shop'));
      const kubeConfig = server.kubeConfig({ token: TOKEN });
      expect(kubeConfig.getCurrentCluster()).toMatchObject({
        skipTLSVerify: false,
        caData: Buffer.from(serverCa).toString('base64'),
      });

      const list = await rawLister(kubeConfig, SERVICES_PATH, projectService)();

      expect(list.items.map((item) => item.metadata)).toEqual([
        expect.objectContaining({ name: 'web', namespace: 'shop' }),
      ]);
      expect(list.items[0]?.spec).toMatchObject({ clusterIP: '10.96.0.10' });
      expect(server.requests).toEqual([
        expect.objectContaining({ path: SERVICES_PATH, authorization: `Bearer ${TOKEN}` }),
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a CA that did not issue the server certificate fails the list before any request',
    async () => {
      const server = await startTlsServer();
      server.create(httpService('web', '10.96.0.10'));
      const kubeConfig = server.kubeConfig({ caPem: unrelatedCa, token: TOKEN });

      const error = await failureOf(rawLister(kubeConfig, SERVICES_PATH, projectService));

      expect(error).toBeInstanceOf(Error);
      expect(UNTRUSTED_CHAIN_CODES).toContain((error as { code?: unknown }).code);
      expect((error as Error).message).toMatch(UNTRUSTED_CHAIN_MESSAGE);
      // The handshake failed, so the token never went to the unverified server.
      expect(server.requests).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('InformerSource over HTTPS', () => {
  test(
    'syncs, then a Service created afterwards arrives through the watch',
    async () => {
      const server = await startTlsServer();
      server.create(httpService('web', '10.96.0.10'));
      server.create(readySlice('web-1', 'web', ['10.0.0.1']));
      const { source, sink } = startSource({ kubeConfig: server.kubeConfig({ token: TOKEN }) });

      await source.whenSynced();
      expect(sink.calls.map((call) => call.kind)).toEqual(['replace', 'synced']);
      expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual(['10.0.0.1:8080']);
      await waitFor('both watches open', () => server.openWatches() === 2);

      server.create(httpService('api', '10.96.0.11'));
      server.create(readySlice('api-1', 'api', ['10.0.1.1', '10.0.1.2']));
      await waitFor(
        'both backends of the new Service',
        () => sink.backends('default/api', '10.96.0.11:80/TCP').length === 2,
      );
      expect(sink.backends('default/api', '10.96.0.11:80/TCP')).toEqual([
        '10.0.1.1:8080',
        '10.0.1.2:8080',
      ]);
      // Lists and watches alike carried the token over the verified connection.
      expect(server.requestCounts('services')).toEqual({ lists: 1, watches: 1 });
      expect(server.requestCounts('endpointslices')).toEqual({ lists: 1, watches: 1 });
      for (const request of server.requests) {
        expect(request.authorization).toBe(`Bearer ${TOKEN}`);
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'with an unrelated CA it does not sync: it logs the certificate error, retries, and stops cleanly',
    async () => {
      const server = await startTlsServer();
      server.create(httpService('web', '10.96.0.10'));
      const { source, sink, logs } = startSource({
        kubeConfig: server.kubeConfig({ caPem: unrelatedCa, token: TOKEN }),
      });
      const synced = source.whenSynced();

      await waitFor(
        'two failures per informer',
        () => logs.filter((line) => line.level === WARN).length >= 4,
      );
      const failure = logs.find((line) => line.level === WARN)?.err as { message?: string };
      expect(failure.message).toMatch(/list failed: /);
      expect(failure.message).toMatch(UNTRUSTED_CHAIN_MESSAGE);
      for (const informer of source.status().informers) {
        expect(informer).toMatchObject({ listed: false });
        expect(informer.lastError).toMatch(UNTRUSTED_CHAIN_MESSAGE);
        expect(UNTRUSTED_CHAIN_CODES.some((code) => informer.lastError?.includes(code))).toBe(true);
      }
      expect(source.isSynced()).toBe(false);
      expect(sink.calls).toEqual([]);
      expect(server.requests).toEqual([]);

      await source.stop();
      await expect(synced).rejects.toBeInstanceOf(TerwayError);
      // Stopped means stopped: no restart is still pending.
      const failuresAtStop = logs.filter((line) => line.level === WARN).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(logs.filter((line) => line.level === WARN).length).toBe(failuresAtStop);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'loadKubeConfig of a written TLS kubeconfig (certificate-authority-data) syncs',
    async () => {
      const server = await startTlsServer();
      server.create(httpService('web', '10.96.0.10'));
      server.create(readySlice('web-1', 'web', ['10.0.0.1']));
      const path = server.writeKubeconfig(join(tmp, 'kubeconfig'), { token: TOKEN });
      const written = JSON.parse(readFileSync(path, 'utf8')) as {
        clusters: { cluster: Record<string, unknown> }[];
      };
      expect(written.clusters[0]?.cluster).toEqual({
        server: server.url,
        'certificate-authority-data': Buffer.from(serverCa).toString('base64'),
      });

      const { source, sink } = startSource({ kubeConfig: loadKubeConfig(path) });
      await source.whenSynced();

      expect(sink.synced).toBe(true);
      expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual(['10.0.0.1:8080']);
      expect(server.requests.filter((request) => !request.watch)).toEqual([
        expect.objectContaining({ authorization: `Bearer ${TOKEN}` }),
        expect.objectContaining({ authorization: `Bearer ${TOKEN}` }),
      ]);
    },
    TEST_TIMEOUT_MS,
  );
});
