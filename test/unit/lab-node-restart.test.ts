/**
 * The checks `lab node restart` makes before it asks for anything, the request it leaves the
 * lab's supervisor, and its wait. The stop and restart themselves run against a real lab
 * (test/netns/lab-daemon-restart.test.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import type { LabManifest } from '../../src/lab/lab-manifest.js';
import { writeManifest } from '../../src/lab/lab-manifest.js';
import { DAEMON_STOP_GRACE_MS } from '../../src/lab/daemon-keeper.js';
import {
  describeNodeRestart,
  isLabSupervisor,
  restartLabNode,
  restartRequestPath,
  takeRestartRequest,
} from '../../src/lab/node-restart.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lab-node-restart-'));
  mkdirSync(join(dir, 'node-1'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A pid no process has: above the kernel's pid_max ceiling (2^22). */
const GONE_PID = 4_194_304 + 1;

function manifest(overrides: Partial<LabManifest>): LabManifest {
  const node = (name: string) => ({
    name,
    netns: `tl0-${name}`,
    netnsPath: `/var/run/netns/tl0-${name}`,
    instanceId: 'i-0',
    ip: '10.99.0.1',
    mac: '00:16:3e:00:00:01',
    socket: join(dir, name, 'eni.sock'),
    stateDir: join(dir, name, 'state'),
    log: join(dir, name, 'terwayd.log'),
    config: join(dir, name, 'eni_conf.json'),
    conflist: join(dir, name, '10-terway.conflist'),
    services: join(dir, name, 'services.yaml'),
    bpfPinDir: `/sys/fs/bpf/tl0-${name}`,
    metrics: 'http://127.0.0.1:1/metrics',
    daemonArgs: [],
    daemonPid: GONE_PID,
    daemonRestarts: 0,
  });
  return {
    id: 'tl0',
    dir,
    driver: 'veth',
    supervisorPid: process.pid,
    vpc: {
      netns: 'tl0-vpc',
      netnsPath: '/var/run/netns/tl0-vpc',
      cidr: '10.99.0.0/16',
      gateway: '10.99.255.253',
    },
    emulator: { endpoint: '127.0.0.1:1', log: join(dir, 'supervisor.log') },
    cniBinDir: join(dir, 'cni-bin'),
    restartDaemons: true,
    nodes: [node('node-1'), node('node-2')],
    ...overrides,
  };
}

/** Recognises the manifest's own supervisorPid as the supervisor, and records what it is told. */
function supervisorStub() {
  const told: number[] = [];
  return {
    told,
    isSupervisor: (pid: number, lab: LabManifest) => pid === lab.supervisorPid,
    notifySupervisor: (pid: number) => void told.push(pid),
  };
}

describe('the restart request', () => {
  test('names a pid, and is taken once', () => {
    writeFileSync(restartRequestPath(dir, 'node-1'), '4242\n');
    expect(takeRestartRequest(dir, 'node-1')).toBe(4242);
    expect(existsSync(restartRequestPath(dir, 'node-1'))).toBe(false);
    expect(takeRestartRequest(dir, 'node-1')).toBeUndefined();
  });

  test('one that names no pid is dropped', () => {
    writeFileSync(restartRequestPath(dir, 'node-1'), 'junk\n');
    expect(takeRestartRequest(dir, 'node-1')).toBeUndefined();
    expect(existsSync(restartRequestPath(dir, 'node-1'))).toBe(false);
  });
});

describe('the supervisor is recognised by its command line, not its pid alone', () => {
  test('this test process is no lab supervisor, and a pid nobody has is none either', () => {
    const lab = manifest({});
    expect(isLabSupervisor(process.pid, lab)).toBe(false);
    expect(isLabSupervisor(GONE_PID, lab)).toBe(false);
  });
});

