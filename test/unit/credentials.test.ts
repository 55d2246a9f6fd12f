import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseCredentialFile } from '../../src/cloud/aliyun/credential-sources.js';
import {
  EXPIRY_SAFETY_MS,
  MIN_REFRESH_INTERVAL_MS,
  resolveCredentialProvider,
} from '../../src/cloud/aliyun/credentials.js';
import type {
  CredentialProvider,
  ResolveCredentialsInput,
} from '../../src/cloud/aliyun/credentials.js';
import { MetadataClient } from '../../src/cloud/aliyun/metadata-client.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import {
  captureLog,
  FakeMetadataSource,
  INSTANCE_ID,
  instanceView,
  ROLE,
  startMetadataServer,
  STS_SECRET,
  STS_TOKEN,
  stsCredentials,
} from './metadata-fixture.js';
import type { CapturedLog, MetadataServer } from './metadata-fixture.js';

const CONFIG_SECRET = 'config-secret-DO-NOT-LOG-91c2';
const ENV_SECRET = 'env-secret-DO-NOT-LOG-55d0';
const FILE_SECRET = 'file-secret-DO-NOT-LOG-3b8e';
const FILE_TOKEN = 'file-token-DO-NOT-LOG-aa01';
const SECRETS = [CONFIG_SECRET, ENV_SECRET, FILE_SECRET, FILE_TOKEN, STS_SECRET, STS_TOKEN];
const HOUR = 3_600_000;
const MINUTE = 60_000;

let clock: FakeClock;
let source: FakeMetadataSource;
let server: MetadataServer;
let captured: CapturedLog;
let dir: string;
let metadata: MetadataClient;

function resolve(overrides: Partial<ResolveCredentialsInput> = {}): CredentialProvider | undefined {
  return resolveCredentialProvider({ env: {}, clock, log: captured.log, ...overrides });
}

function mustResolve(overrides: Partial<ResolveCredentialsInput> = {}): CredentialProvider {
  const provider = resolve(overrides);
  expect(provider).toBeDefined();
  return provider!;
}

function writeCredentialFile(
  name: string,
  fields: Record<string, unknown>,
  secretSuffix = '',
): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      AccessKeyId: `file-id${secretSuffix}`,
      AccessKeySecret: `${FILE_SECRET}${secretSuffix}`,
      ...fields,
    }),
  );
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<TerwayError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TerwayError);
  return error as TerwayError;
}

beforeEach(async () => {
  clock = new FakeClock();
  source = new FakeMetadataSource();
  source.views.set(INSTANCE_ID, instanceView());
  source.credentials.set(INSTANCE_ID, stsCredentials(clock, HOUR));
  server = await startMetadataServer(source, { clock, requireToken: true });
  captured = captureLog();
  metadata = new MetadataClient({ baseUrl: server.url(), clock, log: captured.log, maxRetries: 0 });
  dir = mkdtempSync(join(tmpdir(), 'terway-credentials-'));
});

afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  // Every test: no secret, in any form, reached the logs.
  const text = captured.text();
  for (const secret of SECRETS) expect(text).not.toContain(secret);
});

describe('precedence', () => {
  const config = { accessKey: 'config-id', accessSecret: CONFIG_SECRET };
  const env = {
    ALIBABA_CLOUD_ACCESS_KEY_ID: 'env-id',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: ENV_SECRET,
    ALIBABA_CLOUD_ECS_METADATA: ROLE,
  };

  test('config beats credential_path, environment and RAM role', async () => {
    const path = writeCredentialFile('creds.json', {});
    const provider = mustResolve({
      credentials: config,
      credentialPath: path,
      env,
      metadata,
      useRamRole: true,
    });
    expect(provider.source).toBe('config');
    await expect(provider.get()).resolves.toEqual({
      accessKeyId: 'config-id',
      accessKeySecret: CONFIG_SECRET,
    });
  });

  test('credential_path beats environment and RAM role', async () => {
    const path = writeCredentialFile('creds.json', {});
    const provider = mustResolve({ credentialPath: path, env, metadata, useRamRole: true });
    expect(provider.source).toBe('credential_path');
    expect((await provider.get()).accessKeyId).toBe('file-id');
  });

  test('environment beats RAM role', async () => {
    const provider = mustResolve({ env, metadata, useRamRole: true });
    expect(provider.source).toBe('environment');
    await expect(provider.get()).resolves.toEqual({
      accessKeyId: 'env-id',
      accessKeySecret: ENV_SECRET,
    });
  });

  test('ALIBABA_CLOUD_ECS_METADATA selects the RAM role even without useRamRole', async () => {
    const provider = mustResolve({ env: { ALIBABA_CLOUD_ECS_METADATA: ROLE }, metadata });
    expect(provider.source).toBe('ram_role');
    expect((await provider.get()).securityToken).toBe(STS_TOKEN);
  });

  test('useRamRole discovers the role from metadata', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    expect(provider.source).toBe('ram_role');
    const credentials = await provider.get();
    expect(credentials).toEqual({
      accessKeyId: 'STS.access-id',
      accessKeySecret: STS_SECRET,
      securityToken: STS_TOKEN,
      expiresAt: clock.now() + HOUR,
    });
  });

  test('nothing configured is undefined', () => {
    expect(resolve({ metadata })).toBeUndefined();
    expect(resolve({ env: { ALIBABA_CLOUD_ACCESS_KEY_ID: '', HOME: '/root' } })).toBeUndefined();
  });

  test('the chosen source is logged, never its secret', () => {
    mustResolve({ credentials: config });
    const line = captured.lines().find((entry) => entry.source === 'config');
    expect(line?.msg).toMatch(/config/);
  });

  test('half an environment key pair is a config error', () => {
    expect(() => resolve({ env: { ALIBABA_CLOUD_ACCESS_KEY_ID: 'env-id' } })).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: expect.stringContaining('ALIBABA_CLOUD_ACCESS_KEY_SECRET'),
      }),
    );
  });

  test('a RAM role without a metadata client is a config error', () => {
    expect(() => resolve({ useRamRole: true })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });
});

