import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { request as httpRequest } from 'node:http';

import { FakeClock } from '../../src/util/fake-clock.js';
import {
  FakeMetadataSource,
  INSTANCE_ID,
  instanceView,
  PRIMARY_MAC,
  ROLE,
  SECONDARY_MAC,
  secondaryNic,
  startMetadataServer,
  stsCredentials,
} from './metadata-fixture.js';
import type { MetadataServer } from './metadata-fixture.js';

const TTL_HEADER = 'X-aliyun-ecs-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'X-aliyun-ecs-metadata-token';

let clock: FakeClock;
let source: FakeMetadataSource;
let server: MetadataServer;

interface Answer {
  status: number;
  body: string;
  headers: Headers;
}

async function call(
  path: string,
  init: { method?: string; headers?: Record<string, string>; instanceId?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${server.url(init.instanceId)}${path}`, {
    method: init.method ?? 'GET',
    headers: init.headers ?? {},
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

async function token(ttl = '21600', instanceId?: string): Promise<string> {
  const answer = await call('/latest/api/token', {
    method: 'PUT',
    headers: { [TTL_HEADER]: ttl },
    ...(instanceId === undefined ? {} : { instanceId }),
  });
  expect(answer.status).toBe(200);
  return answer.body;
}

async function metaData(path: string): Promise<Answer> {
  return call(`/latest/meta-data/${path}`);
}

beforeEach(async () => {
  clock = new FakeClock();
  source = new FakeMetadataSource();
  source.views.set(INSTANCE_ID, instanceView());
  source.credentials.set(INSTANCE_ID, stsCredentials(clock, 3_600_000));
  server = await startMetadataServer(source, { clock });
});

afterEach(async () => {
  await server.close();
});

describe('instance paths', () => {
  test.each([
    ['instance-id', INSTANCE_ID],
    ['region-id', 'cn-hangzhou'],
    ['zone-id', 'cn-hangzhou-i'],
    ['instance/instance-type', 'ecs.g6e.large'],
    ['hostname', 'iZbp1testinstanceZ'],
    ['owner-account-id', '1234567890123456'],
    ['vpc-id', 'vpc-test'],
    ['vpc-cidr-block', '192.168.0.0/16'],
    ['vswitch-id', 'vsw-primary'],
    ['vswitch-cidr-block', '192.168.1.0/24'],
    ['mac', PRIMARY_MAC],
    ['private-ipv4', '192.168.1.10'],
  ])('meta-data/%s is %j as plain text with no trailing newline', async (path, expected) => {
    const answer = await metaData(path);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(expected);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  test('meta-data/ lists the top-level names, directories with a trailing slash', async () => {
    const answer = await metaData('');
    expect(answer.status).toBe(200);
    const entries = answer.body.split('\n');
    expect(entries).toEqual(
      expect.arrayContaining([
        'instance-id',
        'region-id',
        'zone-id',
        'instance/',
        'network/',
        'ram/',
        'mac',
        'private-ipv4',
        'vpc-id',
        'vswitch-id',
      ]),
    );
    expect(answer.body.endsWith('\n')).toBe(false);
  });

  test('intermediate directories list their children', async () => {
    expect((await metaData('instance/')).body).toBe('instance-type');
    expect((await metaData('network/')).body).toBe('interfaces/');
    expect((await metaData('network/interfaces/')).body).toBe('macs/');
    expect((await call('/latest/dynamic/')).body).toBe('instance-identity/');
    expect((await call('/latest/')).body).toBe('dynamic/\nmeta-data/');
  });

  test('the instance identity document is JSON about this instance', async () => {
    const answer = await call('/latest/dynamic/instance-identity/document');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      'instance-id': INSTANCE_ID,
      'instance-type': 'ecs.g6e.large',
      'region-id': 'cn-hangzhou',
      'zone-id': 'cn-hangzhou-i',
      'owner-account-id': '1234567890123456',
      mac: PRIMARY_MAC,
      'private-ipv4': '192.168.1.10',
      'vpc-id': 'vpc-test',
    });
  });
});

describe('network interfaces', () => {
  beforeEach(() => {
    source.views.set(
      INSTANCE_ID,
      instanceView({ nics: [instanceView().nics[0]!, secondaryNic()] }),
    );
  });

  test('macs/ lists one mac/ per line, primary first', async () => {
    const answer = await metaData('network/interfaces/macs/');
    expect(answer.body).toBe(`${PRIMARY_MAC}/\n${SECONDARY_MAC}/`);
  });

  test.each([
    ['network-interface-id', 'eni-secondary'],
    ['primary-ip-address', '192.168.1.20'],
    ['gateway', '192.168.1.253'],
    ['netmask', '255.255.255.0'],
    ['private-ipv4s', '["192.168.1.20","192.168.1.21","192.168.1.22"]'],
    ['vswitch-id', 'vsw-primary'],
    ['vswitch-cidr-block', '192.168.1.0/24'],
    ['vpc-id', 'vpc-test'],
    ['vpc-cidr-block', '192.168.0.0/16'],
  ])('macs/<mac>/%s is %j', async (leaf, expected) => {
    const answer = await metaData(`network/interfaces/macs/${SECONDARY_MAC}/${leaf}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(expected);
  });

  test('a MAC directory lists its leaves', async () => {
    const answer = await metaData(`network/interfaces/macs/${SECONDARY_MAC}/`);
    expect(answer.body.split('\n')).toEqual(
      expect.arrayContaining(['network-interface-id', 'private-ipv4s', 'gateway', 'netmask']),
    );
    expect(answer.body).not.toContain('ipv6s');
  });

  test('MACs match case-insensitively', async () => {
    const answer = await metaData(
      `network/interfaces/macs/${SECONDARY_MAC.toUpperCase()}/network-interface-id`,
    );
    expect(answer.body).toBe('eni-secondary');
  });

  test('ipv6s is 404: there is no IPv6', async () => {
    expect((await metaData(`network/interfaces/macs/${SECONDARY_MAC}/ipv6s`)).status).toBe(404);
  });

  test('the view is read per request: a detached MAC disappears, an attached one appears', async () => {
    const leaf = `network/interfaces/macs/${SECONDARY_MAC}/network-interface-id`;
    expect((await metaData(leaf)).status).toBe(200);
    source.views.set(INSTANCE_ID, instanceView());
    expect((await metaData(leaf)).status).toBe(404);
    expect((await metaData('network/interfaces/macs/')).body).toBe(`${PRIMARY_MAC}/`);
    source.views.set(
      INSTANCE_ID,
      instanceView({ nics: [instanceView().nics[0]!, secondaryNic()] }),
    );
    expect((await metaData(leaf)).body).toBe('eni-secondary');
  });

  test('an unknown MAC is 404', async () => {
    expect((await metaData('network/interfaces/macs/00:16:3e:ff:ff:ff/gateway')).status).toBe(404);
  });
});

