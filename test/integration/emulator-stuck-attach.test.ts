/**
 * Stuck attaches end to end: the fail-back delay set through the admin API, kept across an
 * emulator restart by the state file, and configured on the `ecs-emulator` command line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, test } from '@jest/globals';
import { $OpenApiUtil } from '@alicloud/openapi-core';

import type { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import { REPO_ROOT, requireBuilt } from '../support/bins.js';
import {
  Ecs,
  KEY,
  REGION,
  VSWITCH,
  ecsClient,
  startEmulator,
  waitFor,
} from './emulator-harness.js';
import type { EcsClient } from './emulator-harness.js';

const started: EcsEmulator[] = [];
const children: ChildProcess[] = [];
const tempDirs: string[] = [];

afterAll(async () => {
  await Promise.all(started.map((emulator) => emulator.stop()));
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) resolve(undefined);
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function createAndAttach(ecs: EcsClient, instanceId: string): Promise<string> {
  const created = await ecs.createNetworkInterface(
    new Ecs.CreateNetworkInterfaceRequest({
      regionId: REGION,
      vSwitchId: VSWITCH,
      securityGroupId: 'sg-emutest0',
    }),
  );
  const eniId = created.body?.networkInterfaceId ?? '';
  await ecs.attachNetworkInterface(
    new Ecs.AttachNetworkInterfaceRequest({
      regionId: REGION,
      networkInterfaceId: eniId,
      instanceId,
    }),
  );
  return eniId;
}

function stick(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/admin/stick-attaches`, { method: 'POST', body: JSON.stringify(body) });
}

describe('POST /admin/stick-attaches with failAfterMs', () => {
  test('the stuck attach fails back to Available after the delay asked for; bad delays are refused', async () => {
    const emulator = await startEmulator({
      latencies: { perApi: {}, attachMs: 5, detachMs: 5, deleteMs: 5 },
    });
    started.push(emulator);
    const ecs = ecsClient(emulator);
    const { instanceId } = emulator.addInstance({ instanceType: 'ecs.g7.xlarge' });
    expect((await stick(emulator.url, { count: 1, failAfterMs: -1 })).status).toBe(400);
    expect((await stick(emulator.url, { count: 1, failAfterMs: 'soon' })).status).toBe(400);
    expect((await stick(emulator.url, { count: 1, failAfterMs: 200 })).status).toBe(204);
    const eniId = await createAndAttach(ecs, instanceId);
    const eni = () => emulator.enis().find((e) => e.id === eniId);
    expect(eni()).toMatchObject({ status: 'Attaching', stuck: true });
    await waitFor(() => eni()?.status === 'Available', 3_000);
    expect(eni()).toMatchObject({ stuck: false });
    expect(eni()).not.toHaveProperty('instanceId');
    // null: stuck for good, whatever the emulator's default.
    expect((await stick(emulator.url, { count: 1, failAfterMs: null })).status).toBe(204);
  });
});

describe('state file', () => {
  test('a restarted emulator re-arms the fail-back of an attach stuck before the restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecs-emulator-stuck-'));
    tempDirs.push(dir);
    const stateFile = join(dir, 'state.json');
    const first = await startEmulator({ stateFile });
    started.push(first);
    const { instanceId } = first.addInstance({ instanceType: 'ecs.g7.xlarge' });
    first.stickNextAttaches(1, 600);
    const eniId = await createAndAttach(ecsClient(first), instanceId);
    const failAt = first.enis().find((e) => e.id === eniId)?.stuckFailAt;
    await first.stop();

    const second = await startEmulator({ stateFile });
    started.push(second);
    const eni = () => second.enis().find((e) => e.id === eniId);
    expect(eni()).toMatchObject({ status: 'Attaching', stuck: true, stuckFailAt: failAt });
    await waitFor(() => eni()?.status === 'Available', 3_000);
    expect(Date.now()).toBeGreaterThanOrEqual(failAt ?? Infinity);
  });
});

describe('ecs-emulator --stuck-attach-fail-ms', () => {
  test('stuck attaches of the command fail back after the configured delay', async () => {
    const child = spawn(
      process.execPath,
      [
        requireBuilt(join(REPO_ROOT, 'dist/cmd/ecs-emulator.js')),
        '--listen',
        '127.0.0.1:0',
        '--access-key-id',
        KEY.accessKeyId,
        '--access-key-secret',
        KEY.accessKeySecret,
        '--vswitch',
        `${VSWITCH}=192.168.1.0/24`,
        '--security-group',
        'sg-emutest0',
        '--attach-ms',
        '5',
        '--stuck-attach-fail-ms',
        '200',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    let banner = '';
    child.stdout?.on('data', (chunk: Buffer) => (banner += chunk.toString('utf8')));
    await waitFor(() => /\n {2}i-\S+ /.test(banner), 10_000);
    expect(banner).toContain('stuck attaches:          fail back to Available after 200 ms');
    const endpoint = /ECS 2014-05-26 endpoint: (\S+)/.exec(banner)?.[1] ?? '';
    const instanceId = /\n {2}(i-\S+) /.exec(banner)?.[1] ?? '';
    const ecs = new Ecs.default.default(
      new $OpenApiUtil.Config({ ...KEY, endpoint, protocol: 'http', readTimeout: 2000 }),
    );
    expect((await stick(`http://${endpoint}`, { count: 1 })).status).toBe(204);
    const eniId = await createAndAttach(ecs, instanceId);
    const status = async () => {
      const enis = (await (await fetch(`http://${endpoint}/admin/enis`)).json()) as {
        id: string;
        status: string;
      }[];
      return enis.find((e) => e.id === eniId)?.status;
    };
    expect(await status()).toBe('Attaching');
    await waitFor(async () => (await status()) === 'Available', 3_000);
  });
});
