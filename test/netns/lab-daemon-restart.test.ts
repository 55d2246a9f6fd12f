/**
 * A lab node's terwayd killed by hand (`kill -9`, as someone trying the lab's crash safety would)
 * is started again by the lab's supervisor, as kubelet restarts a DaemonSet's pod: `lab status`
 * says so, the supervisor's log says why, and the node serves pods again, the one from before
 * the kill included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, test } from '@jest/globals';

import type { LabManifest } from '../../src/lab/lab-manifest.js';
import type { NodeRestartReport } from '../../src/lab/node-restart.js';
import { sleep, useLab } from '../support/lab.js';

const NODE = 'node-1';
const the = useLab({ nodes: 1, restartDaemons: true });

async function status(): Promise<LabManifest['nodes'][number]> {
  const reply = await the().lab(['status', '--json']);
  const manifest = JSON.parse(reply.stdout) as LabManifest;
  return manifest.nodes.find((node) => node.name === NODE)!;
}

/** The supervisor's log lines with this message. */
function supervisorSaid(msg: string): Array<Record<string, unknown>> {
  return readFileSync(join(the().dir, 'supervisor.log'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line['msg'] === msg);
}

/** Until the supervisor has started the daemon `restarts` times and the last one serves. */
async function waitForRestart(restarts: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const node = await status();
    // Serving: it answers on its socket (it binds it only once its state is restored).
    if (node.daemonRestarts >= restarts && (await the().cli(NODE, ['status'])).code === 0)
      return node;
    if (Date.now() > deadline) throw new Error(`no serving restart ${restarts} in ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('the lab supervisor keeps each node’s terwayd running', () => {
  test('kill -9 twice: restarted after 1 s, then 2 s; the node serves its old pod and new ones', async () => {
    const lab = the();
    const before = await lab.addPod(NODE, 'before');
    const first = await status();
    expect(first.daemonRestarts).toBe(0);

    process.kill(first.daemonPid, 'SIGKILL');
    const second = await waitForRestart(1, 10_000);
    expect(second.daemonPid).not.toBe(first.daemonPid);
    expect(supervisorSaid('terwayd exited; restarting it')).toEqual([
      expect.objectContaining({
        node: NODE,
        daemonPid: first.daemonPid,
        signal: 'SIGKILL',
        restartInMs: 1_000,
      }),
    ]);
    expect(supervisorSaid('terwayd restarted')).toEqual([
      expect.objectContaining({ node: NODE, daemonPid: second.daemonPid, restarts: 1 }),
    ]);
    expect((await lab.lab(['status'])).stdout).toContain(
      `terwayd  pid ${second.daemonPid}, restarted 1×`,
    );

    // The restarted daemon serves: the pod from before checks out, and a new one gets an IP.
    const check = await lab.checkPod(NODE, 'before');
    expect([check.code, check.stdout.trim(), check.stderr]).toEqual([0, 'ok', '']);
    const after = await lab.addPod(NODE, 'after');
    expect(after.ip).not.toBe(before.ip);

    // Killed again soon after: the wait doubles.
    process.kill(second.daemonPid, 'SIGKILL');
    const third = await waitForRestart(2, 15_000);
    expect(supervisorSaid('terwayd exited; restarting it').at(-1)).toMatchObject({
      daemonPid: second.daemonPid,
      restartInMs: 2_000,
    });
    const again = await lab.checkPod(NODE, 'after');
    expect([again.code, again.stdout.trim()]).toEqual([0, 'ok']);
    expect(third.daemonPid).not.toBe(second.daemonPid);
  }, 90_000);

  test('lab node restart: the supervisor stops it (SIGTERM) and starts it at once; pods kept', async () => {
    const lab = the();
    const kept = await lab.addPod(NODE, 'kept');
    const before = await status();

    const reply = await lab.lab(['node', 'restart', NODE, '--json']);
    expect([reply.code, reply.stderr]).toEqual([0, '']);
    const report = JSON.parse(reply.stdout) as NodeRestartReport;
    const after = await status();
    expect(report).toMatchObject({ node: NODE, oldPid: before.daemonPid, newPid: after.daemonPid });
    expect(after.daemonPid).not.toBe(before.daemonPid);
    expect(after.daemonRestarts).toBe(before.daemonRestarts + 1);
    expect(report.stopMs).toBeLessThan(report.unservedMs);

    // A restart, not a crash: started again at once, though two kills above left a 4 s back-off.
    expect(supervisorSaid('terwayd restart requested').at(-1)).toMatchObject({
      node: NODE,
      daemonPid: before.daemonPid,
      acted: true,
    });
    const stopped = supervisorSaid('terwayd stopped for a restart; starting it again').at(-1);
    expect(stopped).toMatchObject({ node: NODE, daemonPid: before.daemonPid, code: 0 });
    const restarted = supervisorSaid('terwayd restarted').at(-1)!;
    expect(restarted).toMatchObject({ daemonPid: after.daemonPid });
    expect((restarted['time'] as number) - (stopped!['time'] as number)).toBeLessThan(1_000);

    // The report's "serving" is the daemon's own Status: the pod checks out, a new pod gets an IP.
    const check = await lab.checkPod(NODE, 'kept');
    expect([check.code, check.stdout.trim(), check.stderr]).toEqual([0, 'ok', '']);
    const next = await lab.addPod(NODE, 'next');
    expect(next.ip).not.toBe(kept.ip);

    const human = await lab.lab(['node', 'restart', NODE]);
    expect(human.code).toBe(0);
    expect(human.stdout.trim()).toMatch(
      /^node-1: terwayd pid \d+ stopped in \d+ ms; pid \d+ serving \d+ ms after the request$/,
    );
  }, 90_000);

  test('lab node restart on a daemon waiting out its crash back-off starts it at once', async () => {
    const lab = the();
    const before = await status();
    process.kill(before.daemonPid, 'SIGKILL');
    // The supervisor has seen the exit and waits (4 s by now: the kills above doubled it twice).
    const deadline = Date.now() + 5_000;
    while (
      supervisorSaid('terwayd exited; restarting it').at(-1)?.['daemonPid'] !== before.daemonPid
    ) {
      if (Date.now() > deadline) throw new Error('the supervisor did not see the kill');
      await sleep(20);
    }
    expect(supervisorSaid('terwayd exited; restarting it').at(-1)).toMatchObject({
      restartInMs: 4_000,
    });

    const reply = await lab.lab(['node', 'restart', NODE, '--json']);
    expect([reply.code, reply.stderr]).toEqual([0, '']);
    const report = JSON.parse(reply.stdout) as NodeRestartReport;
    expect(report).toMatchObject({ node: NODE, oldPid: 0 });
    expect(report.stopMs).toBeUndefined();
    expect(report.unservedMs).toBeLessThan(4_000);
    expect((await status()).daemonPid).toBe(report.newPid);
  }, 60_000);
});