describe('RAM role', () => {
  test('security-credentials/ names the role', async () => {
    const answer = await metaData('ram/security-credentials/');
    expect(answer.body).toBe(ROLE);
  });

  test('security-credentials/<role> is the STS JSON, read from the source each time', async () => {
    const answer = await metaData(`ram/security-credentials/${ROLE}`);
    expect(answer.status).toBe(200);
    const sts = source.credentials.get(INSTANCE_ID)!;
    expect(JSON.parse(answer.body)).toEqual({
      AccessKeyId: sts.accessKeyId,
      AccessKeySecret: sts.accessKeySecret,
      SecurityToken: sts.securityToken,
      Expiration: sts.expiration,
      LastUpdated: sts.lastUpdated,
      Code: 'Success',
    });
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, 3_600_000, '-2'));
    const renewed = JSON.parse((await metaData(`ram/security-credentials/${ROLE}`)).body);
    expect(renewed.SecurityToken).toMatch(/-2$/);
  });

  test('another role name is 404', async () => {
    expect((await metaData('ram/security-credentials/OtherRole')).status).toBe(404);
  });

  test('an instance without a role has no ram/ at all', async () => {
    source.views.set(INSTANCE_ID, instanceView({ ramRoleName: undefined }));
    expect((await metaData('ram/security-credentials/')).status).toBe(404);
    expect((await metaData('')).body.split('\n')).not.toContain('ram/');
  });
});

describe('not found', () => {
  test.each([
    'no-such-path',
    'instance-id/',
    'instance/instance-type/extra',
    'network//interfaces/',
    'eipv4',
    'constructor',
    '__proto__',
    '%E0%A4%A',
  ])('meta-data/%s is 404', async (path) => {
    expect((await metaData(path)).status).toBe(404);
  });

  test('an unknown instance is 404 for GET and for a token', async () => {
    expect((await call('/latest/meta-data/instance-id', { instanceId: 'i-nope' })).status).toBe(
      404,
    );
    const put = await call('/latest/api/token', {
      method: 'PUT',
      instanceId: 'i-nope',
      headers: { [TTL_HEADER]: '60' },
    });
    expect(put.status).toBe(404);
  });
});

