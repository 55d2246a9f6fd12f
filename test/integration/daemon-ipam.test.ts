import { afterEach, describe, expect, test } from '@jest/globals';
import { existsSync, statSync } from 'node:fs';
import { BINS } from '../support/bins.js';
import type { RunResult } from '../support/processes.js';
import { DaemonProcess, resultIp, runProcess, runShim } from '../support/processes.js';

/** A roomy instance type (31 secondary ENIs x 10 IPs) and a fast simulated cloud. */
const ROOMY = {
  max_pool_size: 10,
  emulator: { instance_type: 'ecs.ebmg5.24xlarge', api_latency: '5ms', attach_latency: '20ms' },
};

const daemons: DaemonProcess[] = [];
function daemon(config: Record<string, unknown> = ROOMY): DaemonProcess {
  const created = new DaemonProcess(config);
  daemons.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});

async function mapping(
  socket: string,
): Promise<
  Array<{ network: { pod: { name: string; containerId: string }; ip: string }; ipState: string }>
> {
  const result = await runProcess(BINS.terwayCli, ['--socket', socket, 'mapping', '--json']);
  if (result.status !== 0) throw new Error(`terway-cli mapping failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { mappings: never[] }).mappings;
}

function expectOk(result: RunResult): void {
  if (result.status !== 0)
    throw new Error(`shim failed (${result.status}): ${result.stdout}${result.stderr}`);
}

describe('terwayd + terway shim over the unix socket', () => {
  test('50 concurrent ADDs from an empty pool give 50 distinct IPs', async () => {
    const d = daemon();
    await d.start();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        runShim('ADD', d.socket, { name: `pod-${i}`, containerId: `ctr-${i}` }),
      ),
    );
    results.forEach(expectOk);
    const ips = results.map(resultIp);
    expect(new Set(ips).size).toBe(50);
    const records = await mapping(d.socket);
    expect(records).toHaveLength(50);
    expect(new Set(records.map((m) => m.network.ip))).toEqual(new Set(ips));
  }, 60_000);

  test('a retried ADD returns the same IP, and a new sandbox of the pod keeps it', async () => {
    const d = daemon();
    await d.start();
    const pod = { name: 'web', containerId: 'sandbox-1' };
    const first = await runShim('ADD', d.socket, pod);
    const again = await runShim('ADD', d.socket, pod);
    expectOk(first);
    expectOk(again);
    expect(resultIp(again)).toBe(resultIp(first));
    const recreated = await runShim('ADD', d.socket, { ...pod, containerId: 'sandbox-2' });
    expect(resultIp(recreated)).toBe(resultIp(first));
    // The old sandbox's late DEL must not take the IP from the new one.
    expectOk(await runShim('DEL', d.socket, pod));
    expect((await mapping(d.socket)).map((m) => m.network.pod.containerId)).toEqual(['sandbox-2']);
  }, 30_000);

  test('DEL twice succeeds and the second is a no-op', async () => {
    const d = daemon();
    await d.start();
    const pod = { name: 'job', containerId: 'c-1' };
    expectOk(await runShim('ADD', d.socket, pod));
    const firstDel = await runShim('DEL', d.socket, pod);
    const secondDel = await runShim('DEL', d.socket, pod);
    expect([firstDel.status, firstDel.stdout]).toEqual([0, '']);
    expect([secondDel.status, secondDel.stdout]).toEqual([0, '']);
    expect(await mapping(d.socket)).toEqual([]);
    // DEL with no netns and no pod args (the runtime lost them) finds the record by container id.
    expectOk(await runShim('ADD', d.socket, { name: 'job2', containerId: 'c-2' }));
    const bare = await runProcess(BINS.terway, [], {
      stdin: JSON.stringify({
        cniVersion: '1.0.0',
        name: 'terway',
        type: 'terway',
        daemon_socket: d.socket,
      }),
      env: {
        CNI_COMMAND: 'DEL',
        CNI_CONTAINERID: 'c-2',
        CNI_IFNAME: 'eth0',
        CNI_NETNS: '',
        CNI_PATH: '/opt/cni/bin',
      },
    });
    expect(bare.status).toBe(0);
    expect(await mapping(d.socket)).toEqual([]);
  }, 30_000);

  test('CHECK passes for a matching prevResult and names the drift otherwise', async () => {
    const d = daemon();
    await d.start();
    const pod = { name: 'checked', containerId: 'c-9' };
    const add = await runShim('ADD', d.socket, pod);
    expectOk(add);
    const prevResult = JSON.parse(add.stdout) as Record<string, unknown>;
    const ok = await runShim('CHECK', d.socket, pod, { prevResult });
    expect(ok.status).toBe(0);
    const drifted = await runShim('CHECK', d.socket, pod, {
      prevResult: { ...prevResult, ips: [{ address: '10.99.200.200/16' }] },
    });
    expect(drifted.status).toBe(1);
    const error = JSON.parse(drifted.stdout) as { code: number; msg: string };
    expect(error.code).toBe(999);
    expect(error.msg).toContain(resultIp(add));
  }, 30_000);

  test('STATUS and GC (CNI 1.1.0) reach the daemon', async () => {
    const d = daemon();
    await d.start();
    expectOk(await runShim('ADD', d.socket, { name: 'keep', containerId: 'keep-1' }));
    expectOk(await runShim('ADD', d.socket, { name: 'orphan', containerId: 'orphan-1' }));
    const status = await runShim('STATUS', d.socket, undefined, { cniVersion: '1.1.0' });
    expect(status.status).toBe(0);
    const gc = await runShim('GC', d.socket, undefined, {
      cniVersion: '1.1.0',
      'cni.dev/valid-attachments': [{ containerID: 'keep-1', ifname: 'eth0' }],
    });
    expect(gc.status).toBe(0);
    expect((await mapping(d.socket)).map((m) => m.network.pod.name)).toEqual(['keep']);
  }, 30_000);

  test('kill -9 during a burst: acknowledged records survive and no IP is issued twice', async () => {
    const d = daemon({ ...ROOMY, emulator: { ...ROOMY.emulator, api_latency: '30ms' } });
    await d.start();
    const pods = Array.from({ length: 40 }, (_, i) => ({
      name: `burst-${i}`,
      containerId: `b-${i}`,
    }));
    // Staggered, so the kill lands with some ADDs answered, some in flight, some not yet sent.
    let answered = 0;
    const burst = pods.map(async (pod, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * 25));
      const result = await runShim('ADD', d.socket, pod, { timeout_seconds: 20 });
      answered++;
      return result;
    });
    while (answered < 8) await new Promise((resolve) => setTimeout(resolve, 10));
    await d.stop('SIGKILL');
    const outcomes = await Promise.all(burst);
    const acknowledged = new Map<string, string>();
    outcomes.forEach((result, i) => {
      if (result.status === 0) acknowledged.set(pods[i]!.name, resultIp(result));
      else expect((JSON.parse(result.stdout) as { code: number }).code).toBe(11);
    });
    expect(acknowledged.size).toBeGreaterThan(0);

    // The socket file is stale now; the restarted daemon removes it and restores everything.
    await d.start();
    const restored = new Map(
      (await mapping(d.socket)).map((m) => [m.network.pod.name, m.network.ip]),
    );
    for (const [name, ip] of acknowledged) expect(restored.get(name)).toBe(ip);
    expect(new Set(restored.values()).size).toBe(restored.size);

    const retried = await Promise.all(pods.map((pod) => runShim('ADD', d.socket, pod)));
    retried.forEach(expectOk);
    const finalIps = retried.map(resultIp);
    pods.forEach((pod, i) => {
      const before = restored.get(pod.name);
      if (before !== undefined) expect(finalIps[i]).toBe(before);
    });
    expect(new Set(finalIps).size).toBe(pods.length);
  }, 90_000);

  test('SIGTERM lets an in-flight ADD finish, then the daemon exits cleanly', async () => {
    const d = daemon({
      ...ROOMY,
      emulator: { ...ROOMY.emulator, attach_latency: '1500ms' },
    });
    await d.start();
    const add = runShim('ADD', d.socket, { name: 'slow', containerId: 'slow-1' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const exit = d.stop('SIGTERM');
    expectOk(await add);
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(d.logEntries().some((entry) => entry.msg === 'terwayd stopped')).toBe(true);
  }, 30_000);

  test('an ADD on an empty pool waits, but answers code 11 before the shim’s own timeout', async () => {
    const d = daemon({ ...ROOMY, emulator: { ...ROOMY.emulator, attach_latency: '5s' } });
    await d.start();
    const began = performance.now();
    const add = await runShim(
      'ADD',
      d.socket,
      { name: 'impatient', containerId: 'impatient-1' },
      { timeout_seconds: 1 },
    );
    const elapsedMs = performance.now() - began;
    expect(add.status).toBe(1);
    const error = JSON.parse(add.stdout) as { code: number; msg: string; details: string };
    expect(error.code).toBe(11);
    // The daemon's own answer (its error code travels in the trace), not the shim's deadline.
    expect(error.details).toContain('terway-error-code POOL_EXHAUSTED');
    expect(elapsedMs).toBeLessThan(3_000);
    expect(await mapping(d.socket)).toHaveLength(0);
  }, 30_000);
});

describe('terwayd start-up guards', () => {
  test('the socket is mode 0600; with no credentials it says loudly that it runs on the emulator', async () => {
    const d = daemon();
    await d.start();
    expect(statSync(d.socket).mode & 0o777).toBe(0o600);
    const warning = d
      .logEntries()
      .find((entry) => String(entry.msg).startsWith('NO CLOUD CREDENTIALS CONFIGURED'));
    expect(warning?.level).toBe('warn');
  }, 30_000);

  test('terway-cli status, the chart’s probe: 0 while terwayd answers, 1 when it hangs or is gone', async () => {
    const d = daemon();
    await d.start();
    const status = () => runProcess(BINS.terwayCli, ['status', `--socket=${d.socket}`]);
    const serving = await status();
    expect([serving.status, serving.stdout]).toEqual([
      0,
      `terwayd at ${d.socket} is serving; new pods can get an IP\n`,
    ]);
    const json = await runProcess(BINS.terwayCli, ['status', `--socket=${d.socket}`, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      ready: true,
      canAllocate: true,
      reason: '',
      servicesPending: false,
      servicesPendingReason: '',
    });
    // The readiness probe's form: nothing pending here.
    const ready = await runProcess(BINS.terwayCli, [
      'status',
      `--socket=${d.socket}`,
      '--services-synced',
    ]);
    expect([ready.status, ready.stderr]).toEqual([0, '']);
    // A hung daemon (stopped, so its socket accepts but nothing answers): what liveness is for.
    const pid = d.child!.pid!;
    process.kill(pid, 'SIGSTOP');
    let hung;
    try {
      hung = await status();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(hung.status).toBe(1);
    expect(hung.stderr).toMatch(/did not answer Status within 5s/);
    expect((await status()).status).toBe(0);
    await d.stop();
    const gone = await status();
    expect(gone.status).toBe(1);
    expect(gone.stderr).toMatch(/cannot reach terwayd at .*: no such socket|connection refused/);
  }, 60_000);

  test('a second daemon on the same state dir refuses to start', async () => {
    const first = daemon();
    await first.start();
    const second = await runProcess(BINS.terwayd, [
      '--config',
      first.configPath,
      '--socket',
      `${first.dir}/other.sock`,
      '--state-dir',
      first.stateDir,
    ]);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`already uses state dir ${first.stateDir}`);
  }, 30_000);

  test('two Service sources at once are refused before anything starts', async () => {
    const d = daemon();
    const result = await runProcess(
      BINS.terwayd,
      d.args(['--services', `${d.dir}/services.yaml`, '--kubeconfig', `${d.dir}/kubeconfig`]),
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "option '--kubeconfig <file>' cannot be used with option '--services <file>'",
    );
    expect(existsSync(d.socket)).toBe(false);
  }, 30_000);

  test('an invalid eni_conf is refused with a message naming the key, value and what is allowed', async () => {
    const d = daemon({ max_pool_size: -3, eni_selection_policy: 'fewest' });
    const result = await runProcess(BINS.terwayd, d.args());
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('max_pool_size');
    expect(result.stderr).toContain('-3');
    expect(result.stderr).toContain('eni_selection_policy');
    expect(result.stderr).toContain('most_ips');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  test('a conntrack table size out of range is refused with the range, before the cloud is asked anything', async () => {
    const d = daemon();
    const result = await runProcess(BINS.terwayd, d.args(['--lb-flow-table-size', '4096']));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      '--lb-flow-table-size "4096": expected a number of flows from 16384 to 16777216',
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).not.toContain('connected to ECS');
    expect(existsSync(d.socket)).toBe(false);
  }, 30_000);

  test('an empty --node-name or --zone is refused before the cloud is asked anything', async () => {
    for (const flag of ['--node-name', '--zone']) {
      const d = daemon();
      const result = await runProcess(BINS.terwayd, d.args([flag, ' ']));
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`terwayd: ${flag} is empty`);
      // Refused before the embedded emulator started: it logs its start first thing.
      expect(result.stdout).not.toContain('connected to ECS');
      expect(existsSync(d.socket)).toBe(false);
    }
  }, 30_000);
});
