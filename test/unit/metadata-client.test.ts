import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { MetadataClient } from '../../src/cloud/aliyun/metadata-client.js';
import { isCloudError } from '../../src/cloud/cloud-error.js';
import type { MetadataClientOptions } from '../../src/cloud/aliyun/metadata-client.js';
import { isMetadataError, MetadataError } from '../../src/cloud/aliyun/metadata-error.js';
import type { MetadataErrorCode } from '../../src/cloud/aliyun/metadata-error.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import {
  captureLog,
  drive,
  failNext,
  FakeMetadataSource,
  INSTANCE_ID,
  instanceView,
  PRIMARY_MAC,
  primaryNic,
  ROLE,
  SECONDARY_MAC,
  secondaryNic,
  startMetadataServer,
  STS_SECRET,
  STS_TOKEN,
  stsCredentials,
} from './metadata-fixture.js';
import type { CapturedLog, MetadataServer } from './metadata-fixture.js';

let clock: FakeClock;
let source: FakeMetadataSource;
let server: MetadataServer;
let captured: CapturedLog;

function client(overrides: Partial<MetadataClientOptions> = {}): MetadataClient {
  return new MetadataClient({ baseUrl: server.url(), clock, log: captured.log, ...overrides });
}

function puts(): number {
  return server.requests.filter((request) => request.method === 'PUT').length;
}

function gets(): number {
  return server.requests.filter((request) => request.method === 'GET').length;
}

async function failure(
  call: Promise<unknown>,
  cloudCode: MetadataErrorCode,
): Promise<MetadataError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MetadataError);
  expect(isCloudError(error, cloudCode)).toBe(true);
  const metadataError = error as MetadataError;
  expect(metadataError.code).toBe('CLOUD_ERROR');
  expect(metadataError.cloudCode).toBe(cloudCode);
  return metadataError;
}

beforeEach(async () => {
  clock = new FakeClock();
  source = new FakeMetadataSource();
  source.views.set(INSTANCE_ID, instanceView());
  source.credentials.set(INSTANCE_ID, stsCredentials(clock, 3_600_000));
  server = await startMetadataServer(source, { clock, requireToken: true });
  captured = captureLog();
});

afterEach(async () => {
  await server.close();
});

