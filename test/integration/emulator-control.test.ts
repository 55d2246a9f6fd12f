/**
 * The emulator's controls, driven through the official SDK and the admin HTTP API: throttling,
 * fault injection, hung requests, stuck attaches, the lab hook and the state file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, test } from '@jest/globals';
import { ServerError, ThrottlingError } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';

import type { EcsEmulator, LabHook } from '../../src/emulator/ecs-emulator.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import {
  Ecs,
  REGION,
  VSWITCH,
  ecsClient,
  sdkError,
  startEmulator,
  waitFor,
} from './emulator-harness.js';
import type { EcsClient } from './emulator-harness.js';

const started: EcsEmulator[] = [];
const tempDirs: string[] = [];

async function emulatorWith(...args: Parameters<typeof startEmulator>): Promise<EcsEmulator> {
  const emulator = await startEmulator(...args);
  started.push(emulator);
  return emulator;
}

afterAll(async () => {
  await Promise.all(started.map((emulator) => emulator.stop()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function createEni(ecs: EcsClient, fields: Record<string, unknown> = {}) {
  return ecs.createNetworkInterface(
    new Ecs.CreateNetworkInterfaceRequest({
      regionId: REGION,
      vSwitchId: VSWITCH,
      securityGroupId: 'sg-emutest0',
      ...fields,
    }),
  );
}

async function admin(
  emulator: EcsEmulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${emulator.url}/admin/${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

describe('throttling', () => {
  test('over budget → ThrottlingError with retryAfter, counted, and nothing changes', async () => {
    const clock = new FakeClock(Date.now());
    const emulator = await emulatorWith({
      clock,
      throttle: {
        perApi: { CreateNetworkInterface: { ratePerSecond: 2, burst: 2 } },
        all: { ratePerSecond: 100, burst: 100 },
      },
    });
    const ecs = ecsClient(emulator);
    await createEni(ecs);
    await createEni(ecs);
    const error = await sdkError(createEni(ecs));
    expect(error).toBeInstanceOf(ThrottlingError);
    expect([error.code, error.statusCode, error.retryAfter]).toEqual(['Throttling', 400, 500]);
    expect(error.message).toContain('Request was denied due to request throttling.');
    expect(emulator.enis().filter((eni) => eni.type === 'Secondary')).toHaveLength(2);
    expect(emulator.stats()).toMatchObject({
      calls: { CreateNetworkInterface: 3 },
      throttled: { CreateNetworkInterface: 1 },
      errors: { Throttling: 1 },
    });
    // Other APIs have their own budget.
    await ecs.describeNetworkInterfaces(
      new Ecs.DescribeNetworkInterfacesRequest({ regionId: REGION }),
    );
    await clock.advance(500);
    await createEni(ecs);
    emulator.resetStats();
    expect(emulator.stats().calls).toEqual({});
  });

  test('without the header there is no retryAfter; the SDK retry options honour it when present', async () => {
    const quiet = await emulatorWith({
      throttle: { mutating: { ratePerSecond: 1, burst: 1 }, retryAfterHeader: false },
    });
    const ecs = ecsClient(quiet);
    await createEni(ecs);
    const error = await sdkError(createEni(ecs));
    expect(error).toBeInstanceOf(ThrottlingError);
    expect(error.retryAfter).toBeUndefined();

    const loud = await emulatorWith({ throttle: { mutating: { ratePerSecond: 20, burst: 1 } } });
    const retrying = ecsClient(loud, undefined, {
      retryOptions: new $dara.RetryOptions({
        retryable: true,
        retryCondition: [
          new $dara.RetryCondition({
            maxAttempts: 3,
            exception: ['ThrottlingError'],
            errorCode: ['Throttling'],
            maxDelay: 1000,
          }),
        ],
        noRetryCondition: [],
      }),
    });
    await createEni(retrying);
    const second = await createEni(retrying);
    expect(second.body?.networkInterfaceId).toMatch(/^eni-/);
    expect(loud.stats().throttled.CreateNetworkInterface).toBe(1);
  });
});

describe('fault injection', () => {
  test('through the admin API: injected errors change nothing and are counted', async () => {
    const emulator = await emulatorWith();
    const ecs = ecsClient(emulator);
    expect(
      (
        await admin(emulator, 'PUT', 'faults/CreateNetworkInterface', {
          errorRate: 1,
          errorCode: 'ServiceUnavailable',
        })
      ).status,
    ).toBe(204);
    const error = await sdkError(createEni(ecs));
    expect(error).toBeInstanceOf(ServerError);
    expect([error.code, error.statusCode]).toEqual(['ServiceUnavailable', 503]);
    expect(emulator.enis()).toHaveLength(0);
    await admin(emulator, 'PUT', 'faults/*', { errorRate: 1, errorCode: 'Throttling' });
    const throttled = await sdkError(
      ecs.describeInstanceTypes(new Ecs.DescribeInstanceTypesRequest({})),
    );
    expect(throttled).toBeInstanceOf(ThrottlingError);
    const stats = (await admin(emulator, 'GET', 'stats')).json as {
      injectedErrors: Record<string, number>;
    };
    expect(stats.injectedErrors).toEqual({ CreateNetworkInterface: 1, DescribeInstanceTypes: 1 });
    expect((await admin(emulator, 'GET', 'faults')).json).toMatchObject({ '*': { errorRate: 1 } });
    expect((await admin(emulator, 'DELETE', 'faults')).status).toBe(204);
    expect((await createEni(ecs)).body?.status).toBe('Available');
    expect((await admin(emulator, 'PUT', 'faults/X', { errorRate: 7 })).status).toBe(400);
  });

  test('added latency delays the answer', async () => {
    const emulator = await emulatorWith();
    emulator.setFault('DescribeInstanceTypes', { addedLatencyMs: 150 });
    const started = Date.now();
    await ecsClient(emulator).describeInstanceTypes(new Ecs.DescribeInstanceTypesRequest({}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  test('a timeout fault never answers: the SDK times out, and stop() ends the hung requests', async () => {
    const emulator = await startEmulator();
    emulator.setFault('DescribeInstances', { timeoutRate: 1 });
    const ecs = ecsClient(emulator, undefined, { readTimeout: 200 });
    const timedOut = await sdkError(
      ecs.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: REGION })),
    );
    expect(timedOut.name).toBe('RequestTimeoutError');
    const patient = ecsClient(emulator, undefined, { readTimeout: 10_000 });
    const hung = sdkError(
      patient.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: REGION })),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stoppedAt = Date.now();
    await emulator.stop();
    const error = await hung;
    expect(error.name).not.toBe('RequestTimeoutError');
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
  });
});

describe('lost responses', () => {
  test('the API acts but never answers: the SDK times out, yet the attach happened', async () => {
    const emulator = await emulatorWith();
    const ecs = ecsClient(emulator, undefined, { readTimeout: 300 });
    const { instanceId } = emulator.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const eniId = (await createEni(ecs)).body?.networkInterfaceId ?? '';
    const put = await admin(emulator, 'PUT', 'faults/AttachNetworkInterface', {
      lostResponseRate: 1,
    });
    expect(put.status).toBe(204);
    const error = await sdkError(
      ecs.attachNetworkInterface(
        new Ecs.AttachNetworkInterfaceRequest({
          regionId: REGION,
          networkInterfaceId: eniId,
          instanceId,
        }),
      ),
    );
    expect(error.name).toBe('RequestTimeoutError');
    await waitFor(() => emulator.enis().find((eni) => eni.id === eniId)?.status === 'InUse');
    expect(emulator.stats()).toMatchObject({
      lostResponses: { AttachNetworkInterface: 1 },
      hung: {},
    });
    expect((await admin(emulator, 'PUT', 'faults/X', { lostResponse: 1 })).status).toBe(400);
  });
});

describe('admin API, stuck attaches and out-of-band changes', () => {
  test('instances, stuck attaches, force-detach, IPs added and removed behind the client’s back', async () => {
    const emulator = await emulatorWith({
      latencies: { perApi: {}, attachMs: 5, detachMs: 5, deleteMs: 5 },
    });
    const ecs = ecsClient(emulator);
    const added = await admin(emulator, 'POST', 'instances', {
      instanceType: 'ecs.g7.xlarge',
      instanceId: 'i-adminmade0000000001',
    });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({
      instanceId: 'i-adminmade0000000001',
      metadataUrl: `${emulator.url}/metadata/i-adminmade0000000001`,
    });
    expect((await admin(emulator, 'POST', 'instances', { instanceType: 'ecs.nope' })).status).toBe(
      404,
    );
    expect((await admin(emulator, 'POST', 'stick-attaches', { count: 1 })).status).toBe(204);

    const [a, b] = [
      (await createEni(ecs)).body?.networkInterfaceId ?? '',
      (await createEni(ecs)).body?.networkInterfaceId ?? '',
    ];
    for (const eni of [a, b]) {
      await ecs.attachNetworkInterface(
        new Ecs.AttachNetworkInterfaceRequest({
          regionId: REGION,
          networkInterfaceId: eni,
          instanceId: 'i-adminmade0000000001',
        }),
      );
    }
    await waitFor(() => emulator.enis().find((eni) => eni.id === b)?.status === 'InUse');
    await new Promise((resolve) => setTimeout(resolve, 30));
    const enis = (await admin(emulator, 'GET', 'enis')).json as {
      id: string;
      status: string;
      stuck: boolean;
      privateIps: string[];
    }[];
    expect(enis.find((eni) => eni.id === a)).toMatchObject({ status: 'Attaching', stuck: true });

    expect((await admin(emulator, 'POST', `enis/${a}/force-detach`)).status).toBe(204);
    expect(emulator.enis().find((eni) => eni.id === a)?.status).toBe('Available');
    const ip = ((await admin(emulator, 'POST', `enis/${b}/private-ips`)).json as { ip: string }).ip;
    expect(emulator.enis().find((eni) => eni.id === b)?.privateIps).toContain(ip);
    expect((await admin(emulator, 'DELETE', `enis/${b}/private-ips/${ip}`)).status).toBe(204);
    expect(emulator.enis().find((eni) => eni.id === b)?.privateIps).not.toContain(ip);
    expect((await admin(emulator, 'DELETE', `enis/${b}/private-ips/${ip}`)).status).toBe(403);
    expect((await admin(emulator, 'GET', 'nothing-here')).status).toBe(404);
  });
});

describe('lab hook', () => {
  test('hears attach (with IPs) and detach; a failing hook does not break the API', async () => {
    const events: string[] = [];
    const hook: LabHook = {
      onAttached: async (event) => {
        events.push(
          `attached ${event.instanceId} ${event.eniId} ${event.mac} ${event.privateIps.join(',')}`,
        );
        throw new Error('lab is broken');
      },
      onDetached: (event) =>
        void events.push(`detached ${event.instanceId} ${event.eniId} ${event.mac}`),
    };
    const emulator = await emulatorWith({ labHook: hook });
    const ecs = ecsClient(emulator);
    const { instanceId } = emulator.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const eni = (await createEni(ecs, { secondaryPrivateIpAddressCount: 1 })).body;
    const eniId = eni?.networkInterfaceId ?? '';
    const ips = eni?.privateIpSets?.privateIpSet?.map((s) => s.privateIpAddress).join(',');
    await ecs.attachNetworkInterface(
      new Ecs.AttachNetworkInterfaceRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        instanceId,
      }),
    );
    await waitFor(() => events.length === 1);
    expect(events[0]).toBe(`attached ${instanceId} ${eniId} ${eni?.macAddress} ${ips}`);
    await ecs.detachNetworkInterface(
      new Ecs.DetachNetworkInterfaceRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        instanceId,
      }),
    );
    expect(events[1]).toBe(`detached ${instanceId} ${eniId} ${eni?.macAddress}`);
    await waitFor(() => emulator.enis().find((e) => e.id === eniId)?.status === 'Available');
  });
});

describe('state file', () => {
  test('a restarted emulator is the same account; pending transitions complete on load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecs-emulator-'));
    tempDirs.push(dir);
    const stateFile = join(dir, 'state.json');
    const first = await startEmulator({
      stateFile,
      latencies: { perApi: {}, attachMs: 60_000, detachMs: 5, deleteMs: 60_000 },
    });
    const ecs = ecsClient(first);
    const { instanceId } = first.addInstance({
      instanceType: 'ecs.g7.xlarge',
      ramRoleName: 'Role',
    });
    const credentials = first.metadataSource().roleCredentials(instanceId);
    const attaching =
      (await createEni(ecs, { secondaryPrivateIpAddressCount: 3, tag: [{ key: 'k', value: 'v' }] }))
        .body?.networkInterfaceId ?? '';
    const deleting = (await createEni(ecs)).body?.networkInterfaceId ?? '';
    await ecs.attachNetworkInterface(
      new Ecs.AttachNetworkInterfaceRequest({
        regionId: REGION,
        networkInterfaceId: attaching,
        instanceId,
      }),
    );
    await ecs.deleteNetworkInterface(
      new Ecs.DeleteNetworkInterfaceRequest({ regionId: REGION, networkInterfaceId: deleting }),
    );
    const before = first.enis();
    await first.stop();

    const second = await emulatorWith({ stateFile });
    const after = second.enis();
    expect(after.map((eni) => eni.id)).toEqual(
      before.filter((eni) => eni.id !== deleting).map((eni) => eni.id),
    );
    const restored = after.find((eni) => eni.id === attaching);
    const original = before.find((eni) => eni.id === attaching);
    expect(restored).toEqual({ ...original, status: 'InUse' });
    expect(
      second
        .metadataSource()
        .instance(instanceId)
        ?.nics.map((nic) => nic.eniId),
    ).toContain(attaching);

    // The old role credentials still sign; new addresses never collide with restored ones.
    const roleClient = ecsClient(second, {
      accessKeyId: credentials?.accessKeyId ?? '',
      accessKeySecret: credentials?.accessKeySecret ?? '',
      securityToken: credentials?.securityToken ?? '',
    });
    const fresh = (await createEni(roleClient, { secondaryPrivateIpAddressCount: 5 })).body;
    const used = new Set(after.flatMap((eni) => eni.privateIps));
    expect(
      fresh?.privateIpSets?.privateIpSet?.some((s) => used.has(s.privateIpAddress ?? '')),
    ).toBe(false);
    const described = await ecsClient(second).describeNetworkInterfaces(
      new Ecs.DescribeNetworkInterfacesRequest({
        regionId: REGION,
        networkInterfaceId: [attaching],
      }),
    );
    expect(described.body?.networkInterfaceSets?.networkInterfaceSet?.[0]?.tags?.tag).toEqual([
      { tagKey: 'k', tagValue: 'v' },
    ]);
  });
});
