/**
 * The production client (ApiCaller → SdkEcsApi → official SDK, and AliyunCloud on top) against
 * the emulator's after-the-fact faults: an answer lost after ECS acted, and an attach that
 * ECS accepts and then fails back to Available.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { AliyunCloud } from '../../src/cloud/aliyun/aliyun-cloud.js';
import { ApiCaller } from '../../src/cloud/aliyun/api-caller.js';
import { resolveCredentialProvider } from '../../src/cloud/aliyun/credentials.js';
import { ATTACH_FAILED } from '../../src/cloud/aliyun/in-use-watcher.js';
import { MetadataClient } from '../../src/cloud/aliyun/metadata-client.js';
import { readNodeIdentity } from '../../src/cloud/aliyun/node-identity.js';
import { SdkEcsApi } from '../../src/cloud/aliyun/sdk-ecs-api.js';
import { VSwitchSelector } from '../../src/cloud/aliyun/vswitch-selector.js';
import type { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import { systemClock } from '../../src/util/clock.js';
import { KEY, REGION, VSWITCH, ZONE, startEmulator } from './emulator-harness.js';

/** Short, so a withheld answer costs the test little; the emulator answers in milliseconds. */
const READ_TIMEOUT_MS = 400;
const log = pino({ level: 'silent' });
const started: EcsEmulator[] = [];

afterAll(async () => {
  await Promise.all(started.map((emulator) => emulator.stop()));
});

async function emulatorWith(...args: Parameters<typeof startEmulator>): Promise<EcsEmulator> {
  const emulator = await startEmulator(...args);
  started.push(emulator);
  return emulator;
}

/** The client stack exactly as connect.ts builds it, with quick retries. */
function productionApi(
  emulator: EcsEmulator,
  callerLog: pino.Logger = log,
): { api: SdkEcsApi; caller: ApiCaller } {
  const credentials = resolveCredentialProvider({
    credentials: { accessKey: KEY.accessKeyId, accessSecret: KEY.accessKeySecret },
    env: {},
    clock: systemClock,
    log,
  });
  if (credentials === undefined) throw new Error('no credentials');
  const caller = new ApiCaller({
    clock: systemClock,
    log: callerLog,
    retry: { jitter: 'none', baseDelayMs: 20 },
  });
  const api = new SdkEcsApi({
    regionId: REGION,
    endpoints: { ecs: emulator.endpoint, vpc: emulator.endpoint, protocol: 'http' },
    credential: credentials.sdkCredential(),
    caller,
    readTimeoutMs: READ_TIMEOUT_MS,
  });
  return { api, caller };
}

describe('a CreateNetworkInterface answer lost after ECS acted', () => {
  test('the retry carries the same ClientToken and gets the same ENI; no duplicate exists', async () => {
    const emulator = await emulatorWith();
    // Through the admin API, as a lab would: lose exactly the first answer.
    const admin = await fetch(`${emulator.url}/admin/faults/CreateNetworkInterface`, {
      method: 'PUT',
      body: JSON.stringify({ lostResponseRate: 1, maxInjections: 1 }),
    });
    expect(admin.status).toBe(204);
    const lines: Record<string, unknown>[] = [];
    const callerLog = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const { api, caller } = productionApi(emulator, callerLog);

    const startedAt = Date.now();
    const created = await api.createNetworkInterface({
      vswitchId: VSWITCH,
      securityGroupIds: ['sg-emutest0'],
      secondaryIpCount: 2,
      tags: { creator: 'terway-node' },
      description: 'lost answer',
    });
    // The first attempt waited out the read timeout before the retry.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(READ_TIMEOUT_MS);

    const secondaries = emulator.enis().filter((eni) => eni.type === 'Secondary');
    expect(secondaries.map((eni) => eni.id)).toEqual([created.id]);
    expect(created.privateIps).toEqual(secondaries[0]?.privateIps);
    expect(emulator.stats()).toMatchObject({
      calls: { CreateNetworkInterface: 2 },
      lostResponses: { CreateNetworkInterface: 1 },
    });
    expect(caller.stats().apis.find((a) => a.api === 'CreateNetworkInterface')).toMatchObject({
      calls: 1,
      attempts: 2,
      retried: 1,
      ok: 1,
      errors: 0,
    });
    expect(emulator.faults()).toEqual({});
    // One token for both attempts: the timed-out one and the one that got the replayed answer.
    const attempts = lines.filter((line) => line['api'] === 'CreateNetworkInterface');
    expect(attempts.map((line) => [line['attempt'], line['code']])).toEqual([
      [1, 'RequestTimeout'],
      [2, undefined],
    ]);
    expect(attempts[0]?.['clientToken']).toEqual(expect.any(String));
    expect(attempts[1]?.['clientToken']).toBe(attempts[0]?.['clientToken']);
  });
});

describe('an attach that fails back to Available', () => {
  test('AliyunCloud.createEni fails with EniAttachFailed long before its timeout and deletes the ENI', async () => {
    const emulator = await emulatorWith({
      latencies: { perApi: {}, attachMs: 5, detachMs: 5, deleteMs: 5 },
    });
    const { instanceId } = emulator.addInstance({
      instanceType: 'ecs.g7.xlarge',
      zoneId: ZONE,
      vswitchId: VSWITCH,
    });
    const stick = await fetch(`${emulator.url}/admin/stick-attaches`, {
      method: 'POST',
      body: JSON.stringify({ count: 1, failAfterMs: 300 }),
    });
    expect(stick.status).toBe(204);
    const metadata = new MetadataClient({
      baseUrl: emulator.metadataUrl(instanceId),
      clock: systemClock,
      log,
    });
    const identity = await readNodeIdentity(metadata);
    const { api } = productionApi(emulator);
    const cloud = new AliyunCloud({
      api,
      metadata,
      identity,
      vswitches: new VSwitchSelector({
        zoneId: identity.zoneId,
        vswitchIds: [],
        fallbackVSwitchId: identity.vswitchId,
        policy: 'ordered',
        describe: (ids) => api.describeVSwitches(ids),
        clock: systemClock,
        log,
      }),
      securityGroupIds: ['sg-emutest0'],
      eniTags: {},
      eniTagFilter: {},
      clock: systemClock,
      log,
      timings: { attachTimeoutMs: 60_000 },
    });

    const startedAt = Date.now();
    const error = await cloud.createEni(1).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ cloudCode: ATTACH_FAILED });
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    // Deleting is asynchronous in ECS too: Deleting, then gone.
    const deadline = Date.now() + 2_000;
    while (emulator.enis().some((eni) => eni.type === 'Secondary') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(emulator.enis().filter((eni) => eni.type === 'Secondary')).toEqual([]);
    cloud.close();
  });
});
