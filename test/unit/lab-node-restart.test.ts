/**
 * The checks `lab node restart` makes before it stops anything, and the request it shares with the
 * lab's supervisor. The stop and restart themselves run against a real lab
 * (test/netns/lab-daemon-restart.test.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import type { LabManifest } from '../../src/lab/lab-manifest.js';
import { writeManifest } from '../../src/lab/lab-manifest.js';
import {
  describeNodeRestart,
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

describe('the restart request', () => {
  test('is taken by the exit of the daemon it names, once', () => {
    writeFileSync(restartRequestPath(dir, 'node-1'), '4242\n');
    expect(takeRestartRequest(dir, 'node-1', 4242)).toBe(true);
    expect(existsSync(restartRequestPath(dir, 'node-1'))).toBe(false);
    expect(takeRestartRequest(dir, 'node-1', 4242)).toBe(false);
  });

  test('naming another daemon, it is stale: removed, and the exit is a crash', () => {
    writeFileSync(restartRequestPath(dir, 'node-1'), '4242\n');
    expect(takeRestartRequest(dir, 'node-1', 4243)).toBe(false);
    expect(existsSync(restartRequestPath(dir, 'node-1'))).toBe(false);
  });

  test('a daemon whose spawn failed (no pid) never matches', () => {
    writeFileSync(restartRequestPath(dir, 'node-1'), '4242\n');
    expect(takeRestartRequest(dir, 'node-1', undefined)).toBe(false);
  });
});

describe('lab node restart refuses, before stopping anything', () => {
  test('a node the lab does not have, naming the ones it has', async () => {
    writeManifest(manifest({}));
    await expect(restartLabNode(dir, 'node-9')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'lab tl0 has no node "node-9" (it has node-1, node-2)',
    });
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
    await expect(restartLabNode(dir, 'node-1')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('came up with --no-daemon-restart'),
    });
  });

  test('a lab.json written before the flag was recorded counts as --no-daemon-restart', async () => {
    const older: Partial<LabManifest> = manifest({});
    delete older.restartDaemons;
    writeFileSync(join(dir, 'lab.json'), JSON.stringify(older));
    await expect(restartLabNode(dir, 'node-1')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('waiting for the supervisor', () => {
  test('a daemon already gone is not signalled; the wait ends at the timeout, naming the logs', async () => {
    writeManifest(manifest({}));
    const calls: string[] = [];
    await expect(
      restartLabNode(dir, 'node-1', {
        timeoutMs: 100,
        introspection: {
          status: (socket) => (calls.push(socket), Promise.reject(new Error('no'))),
        },
      }),
    ).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(
        /not serving again 100 ms after the stop: see its log .*terwayd\.log/,
      ),
    });
    // lab.json still names the old pid: there is no new daemon to ask.
    expect(calls).toEqual([]);
    expect(existsSync(restartRequestPath(dir, 'node-1'))).toBe(false);
  });
});

describe('the report', () => {
  test('says how long the stop took and when the new daemon served', () => {
    expect(
      describeNodeRestart({
        node: 'node-1',
        oldPid: 10,
        newPid: 11,
        stopMs: 30,
        killed: false,
        unservedMs: 1400,
      }),
    ).toBe(
      'node-1: terwayd pid 10 stopped in 30 ms (SIGTERM); pid 11 serving 1400 ms after SIGTERM',
    );
    expect(
      describeNodeRestart({
        node: 'node-1',
        oldPid: 10,
        newPid: 11,
        stopMs: 15_020,
        killed: true,
        unservedMs: 16_400,
      }),
    ).toContain('stopped in 15020 ms (SIGKILL after the grace period)');
    expect(
      describeNodeRestart({
        node: 'node-1',
        oldPid: 0,
        newPid: 11,
        stopMs: undefined,
        killed: false,
        unservedMs: 900,
      }),
    ).toBe(
      'node-1: terwayd was not running; the supervisor started it: pid 11 serving 900 ms later',
    );
  });
});
