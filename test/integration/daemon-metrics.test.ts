import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, test } from '@jest/globals';

import { terwayProto } from '../../src/rpc/proto.js';
import { unixTarget } from '../../src/rpc/socket-address.js';

import { BINS } from '../support/bins.js';
import { scrape } from '../support/metric-value.js';
import { DaemonProcess, runProcess, runShim } from '../support/processes.js';

const ROOMY = {
  max_pool_size: 10,
  emulator: { instance_type: 'ecs.ebmg5.24xlarge', api_latency: '5ms', attach_latency: '20ms' },
};

const daemons: DaemonProcess[] = [];
const holders: Server[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
  await Promise.all(
    holders.splice(0).map((holder) => new Promise((resolve) => holder.close(resolve))),
  );
});

function daemon(config: Record<string, unknown> = ROOMY): DaemonProcess {
  const created = new DaemonProcess(config);
  daemons.push(created);
  return created;
}

/** A loopback port held open by this test, so nothing else takes it meanwhile. */
async function heldPort(): Promise<number> {
  const holder = createServer();
  holders.push(holder);
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  return (holder.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const port = await heldPort();
  const holder = holders.pop()!;
  await new Promise((resolve) => holder.close(resolve));
  return port;
}

describe('terwayd --metrics-address', () => {
  test('serves the pool, the CNI calls, the cloud calls and the process over HTTP', async () => {
    const port = await freePort();
    const d = daemon();
    await d.start(['--metrics-address', `127.0.0.1:${port}`]);
    const url = `http://127.0.0.1:${port}/metrics`;
    expect(d.logEntries().find((entry) => entry.msg === 'serving Prometheus metrics')?.url).toBe(
      url,
    );

    const before = await scrape(url);
    expect(before.get('terway_pool_ips{state="in_use"}')).toBe(0);
    expect(before.get('terway_pool_can_allocate')).toBe(1);
    expect(before.get('terway_pool_grow_failing')).toBe(0);
    expect(before.get('terway_pool_ip_capacity')).toBeGreaterThan(0);
    // The emulator answered the start-up's DescribeInstances: the cloud metrics are served too.
    expect(
      before.get('terway_cloud_api_calls_total{api="DescribeInstances",outcome="ok"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(before.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect([...before.keys()].some((key) => key.startsWith('terway_cni_requests_total'))).toBe(
      false,
    );

    const add = await runShim('ADD', d.socket, { name: 'web', containerId: 'sandbox-1' });
    expect(add.status).toBe(0);
    // The shim refuses a call like this itself; sent straight to the socket, terwayd does.
    const Backend = terwayProto().terway.v1.Backend;
    const client = new Backend(unixTarget(d.socket), grpc.credentials.createInsecure());
    try {
      const refused = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.AllocateIP({ pod: null, netns: '/var/run/netns/x', ifname: 'eth0' }, (error) =>
          resolve(error),
        ),
      );
      expect(refused?.code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      client.close();
    }

    const after = await scrape(url);
    expect(after.get('terway_pool_ips{state="in_use"}')).toBe(1);
    expect(after.get('terway_cni_requests_total{method="AllocateIP",outcome="OK"}')).toBe(1);
    expect(
      after.get('terway_cni_requests_total{method="AllocateIP",outcome="INVALID_ARGUMENT"}'),
    ).toBe(1);
    expect(after.get('terway_cni_request_duration_seconds_count{method="AllocateIP"}')).toBe(2);
    // This daemon programs no kernel (no datapath configured), so it has no Service LB to report.
    expect([...after.keys()].some((key) => key.startsWith('terway_lb_'))).toBe(false);
  }, 60_000);

  test('a cloud that refuses every write shows as the pool failing to grow, and why', async () => {
    const port = await freePort();
    const d = daemon({
      ...ROOMY,
      min_pool_size: 2,
      emulator: { ...ROOMY.emulator, failure_rate: 1 },
    });
    await d.start(['--metrics-address', `127.0.0.1:${port}`]);
    const url = `http://127.0.0.1:${port}/metrics`;
    let seen = await scrape(url);
    for (let tries = 0; tries < 100 && seen.get('terway_pool_grow_failing') !== 1; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await scrape(url);
    }
    expect(seen.get('terway_pool_grow_failing')).toBe(1);
    expect(seen.get('terway_pool_ips{state="idle"}')).toBe(0);
    const failedCreates = [...seen]
      .filter(
        ([key]) =>
          key.startsWith('terway_cloud_api_calls_total{api="CreateNetworkInterface"') &&
          !key.includes('outcome="ok"'),
      )
      .reduce((sum, [, value]) => sum + value, 0);
    expect(failedCreates).toBeGreaterThan(0);
  }, 60_000);

  test('without the flag nothing listens; a bad or taken address refuses the start', async () => {
    const quiet = daemon();
    await quiet.start();
    expect(quiet.logEntries().some((entry) => entry.msg === 'serving Prometheus metrics')).toBe(
      false,
    );

    const typo = daemon();
    const bad = await runProcess(BINS.terwayd, typo.args(['--metrics-address', '127.0.0.1']));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--metrics-address "127.0.0.1": no port');
    expect(existsSync(typo.socket)).toBe(false);

    const port = await heldPort();
    const taken = daemon();
    const busy = await runProcess(
      BINS.terwayd,
      taken.args(['--metrics-address', `127.0.0.1:${port}`]),
    );
    expect(busy.status).toBe(1);
    expect(busy.stderr).toContain(`the metrics address 127.0.0.1:${port} is in use`);
    expect(existsSync(taken.socket)).toBe(false);
  }, 60_000);
});