describe('methods', () => {
  test.each(['POST', 'DELETE', 'PATCH'])('%s is 405', async (method) => {
    expect((await call('/latest/meta-data/instance-id', { method })).status).toBe(405);
  });

  test('PUT on a metadata path and GET on the token path are 405', async () => {
    expect((await call('/latest/meta-data/instance-id', { method: 'PUT' })).status).toBe(405);
    expect((await call('/latest/api/token')).status).toBe(405);
  });
});

describe('tokens', () => {
  test.each([undefined, '0', '21601', '-1', 'abc', '1.5', ''])(
    'a TTL of %j is 400 with a plain-text reason',
    async (ttl) => {
      const answer = await call('/latest/api/token', {
        method: 'PUT',
        headers: ttl === undefined ? {} : { [TTL_HEADER]: ttl },
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toBe('Missing or Invalid Parameters');
    },
  );

  test.each(['1', '21600'])('a TTL of %s is accepted', async (ttl) => {
    const value = await token(ttl);
    expect(value).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  });

  test('a token PUT with X-Forwarded-For is 403', async () => {
    const answer = await call('/latest/api/token', {
      method: 'PUT',
      headers: { [TTL_HEADER]: '60', 'X-Forwarded-For': '10.0.0.1' },
    });
    expect(answer.status).toBe(403);
  });

  test('each PUT issues a different token', async () => {
    expect(await token()).not.toBe(await token());
  });

  test('a valid token is accepted', async () => {
    const value = await token('60');
    const answer = await call('/latest/meta-data/instance-id', {
      headers: { [TOKEN_HEADER]: value },
    });
    expect(answer.status).toBe(200);
  });

  test('a token expires after its TTL on the injected clock', async () => {
    const value = await token('60');
    await clock.advance(59_999);
    const headers = { [TOKEN_HEADER]: value };
    expect((await call('/latest/meta-data/instance-id', { headers })).status).toBe(200);
    await clock.advance(1);
    expect((await call('/latest/meta-data/instance-id', { headers })).status).toBe(401);
  });

  test('an unknown token is 401, even on an unknown path', async () => {
    const headers = { [TOKEN_HEADER]: 'forged' };
    expect((await call('/latest/meta-data/instance-id', { headers })).status).toBe(401);
    expect((await call('/latest/meta-data/nope', { headers })).status).toBe(401);
    expect((await call('/latest/dynamic/instance-identity/document', { headers })).status).toBe(
      401,
    );
  });

  test("another instance's token is 401", async () => {
    source.views.set('i-other', instanceView({ instanceId: 'i-other' }));
    const other = await token('60', 'i-other');
    const answer = await call('/latest/meta-data/instance-id', {
      headers: { [TOKEN_HEADER]: other },
    });
    expect(answer.status).toBe(401);
  });

  test('a revoked token is 401', async () => {
    const value = await token('60');
    server.tokens.revokeAll();
    const answer = await call('/latest/meta-data/instance-id', {
      headers: { [TOKEN_HEADER]: value },
    });
    expect(answer.status).toBe(401);
  });

  test('without requireToken, a token-less GET is served (IMDSv1)', async () => {
    expect((await metaData('instance-id')).status).toBe(200);
  });
});

describe('requireToken', () => {
  let strict: MetadataServer;

  beforeEach(async () => {
    strict = await startMetadataServer(source, { clock, requireToken: true });
  });

  afterEach(async () => {
    await strict.close();
  });

  test('a token-less GET is 403; with a token it is served', async () => {
    const url = `${strict.url()}/latest/meta-data/instance-id`;
    expect((await fetch(url)).status).toBe(403);
    const put = await fetch(`${strict.url()}/latest/api/token`, {
      method: 'PUT',
      headers: { [TTL_HEADER]: '60' },
    });
    const value = await put.text();
    const answer = await fetch(url, { headers: { [TOKEN_HEADER]: value } });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe(INSTANCE_ID);
  });
});

describe('request bodies', () => {
  test('a PUT with a body still gets its token and the connection stays usable', async () => {
    const url = new URL(`${server.url()}/latest/api/token`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        url,
        { method: 'PUT', headers: { [TTL_HEADER]: '60', 'content-type': 'text/plain' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end('ignored body');
    });
    expect(status).toBe(200);
  });
});
