import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as Ecs from '@alicloud/ecs20140526';
import { $OpenApiUtil } from '@alicloud/openapi-core';

import { Authenticator, MAX_CLOCK_SKEW_MS } from '../../src/emulator/auth/authenticator.js';
import {
  EMPTY_BODY_SHA256,
  acs3CanonicalRequest,
  acs3Signature,
  canonicalHeaders,
  canonicalQuery,
  parseAcs3Authorization,
  percentEncode,
  rpcSignature,
} from '../../src/emulator/auth/signature.js';
import { StsIssuer } from '../../src/emulator/auth/sts-issuer.js';
import { codeOf } from '../support/api-error-code.js';
import { decodeQuery } from '../../src/emulator/wire/http-io.js';
import { FakeClock } from '../../src/util/fake-clock.js';

const KEY = { accessKeyId: 'AKID_TEST', accessKeySecret: 'secret-1' };

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A server that records what the official SDK sends and answers an empty success. */
let captured: Captured[] = [];
let server: ReturnType<typeof createServer>;
let endpoint = '';

beforeAll(async () => {
  server = createServer((request, response) => {
    captured.push({
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
    });
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"RequestId":"X"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function sdkCreateRequest(extra: Record<string, unknown> = {}): Promise<Captured> {
  captured = [];
  const client = new Ecs.default.default(
    new $OpenApiUtil.Config({ ...KEY, endpoint, protocol: 'http', ...extra }),
  );
  await client.createNetworkInterface(
    new Ecs.CreateNetworkInterfaceRequest({
      regionId: 'cn-hangzhou',
      vSwitchId: 'vsw-1',
      securityGroupIds: ['sg-1', 'sg-2'],
      secondaryPrivateIpAddressCount: 2,
      description: "a b*c!'()~",
      tag: [{ key: 'k8s', value: 'v 1' }],
      clientToken: 'tok-1',
    }),
  );
  const request = captured[0];
  if (request === undefined) throw new Error('nothing captured');
  return request;
}

function signedSubset(headers: IncomingHttpHeaders, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, String(headers[name])]));
}

describe('percent-encoding and canonical query', () => {
  test('encodes the RFC 3986 sub-delims that encodeURIComponent leaves raw', () => {
    expect(percentEncode("a b*c!'()~")).toBe('a%20b%2Ac%21%27%28%29~');
    expect(percentEncode('Tag.1.Key')).toBe('Tag.1.Key');
  });

  test('sorts keys and re-encodes decoded values', () => {
    expect(canonicalQuery({ b: 'x y', a: '1*', 'Tag.1.Key': 'k' })).toBe(
      'Tag.1.Key=k&a=1%2A&b=x%20y',
    );
  });

  test('decodes the query the way the SDK flattened it', () => {
    expect(
      decodeQuery(
        '?Description=a%20b*c&SecurityGroupIds.1=sg-1&SecurityGroupIds.2=sg-2&Tag.1.Value=v%201',
      ),
    ).toEqual({
      Description: 'a b*c',
      'SecurityGroupIds.1': 'sg-1',
      'SecurityGroupIds.2': 'sg-2',
      'Tag.1.Value': 'v 1',
    });
    expect(decodeQuery('InstanceIds=%5B%22i-1%22%2C%22i-2%22%5D&A=1&A=2')).toEqual({
      InstanceIds: '["i-1","i-2"]',
      A: '1',
    });
  });
});

describe('ACS3-HMAC-SHA256', () => {
  test('canonical headers: host, content-type and x-acs-* only, sorted, trimmed, multi-values joined', () => {
    const result = canonicalHeaders({
      Host: '127.0.0.1:1',
      'x-acs-b': ' 2 ',
      'X-Acs-A': ['z', 'y'],
      accept: 'application/json',
      'content-type': 'text/plain',
    });
    expect(result.names).toEqual(['content-type', 'host', 'x-acs-a', 'x-acs-b']);
    expect(result.text).toBe('content-type:text/plain\nhost:127.0.0.1:1\nx-acs-a:y,z\nx-acs-b:2\n');
  });

  test('the canonical request has a blank line between headers and SignedHeaders', () => {
    const text = acs3CanonicalRequest({
      method: 'post',
      query: { B: '2', A: 'x y' },
      headers: { host: 'h:1', 'x-acs-action': 'Act' },
      bodySha256: EMPTY_BODY_SHA256,
    });
    expect(text).toBe(
      `POST\n/\nA=x%20y&B=2\nhost:h:1\nx-acs-action:Act\n\nhost;x-acs-action\n${EMPTY_BODY_SHA256}`,
    );
  });

  test("recomputes the SDK's own signature from what arrived on the wire", async () => {
    const request = await sdkCreateRequest();
    const authorization = parseAcs3Authorization(String(request.headers.authorization));
    expect(authorization).toBeDefined();
    if (authorization === undefined) return;
    expect(authorization.accessKeyId).toBe(KEY.accessKeyId);
    expect(authorization.signedHeaders).toEqual(canonicalHeaders(request.headers).names);
    const input = {
      method: request.method,
      query: decodeQuery(new URL(request.url, 'http://x').search),
      headers: signedSubset(request.headers, authorization.signedHeaders),
      bodySha256: EMPTY_BODY_SHA256,
    };
    expect(acs3Signature(KEY.accessKeySecret, input)).toBe(authorization.signature);
    expect(acs3Signature('another-secret', input)).not.toBe(authorization.signature);
  });

  test('rejects malformed Authorization headers', () => {
    expect(
      parseAcs3Authorization('HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=x'),
    ).toBeUndefined();
    expect(parseAcs3Authorization('ACS3-HMAC-SHA256 Credential=a,Signature=x')).toBeUndefined();
  });
});

describe('legacy RPC HMAC-SHA1', () => {
  test("recomputes the SDK's v2 signature", async () => {
    const request = await sdkCreateRequest({ signatureAlgorithm: 'v2' });
    const query = decodeQuery(new URL(request.url, 'http://x').search);
    expect(query.Action).toBe('CreateNetworkInterface');
    expect(query.SignatureMethod).toBe('HMAC-SHA1');
    expect(rpcSignature(KEY.accessKeySecret, request.method, query)).toBe(query.Signature);
  });
});

describe('Authenticator', () => {
  function authenticatorAt(clock: FakeClock, sts = new StsIssuer(clock)): Authenticator {
    return new Authenticator(new Map([[KEY.accessKeyId, KEY.accessKeySecret]]), sts, clock);
  }

  async function rawRequest(extra: Record<string, unknown> = {}) {
    const request = await sdkCreateRequest(extra);
    return {
      method: request.method,
      headers: request.headers,
      query: decodeQuery(new URL(request.url, 'http://x').search),
      body: Buffer.alloc(0),
    };
  }

  test('accepts the SDK request and returns its business parameters', async () => {
    const request = await rawRequest();
    const result = authenticatorAt(new FakeClock(Date.now())).authenticate(request);
    expect(result.action).toBe('CreateNetworkInterface');
    expect(result.version).toBe('2014-05-26');
    expect(result.params['SecurityGroupIds.2']).toBe('sg-2');
  });

  test('a tampered parameter, an unknown key, a replayed nonce and a skewed clock are refused', async () => {
    const request = await rawRequest();
    const clock = new FakeClock(Date.now());
    expect(
      codeOf(() =>
        authenticatorAt(clock).authenticate({
          ...request,
          query: { ...request.query, VSwitchId: 'vsw-2' },
        }),
      ),
    ).toBe('400 SignatureDoesNotMatch');
    expect(
      codeOf(() => authenticatorAt(clock).authenticate({ ...request, body: Buffer.from('x') })),
    ).toBe('400 SignatureDoesNotMatch');
    const unknownKey = new Authenticator(new Map([['other', 's']]), new StsIssuer(clock), clock);
    expect(codeOf(() => unknownKey.authenticate(request))).toBe('404 InvalidAccessKeyId.NotFound');
    const once = authenticatorAt(clock);
    once.authenticate(request);
    expect(codeOf(() => once.authenticate(request))).toBe('400 SignatureNonceUsed');
    const late = new FakeClock(Date.now() + MAX_CLOCK_SKEW_MS + 60_000);
    expect(codeOf(() => authenticatorAt(late).authenticate(request))).toBe(
      '400 InvalidTimeStamp.Expired',
    );
  });

  test('an unsigned x-acs header makes the signature incomplete', async () => {
    const request = await rawRequest();
    const headers = { ...request.headers, 'x-acs-extra': 'sneaked-in' };
    expect(
      codeOf(() =>
        authenticatorAt(new FakeClock(Date.now())).authenticate({ ...request, headers }),
      ),
    ).toBe('400 IncompleteSignature');
    expect(
      codeOf(() =>
        authenticatorAt(new FakeClock(Date.now())).authenticate({
          ...request,
          headers: { ...request.headers, authorization: undefined },
        }),
      ),
    ).toBe('400 IncompleteSignature');
  });

  test('STS credentials are valid until they expire', async () => {
    const clock = new FakeClock(Date.now());
    const sts = new StsIssuer(clock, 10 * 60_000);
    const credentials = sts.credentialsFor('i-1');
    const request = await rawRequest({
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      securityToken: credentials.securityToken,
    });
    expect(request.headers['x-acs-security-token']).toBe(credentials.securityToken);
    expect(authenticatorAt(clock, sts).authenticate(request).stsInstanceId).toBe('i-1');
    await clock.advance(10 * 60_000);
    const fresh = await rawRequest({
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      securityToken: credentials.securityToken,
    });
    expect(codeOf(() => authenticatorAt(clock, sts).authenticate(fresh))).toBe(
      '400 InvalidSecurityToken.Expired',
    );
    const forged = await rawRequest({
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: 'x',
      securityToken: 'CAISforged',
    });
    expect(codeOf(() => authenticatorAt(clock, sts).authenticate(forged))).toBe(
      '400 InvalidSecurityToken.Malformed',
    );
  });
});