describe('typed reads', () => {
  test('instance identity', async () => {
    const metadata = client();
    await expect(metadata.instanceId()).resolves.toBe(INSTANCE_ID);
    await expect(metadata.regionId()).resolves.toBe('cn-hangzhou');
    await expect(metadata.zoneId()).resolves.toBe('cn-hangzhou-i');
    await expect(metadata.instanceType()).resolves.toBe('ecs.g6e.large');
    await expect(metadata.vpcId()).resolves.toBe('vpc-test');
    await expect(metadata.vswitchId()).resolves.toBe('vsw-primary');
    await expect(metadata.primaryMac()).resolves.toBe(PRIMARY_MAC);
    await expect(metadata.get('hostname')).resolves.toBe('iZbp1testinstanceZ');
    await expect(metadata.get('/owner-account-id')).resolves.toBe('1234567890123456');
  });

  test('macs() strips the trailing slash and lower-cases', async () => {
    source.views.set(
      INSTANCE_ID,
      instanceView({
        nics: [primaryNic(), { ...secondaryNic(), mac: SECONDARY_MAC.toUpperCase() }],
      }),
    );
    await expect(client().macs()).resolves.toEqual([PRIMARY_MAC, SECONDARY_MAC]);
  });

  test('nic() reads every field and parses private-ipv4s', async () => {
    source.views.set(INSTANCE_ID, instanceView({ nics: [primaryNic(), secondaryNic()] }));
    await expect(client().nic(SECONDARY_MAC.toUpperCase())).resolves.toEqual({
      mac: SECONDARY_MAC,
      eniId: 'eni-secondary',
      primaryIp: '192.168.1.20',
      gateway: '192.168.1.253',
      netmask: '255.255.255.0',
      privateIps: ['192.168.1.20', '192.168.1.21', '192.168.1.22'],
      vswitchId: 'vsw-primary',
      vswitchCidr: '192.168.1.0/24',
    });
  });

  test('nic() of an absent MAC is MetadataNotFound naming the path', async () => {
    const error = await failure(client().nic(SECONDARY_MAC), 'MetadataNotFound');
    expect(error.message).toContain(`/latest/meta-data/network/interfaces/macs/${SECONDARY_MAC}/`);
    expect(error.status).toBe(404);
    expect(error.retryable).toBe(false);
  });

  test('nic() refuses something that is not a MAC without asking the service', async () => {
    await expect(client().nic('../instance-id')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(gets()).toBe(0);
  });

  test('nicIfPresent is undefined until the attached ENI shows up', async () => {
    const metadata = client();
    await expect(metadata.nicIfPresent(SECONDARY_MAC)).resolves.toBeUndefined();
    source.views.set(INSTANCE_ID, instanceView({ nics: [primaryNic(), secondaryNic()] }));
    const nic = await metadata.nicIfPresent(SECONDARY_MAC);
    expect(nic?.eniId).toBe('eni-secondary');
    expect(nic?.privateIps).toHaveLength(3);
    source.views.set(INSTANCE_ID, instanceView());
    await expect(metadata.nicIfPresent(SECONDARY_MAC)).resolves.toBeUndefined();
  });

  test('an unknown path is MetadataNotFound', async () => {
    const error = await failure(client().get('no-such-thing'), 'MetadataNotFound');
    expect(error.message).toContain('/latest/meta-data/no-such-thing');
    expect(isMetadataError(error, 'MetadataNotFound')).toBe(true);
  });

  test('RAM role name and credentials', async () => {
    const metadata = client();
    await expect(metadata.ramRoleName()).resolves.toBe(ROLE);
    const sts = await metadata.ramRoleCredentials(ROLE);
    expect(sts).toEqual({
      accessKeyId: 'STS.access-id',
      accessKeySecret: STS_SECRET,
      securityToken: STS_TOKEN,
      expiresAt: clock.now() + 3_600_000,
    });
  });

  test('no RAM role: ramRoleName() is undefined', async () => {
    source.views.set(INSTANCE_ID, instanceView({ ramRoleName: undefined }));
    await expect(client().ramRoleName()).resolves.toBeUndefined();
  });
});

describe('parse failures name the path and the value', () => {
  function serve(path: string, body: string): void {
    server.interceptors.push((request, response) => {
      if (request.method !== 'GET' || !request.url?.endsWith(path)) return false;
      response.writeHead(200).end(body);
      return true;
    });
  }

  test.each([
    ['private-ipv4s', 'private-ipv4s', '["192.168.1.20", 7]'],
    ['gateway', 'gateway', '192.168.1.999'],
    ['vswitch-cidr-block', 'vswitch-cidr-block', '192.168.1.5/24'],
  ])('a malformed %s', async (_name, leaf, body) => {
    source.views.set(INSTANCE_ID, instanceView({ nics: [primaryNic(), secondaryNic()] }));
    serve(`/${SECONDARY_MAC}/${leaf}`, body);
    const error = await failure(client().nic(SECONDARY_MAC), 'MetadataMalformed');
    expect(error.message).toContain(`${SECONDARY_MAC}/${leaf}`);
    expect(error.message).toContain(JSON.stringify(body));
  });

  test('a malformed MAC listing', async () => {
    serve('/macs/', `${PRIMARY_MAC}/\nnot-a-mac/`);
    const error = await failure(client().macs(), 'MetadataMalformed');
    expect(error.message).toContain('network/interfaces/macs/');
    expect(error.message).toContain('not-a-mac');
  });

  test('the unquoted bracketed form of private-ipv4s is accepted', async () => {
    source.views.set(INSTANCE_ID, instanceView({ nics: [primaryNic(), secondaryNic()] }));
    serve(`/${SECONDARY_MAC}/private-ipv4s`, '[192.168.1.20, 192.168.1.21]');
    const nic = await client().nic(SECONDARY_MAC);
    expect(nic.privateIps).toEqual(['192.168.1.20', '192.168.1.21']);
  });

  test('malformed RAM credentials never quote the body', async () => {
    serve(`/${ROLE}`, `{"AccessKeySecret":"${STS_SECRET}",`);
    const error = await failure(client().ramRoleCredentials(ROLE), 'MetadataMalformed');
    expect(error.message).not.toContain(STS_SECRET);
    expect(error.cause).toBeUndefined();
  });

  test('RAM credentials without Code Success are refused', async () => {
    serve(`/${ROLE}`, JSON.stringify({ Code: 'Failed', AccessKeySecret: STS_SECRET }));
    const error = await failure(client().ramRoleCredentials(ROLE), 'MetadataMalformed');
    expect(error.message).toContain('"Failed"');
    expect(error.message).not.toContain(STS_SECRET);
  });
});

describe('tokens', () => {
  test('one PUT serves many GETs, sequential and concurrent', async () => {
    const metadata = client();
    await Promise.all([metadata.instanceId(), metadata.zoneId(), metadata.regionId()]);
    await metadata.instanceType();
    await metadata.nic(PRIMARY_MAC);
    expect(puts()).toBe(1);
    const tokens = new Set(server.requests.filter((r) => r.method === 'GET').map((r) => r.token));
    expect(tokens.size).toBe(1);
    expect([...tokens][0]).toMatch(/.{20,}/);
  });

  test('the token is re-fetched once half its TTL has passed', async () => {
    const metadata = client({ tokenTtlSeconds: 600 });
    await metadata.instanceId();
    await clock.advance(299_000);
    await metadata.instanceId();
    expect(puts()).toBe(1);
    await clock.advance(1_000);
    await metadata.instanceId();
    expect(puts()).toBe(2);
  });

  test('asks for the configured TTL (default 21600)', async () => {
    let ttl: string | undefined;
    server.interceptors.push((request) => {
      if (request.method === 'PUT') {
        ttl = request.headers['x-aliyun-ecs-metadata-token-ttl-seconds'] as string;
      }
      return false;
    });
    await client().instanceId();
    expect(ttl).toBe('21600');
  });

  test('a 401 (the service forgot its tokens) fetches a new token and retries once', async () => {
    const metadata = client();
    await metadata.instanceId();
    server.tokens.revokeAll();
    await expect(metadata.zoneId()).resolves.toBe('cn-hangzhou-i');
    expect(puts()).toBe(2);
    expect(gets()).toBe(3);
  });

  test('a token the server expired early (on the clock) is replaced after the 401', async () => {
    // The server grants 1 s whatever is asked; the client plans to reuse it for 10 minutes.
    server.interceptors.push((request) => {
      if (request.method === 'PUT')
        request.headers['x-aliyun-ecs-metadata-token-ttl-seconds'] = '1';
      return false;
    });
    const metadata = client({ tokenTtlSeconds: 1_200 });
    await metadata.instanceId();
    await clock.advance(1_000);
    await expect(metadata.instanceId()).resolves.toBe(INSTANCE_ID);
    expect(puts()).toBe(2);
    expect(server.requests.map((request) => request.method)).toEqual([
      'PUT',
      'GET',
      'GET',
      'PUT',
      'GET',
    ]);
  });

  test('a 401 even with a fresh token is MetadataUnauthorized', async () => {
    failNext(server, 401, 2);
    const error = await failure(client().instanceId(), 'MetadataUnauthorized');
    expect(error.status).toBe(401);
    expect(puts()).toBe(2);
  });

  test('token-less fallback when the token endpoint is 404, logged once', async () => {
    const tokenless = await startMetadataServer(source, { clock });
    try {
      failNext(tokenless, 404, 1, 'PUT');
      const metadata = new MetadataClient({ baseUrl: tokenless.url(), clock, log: captured.log });
      await expect(metadata.instanceId()).resolves.toBe(INSTANCE_ID);
      await expect(metadata.zoneId()).resolves.toBe('cn-hangzhou-i');
      const methods = tokenless.requests.map((request) => request.method);
      expect(methods).toEqual(['PUT', 'GET', 'GET']);
      expect(tokenless.requests.every((request) => request.token === undefined)).toBe(true);
      const warnings = captured.lines().filter((line) => /IMDSv1/.test(String(line.msg)));
      expect(warnings).toHaveLength(1);
    } finally {
      await tokenless.close();
    }
  });

  test('a 403 on the token PUT is MetadataForbidden, not a fallback', async () => {
    failNext(server, 403, 1, 'PUT');
    await failure(client().instanceId(), 'MetadataForbidden');
    expect(gets()).toBe(0);
  });

  test('a token-less 403 (requireToken) is MetadataForbidden', async () => {
    failNext(server, 405, 1, 'PUT');
    await failure(client().instanceId(), 'MetadataForbidden');
  });

  test('tokens never reach the logs', async () => {
    const metadata = client({ maxRetries: 1 });
    await metadata.instanceId();
    failNext(server, 500, 1);
    await drive(clock, metadata.instanceId());
    const token = server.requests.find((request) => request.token !== undefined)?.token;
    expect(token).toBeDefined();
    expect(captured.text()).not.toContain(token!);
    expect(captured.text()).toContain('retrying');
  });
});

describe('retries', () => {
  test.each([500, 503, 429])('HTTP %i is retried with backoff on the clock', async (status) => {
    failNext(server, status, 2);
    const pending = client({ maxRetries: 3 }).instanceId();
    await expect(drive(clock, pending)).resolves.toBe(INSTANCE_ID);
    expect(gets()).toBe(3);
  });

  test('the backoff waits on the clock, not on real time', async () => {
    failNext(server, 500, 1);
    let settled = false;
    const pending = client()
      .instanceId()
      .finally(() => {
        settled = true;
      });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    expect(gets()).toBe(1);
    await expect(drive(clock, pending)).resolves.toBe(INSTANCE_ID);
  });

  test('a failing token PUT is retried too', async () => {
    failNext(server, 503, 1, 'PUT');
    await expect(drive(clock, client().instanceId())).resolves.toBe(INSTANCE_ID);
    expect(puts()).toBe(2);
  });

  test('after maxRetries it fails as MetadataUnavailable, retryable', async () => {
    failNext(server, 500, 10);
    const error = await failure(
      drive(clock, client({ maxRetries: 2 }).instanceId()),
      'MetadataUnavailable',
    );
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(500);
    expect(gets()).toBe(3);
  });

  test('a 404 is not retried', async () => {
    await failure(client({ maxRetries: 3 }).get('nope'), 'MetadataNotFound');
    expect(gets()).toBe(1);
  });

  test('an unreachable service is MetadataUnavailable with the reason', async () => {
    const url = server.url();
    await server.close();
    const metadata = new MetadataClient({ baseUrl: url, clock, log: captured.log, maxRetries: 0 });
    const error = await failure(metadata.instanceId(), 'MetadataUnavailable');
    expect(error.message).toMatch(/ECONNREFUSED/);
    server = await startMetadataServer(source, { clock });
  });

  test('a hung request times out, is retried, and then fails', async () => {
    const hung: Array<() => void> = [];
    server.interceptors.push((request, response) => {
      if (request.method !== 'GET') return false;
      hung.push(() => response.destroy());
      return true;
    });
    const started = Date.now();
    const pending = client({ requestTimeoutMs: 100, maxRetries: 1 }).instanceId();
    const error = await failure(drive(clock, pending, 50), 'MetadataUnavailable');
    expect(error.message).toContain('no answer within 100 ms');
    expect(hung).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    hung.forEach((end) => end());
  });
});

describe('options', () => {
  test.each([
    { tokenTtlSeconds: 0 },
    { tokenTtlSeconds: 21_601 },
    { requestTimeoutMs: 0 },
    { maxRetries: -1 },
    { maxRetries: 1.5 },
  ])('refuses %j', (overrides) => {
    expect(() => client(overrides)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