describe('lab node restart refuses, before asking for anything', () => {
  test('a node the lab does not have, naming the ones it has', async () => {
    writeManifest(manifest({}));
    const stub = supervisorStub();
    await expect(restartLabNode(dir, 'node-9', stub)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'lab tl0 has no node "node-9" (it has node-1, node-2)',
    });
    expect(stub.told).toEqual([]);
  });

  test('a lab whose supervisor is gone: nothing would start the daemon again', async () => {
    writeManifest(manifest({ supervisorPid: GONE_PID }));
    await expect(restartLabNode(dir, 'node-1')).rejects.toMatchObject({
      code: 'NOT_READY',
      message: expect.stringContaining(`supervisor (pid ${GONE_PID}) is not running`),
    });
    expect(existsSync(restartRequestPath(dir, 'node-1'))).toBe(false);
  });

  test('a lab up with --no-daemon-restart, whose supervisor would leave the daemon down', async () => {
    writeManifest(manifest({ restartDaemons: false }));
    const stub = supervisorStub();
    await expect(restartLabNode(dir, 'node-1', stub)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('came up with --no-daemon-restart'),
    });
    expect(stub.told).toEqual([]);
  });

  test('a lab an earlier lab brought up, whose supervisor takes no requests', async () => {
    const older: Partial<LabManifest> = manifest({});
    delete older.restartDaemons;
    writeFileSync(join(dir, 'lab.json'), JSON.stringify(older));
    const stub = supervisorStub();
    await expect(restartLabNode(dir, 'node-1', stub)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('brought up by an earlier lab'),
    });
    expect(stub.told).toEqual([]);
  });

  test('a timeout no longer than the grace a daemon gets to stop', async () => {
    writeManifest(manifest({}));
    await expect(
      restartLabNode(dir, 'node-1', { ...supervisorStub(), timeoutMs: DAEMON_STOP_GRACE_MS }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('too short'),
    });
  });
});

describe('asking the supervisor', () => {
  test('leaves a request naming the daemon lab.json names, and tells the supervisor', async () => {
    writeManifest(manifest({}));
    const stub = supervisorStub();
    const calls: string[] = [];
    const done = restartLabNode(dir, 'node-1', {
      ...stub,
      stopGraceMs: 10,
      timeoutMs: 100,
      introspection: { status: (socket) => (calls.push(socket), Promise.reject(new Error('no'))) },
    });
    // The request is left before the supervisor is told, so it finds it.
    expect(readFileSync(restartRequestPath(dir, 'node-1'), 'utf8')).toBe(`${GONE_PID}\n`);
    expect(stub.told).toEqual([process.pid]);
    await done.catch(() => undefined);
  });

  test('then waits for a new daemon in lab.json that says it is ready, and reports', async () => {
    const lab = manifest({});
    writeManifest(lab);
    const stub = supervisorStub();
    let asked = 0;
    const done = restartLabNode(dir, 'node-1', {
      ...stub,
      notifySupervisor: () => {
        // The supervisor's part, done at once: the daemon restarted, lab.json rewritten.
        const node1 = { ...lab.nodes[0]!, daemonPid: process.pid, daemonRestarts: 1 };
        writeManifest({ ...lab, nodes: [node1, lab.nodes[1]!] });
      },
      introspection: {
        status: () => {
          asked++;
          return Promise.resolve({ ready: asked > 1 } as never);
        },
      },
    });
    const report = await done;
    expect(report).toMatchObject({
      node: 'node-1',
      oldPid: 0,
      newPid: process.pid,
      stopMs: undefined,
    });
    expect(asked).toBe(2);
    expect(describeNodeRestart(report)).toMatch(
      new RegExp(
        `^node-1: terwayd was not running .*; started at once: pid ${process.pid} serving \\d+ ms later$`,
      ),
    );
  });

  test('gives up at its timeout, takes its request back, and names the logs', async () => {
    writeManifest(manifest({}));
    await expect(
      restartLabNode(dir, 'node-1', {
        ...supervisorStub(),
        stopGraceMs: 10,
        timeoutMs: 100,
        introspection: { status: () => Promise.reject(new Error('no')) },
      }),
    ).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(
        /not serving again \d+ ms after the request: see its log .*terwayd\.log/,
      ),
    });
    expect(existsSync(restartRequestPath(dir, 'node-1'))).toBe(false);
  });
});

describe('the report', () => {
  test('says how long the stop took and when the new daemon served', () => {
    expect(
      describeNodeRestart({ node: 'node-1', oldPid: 10, newPid: 11, stopMs: 30, unservedMs: 1400 }),
    ).toBe('node-1: terwayd pid 10 stopped in 30 ms; pid 11 serving 1400 ms after the request');
  });
});
