import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { BINS } from '../support/bins.js';
import { TestNetns, requireRoot } from '../support/netns.js';
import { DaemonProcess, resultIp, runProcess, runShim } from '../support/processes.js';

const CONFIG = { emulator: { api_latency: '5ms', attach_latency: '20ms' } };
const namespaces: TestNetns[] = [];
const daemons: DaemonProcess[] = [];

beforeAll(requireRoot);

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
  for (const ns of namespaces.splice(0)) ns.delete();
});

function netns(): TestNetns {
  const created = new TestNetns();
  namespaces.push(created);
  return created;
}

async function startedDaemon(): Promise<DaemonProcess> {
  const d = new DaemonProcess(CONFIG);
  daemons.push(d);
  await d.start();
  return d;
}

describe('terwayd with real network namespaces', () => {
  test('a second daemon in another network namespace is refused the same state dir', async () => {
    const first = await startedDaemon();
    const elsewhere = netns();
    // Abstract sockets are per network namespace; the lock must hold across them anyway.
    const second = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        elsewhere.name,
        process.execPath,
        BINS.terwayd,
        '--config',
        first.configPath,
        '--socket',
        `${first.dir}/second.sock`,
        '--state-dir',
        first.stateDir,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`already uses state dir ${first.stateDir}`);
    expect(second.stderr).toMatch(/pid \d+/);
  }, 40_000);

  test('ADD records the real netns path; DEL succeeds after the netns is gone, and again', async () => {
    const d = await startedDaemon();
    const pod = netns();
    const add = await runShim('ADD', d.socket, {
      name: 'nsd',
      containerId: 'nsd-1',
      netns: pod.path,
    });
    expect(add.status).toBe(0);
    const ip = resultIp(add);

    const mapping = await runProcess(BINS.terwayCli, ['--socket', d.socket, 'mapping', '--json']);
    const records = (
      JSON.parse(mapping.stdout) as { mappings: Array<{ network: { netns: string; ip: string } }> }
    ).mappings;
    expect(records).toEqual([
      expect.objectContaining({ network: expect.objectContaining({ netns: pod.path, ip }) }),
    ]);

    pod.delete();
    expect(pod.exists()).toBe(false);
    for (let i = 0; i < 2; i++) {
      const del = await runShim('DEL', d.socket, {
        name: 'nsd',
        containerId: 'nsd-1',
        netns: pod.path,
      });
      expect([del.status, del.stdout]).toEqual([0, '']);
    }
    const after = await runProcess(BINS.terwayCli, ['--socket', d.socket, 'mapping', '--json']);
    expect((JSON.parse(after.stdout) as { mappings: unknown[] }).mappings).toEqual([]);
  }, 40_000);

  test("a shim exec'd from inside a pod netns still reaches the daemon over the socket file", async () => {
    const d = await startedDaemon();
    const pod = netns();
    const conf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'terway',
      type: 'terway',
      daemon_socket: d.socket,
    });
    const add = spawnSync('ip', ['netns', 'exec', pod.name, process.execPath, BINS.terway], {
      input: conf,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'inside-1',
        CNI_NETNS: pod.path,
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=inside',
      },
    });
    expect(add.status).toBe(0);
    expect(resultIp({ status: add.status, stdout: add.stdout, stderr: add.stderr })).toMatch(
      /^10\.99\./,
    );
  }, 40_000);
});