describe('SDK credential', () => {
  test('static keys are access_key with an empty token', async () => {
    const provider = mustResolve({ credentials: { accessKey: 'id', accessSecret: CONFIG_SECRET } });
    await expect(provider.sdkCredential().getCredential()).resolves.toEqual({
      accessKeyId: 'id',
      accessKeySecret: CONFIG_SECRET,
      securityToken: '',
      type: 'access_key',
      providerName: 'static',
    });
  });

  test('environment STS credentials are sts', async () => {
    const provider = mustResolve({
      env: {
        ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.env',
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: ENV_SECRET,
        ALIBABA_CLOUD_SECURITY_TOKEN: 'env-token',
      },
    });
    const model = await provider.sdkCredential().getCredential();
    expect(model).toMatchObject({ type: 'sts', securityToken: 'env-token', providerName: 'env' });
  });

  test('the RAM role is sts, and the SDK sees renewed credentials', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    const hook = provider.sdkCredential();
    expect(await hook.getCredential()).toMatchObject({
      type: 'sts',
      securityToken: STS_TOKEN,
      providerName: 'ecs_ram_role',
    });
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, 2 * HOUR, '-renewed'));
    await clock.advance(45 * MINUTE);
    expect((await hook.getCredential()).securityToken).toBe(`${STS_TOKEN}-renewed`);
  });
});

describe('credential_path', () => {
  test('a file without Expiration is read once', async () => {
    const path = writeCredentialFile('static.json', {});
    const provider = mustResolve({ credentialPath: path });
    await provider.get();
    writeCredentialFile('static.json', {}, '-2');
    await clock.advance(24 * HOUR);
    expect((await provider.get()).accessKeyId).toBe('file-id');
  });

  test('an STS file is re-read when its credentials near expiry', async () => {
    const expiration = (ms: number) => new Date(clock.now() + ms).toISOString();
    const path = writeCredentialFile('sts.json', {
      SecurityToken: FILE_TOKEN,
      Expiration: expiration(HOUR),
    });
    const provider = mustResolve({ credentialPath: path });
    expect(await provider.get()).toMatchObject({ securityToken: FILE_TOKEN });
    // Something (a sidecar, a mounted secret) rewrites the file with fresh credentials.
    writeCredentialFile(
      'sts.json',
      { SecurityToken: `${FILE_TOKEN}-2`, Expiration: expiration(2 * HOUR) },
      '-2',
    );
    await clock.advance(30 * MINUTE);
    expect((await provider.get()).securityToken).toBe(FILE_TOKEN);
    await clock.advance(11 * MINUTE);
    const renewed = await provider.get();
    expect(renewed).toMatchObject({
      accessKeyId: 'file-id-2',
      accessKeySecret: `${FILE_SECRET}-2`,
      securityToken: `${FILE_TOKEN}-2`,
    });
  });

  test('a missing file is CredentialsUnavailable naming the path', async () => {
    const path = join(dir, 'absent.json');
    const error = await rejection(mustResolve({ credentialPath: path }).get());
    expect(error).toMatchObject({ code: 'CLOUD_ERROR', cloudCode: 'CredentialsUnavailable' });
    expect(error.message).toContain(path);
    expect(error.message).toContain('ENOENT');
  });

  test('malformed JSON never echoes the file', async () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, `{"AccessKeyId":"x","AccessKeySecret":"${FILE_SECRET}",`);
    const error = await rejection(mustResolve({ credentialPath: path }).get());
    expect(error.cloudCode).toBe('CredentialsUnavailable');
    expect(error.message).toContain('not valid JSON');
    expect(error.message).not.toContain(FILE_SECRET);
    expect(JSON.stringify(error.cause, Object.getOwnPropertyNames(error.cause))).not.toContain(
      FILE_SECRET,
    );
  });

  test.each([
    [{ AccessKeyId: 'id' }, 'no AccessKeySecret'],
    [{ AccessKeyId: 'id', AccessKeySecret: 7 }, 'AccessKeySecret is not a string'],
    [{ AccessKeyId: 'id', AccessKeySecret: 's', Expiration: 'soon' }, 'not an ISO 8601'],
    [['id'], 'not a JSON object'],
  ])('parseCredentialFile refuses %j', (document, message) => {
    expect(() => parseCredentialFile('/etc/creds.json', JSON.stringify(document))).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: expect.stringContaining(message),
      }),
    );
  });

  test('a file whose credentials already expired is CredentialsExpired', async () => {
    const path = writeCredentialFile('old.json', {
      SecurityToken: FILE_TOKEN,
      Expiration: new Date(clock.now() - MINUTE).toISOString(),
    });
    const error = await rejection(mustResolve({ credentialPath: path }).get());
    expect(error.message).toMatch(/expired/);
  });
});

describe('RAM role refresh', () => {
  test('renews once less than a third of the lifetime remains, not before', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    await provider.get();
    expect(source.credentialReads).toBe(1);
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, 2 * HOUR, '-2'));
    await clock.advance(39 * MINUTE);
    expect((await provider.get()).securityToken).toBe(STS_TOKEN);
    expect(source.credentialReads).toBe(1);
    await clock.advance(2 * MINUTE);
    expect((await provider.get()).securityToken).toBe(`${STS_TOKEN}-2`);
    expect(source.credentialReads).toBe(2);
  });

  test('short-lived credentials renew once less than 5 minutes remain', async () => {
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, 9 * MINUTE));
    const provider = mustResolve({ metadata, useRamRole: true });
    await provider.get();
    await clock.advance(3 * MINUTE);
    await provider.get();
    expect(source.credentialReads).toBe(1);
    await clock.advance(1 * MINUTE + 1);
    await provider.get();
    expect(source.credentialReads).toBe(2);
  });

  test('concurrent callers share one load (single flight), first load and renewal', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    const first = await Promise.all(Array.from({ length: 20 }, () => provider.get()));
    expect(new Set(first.map((credentials) => credentials.securityToken)).size).toBe(1);
    expect(source.credentialReads).toBe(1);
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, 2 * HOUR, '-2'));
    await clock.advance(50 * MINUTE);
    const renewed = await Promise.all(Array.from({ length: 20 }, () => provider.get()));
    expect(renewed.every((credentials) => credentials.securityToken === `${STS_TOKEN}-2`)).toBe(
      true,
    );
    expect(source.credentialReads).toBe(2);
  });

  test('the role is discovered once, not before every renewal', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    await provider.get();
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, 2 * HOUR, '-2'));
    await clock.advance(50 * MINUTE);
    await provider.get();
    const listings = server.requests.filter((request) =>
      request.path.endsWith('/ram/security-credentials/'),
    );
    expect(listings).toHaveLength(1);
  });

  test('a failed renewal keeps the valid credentials, warns, and retries later', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    await provider.get();
    source.credentials.delete(INSTANCE_ID);
    await clock.advance(50 * MINUTE);
    expect((await provider.get()).securityToken).toBe(STS_TOKEN);
    const warnings = captured.lines().filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.reason)).toContain('MetadataNotFound');
    // Within the retry interval the cached credentials are served without asking again.
    const reads = source.credentialReads;
    await clock.advance(MIN_REFRESH_INTERVAL_MS - 1);
    await provider.get();
    expect(source.credentialReads).toBe(reads);
    // Afterwards it tries again, and a recovered service renews them.
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, HOUR, '-3'));
    await clock.advance(1);
    expect((await provider.get()).securityToken).toBe(`${STS_TOKEN}-3`);
  });

  test('expired and unrenewable is CredentialsExpired, retryable', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    await provider.get();
    source.credentials.delete(INSTANCE_ID);
    await clock.advance(HOUR - EXPIRY_SAFETY_MS);
    const error = await rejection(provider.get());
    expect(error).toMatchObject({
      code: 'CLOUD_ERROR',
      cloudCode: 'CredentialsExpired',
      retryable: true,
    });
    expect(error.message).toContain('ram_role');
  });

  test('an instance without a role is CredentialsUnavailable', async () => {
    source.views.set(INSTANCE_ID, instanceView({ ramRoleName: undefined }));
    const error = await rejection(mustResolve({ metadata, useRamRole: true }).get());
    expect(error.cloudCode).toBe('CredentialsUnavailable');
    expect(error.message).toMatch(/no RAM role/);
  });

  test('renewals are logged with source, role and expiry only', async () => {
    const provider = mustResolve({ metadata, useRamRole: true });
    await provider.get();
    source.credentials.set(INSTANCE_ID, stsCredentials(clock, 2 * HOUR, '-2'));
    await clock.advance(50 * MINUTE);
    await provider.get();
    const renewed = captured.lines().find((line) => line.msg === 'cloud credentials renewed');
    expect(renewed).toMatchObject({ source: 'ram_role' });
    expect(typeof renewed!['role']).toBe('string');
    expect(Object.keys(renewed!).sort()).toEqual(
      ['expiresAt', 'hostname', 'level', 'msg', 'pid', 'role', 'source', 'time'].sort(),
    );
  });
});
