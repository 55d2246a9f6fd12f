// The bundled shim as kubelet runs it: a fresh process per call, env + stdin in, one JSON
// document (or nothing) out. Whatever the input, the answer must be spec-shaped.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendHandlers } from '../../src/rpc/generated/terway/v1/Backend.js';
import type { PodNetwork } from '../../src/rpc/generated/terway/v1/PodNetwork.js';
import { toGrpcError, TerwayError } from '../../src/rpc/error-status.js';
import { terwayProto } from '../../src/rpc/proto.js';
import { BINS, requireBuilt } from '../support/bins.js';

const SHIM = requireBuilt(BINS.terway);
/** A cold node start plus a gRPC round trip; generous for a loaded CI box. */
const RUN_TIMEOUT_MS = 15_000;
const STACK_LINE = /^\s{4}at /m;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runShim(env: Record<string, string>, stdin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHIM], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

function expectNoStack(run: Run): void {
  expect(run.stdout).not.toMatch(STACK_LINE);
  expect(run.stderr).not.toMatch(STACK_LINE);
}

/** Exit status 1 and a CNI error document with the expected code and a message. */
function expectCniError(run: Run, code: number): { cniVersion: string; code: number; msg: string } {
  expectNoStack(run);
  expect(run.status).toBe(1);
  const result = JSON.parse(run.stdout) as { cniVersion: string; code: number; msg: string };
  expect(result.code).toBe(code);
  expect(typeof result.msg).toBe('string');
  expect(result.msg.length).toBeGreaterThan(0);
  expect(typeof result.cniVersion).toBe('string');
  return result;
}

const dir = mkdtempSync(join(tmpdir(), 'terway-shim-'));
const NO_DAEMON = join(dir, 'absent.socket');
const CONF = { cniVersion: '1.0.0', name: 'terway', type: 'terway', daemon_socket: NO_DAEMON };
const POD_ARGS = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx';
const ADD_ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c0ffee',
  CNI_NETNS: '/var/run/netns/cni-1',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: POD_ARGS,
  CNI_PATH: '/opt/cni/bin',
};
const DEL_ENV = { ...ADD_ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' };
const conf = (patch: Record<string, unknown> = {}): string => JSON.stringify({ ...CONF, ...patch });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('VERSION', () => {
  test('prints the supported versions and exits 0', async () => {
    const run = await runShim({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    expectNoStack(run);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as { cniVersion: string; supportedVersions: string[] };
    expect(result.cniVersion).toBe('1.0.0');
    expect(result.supportedVersions).toEqual(expect.arrayContaining(['1.0.0', '1.1.0']));
  });

  test('works with empty stdin', async () => {
    const run = await runShim({ CNI_COMMAND: 'VERSION' }, '');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveProperty('supportedVersions');
  });
});

describe('bad input', () => {
  test.each<{ what: string; env: Record<string, string>; stdin: string; code: number }>([
    { what: 'malformed JSON', env: ADD_ENV, stdin: '{cniVersion: 1.0.0}', code: 6 },
    { what: 'truncated JSON', env: ADD_ENV, stdin: conf().slice(0, 20), code: 6 },
    { what: 'empty stdin', env: ADD_ENV, stdin: '', code: 6 },
    { what: 'a JSON array', env: ADD_ENV, stdin: '[]', code: 6 },
    { what: 'cniVersion: 5', env: ADD_ENV, stdin: conf({ cniVersion: 5 }), code: 7 },
    { what: 'name: []', env: ADD_ENV, stdin: conf({ name: [] }), code: 7 },
    { what: 'daemon_socket: 3', env: ADD_ENV, stdin: conf({ daemon_socket: 3 }), code: 7 },
    {
      what: 'a relative daemon_socket',
      env: ADD_ENV,
      stdin: conf({ daemon_socket: 'eni.socket' }),
      code: 7,
    },
    { what: 'timeout_seconds: -1', env: ADD_ENV, stdin: conf({ timeout_seconds: -1 }), code: 7 },
    {
      what: 'no name',
      env: ADD_ENV,
      stdin: JSON.stringify({ cniVersion: '1.0.0', type: 'terway' }),
      code: 7,
    },
    {
      what: 'no type',
      env: ADD_ENV,
      stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'n' }),
      code: 7,
    },
    {
      what: 'no cniVersion',
      env: ADD_ENV,
      stdin: JSON.stringify({ name: 'n', type: 'terway' }),
      code: 7,
    },
    { what: 'unsupported cniVersion', env: ADD_ENV, stdin: conf({ cniVersion: '0.2.0' }), code: 1 },
    { what: 'missing CNI_COMMAND', env: { ...ADD_ENV, CNI_COMMAND: '' }, stdin: conf(), code: 4 },
    {
      what: 'unknown CNI_COMMAND',
      env: { ...ADD_ENV, CNI_COMMAND: 'UPDATE' },
      stdin: conf(),
      code: 4,
    },
    {
      what: 'CNI_CONTAINERID with bad chars',
      env: { ...ADD_ENV, CNI_CONTAINERID: '../etc' },
      stdin: conf(),
      code: 4,
    },
    {
      what: 'missing CNI_CONTAINERID',
      env: { ...ADD_ENV, CNI_CONTAINERID: '' },
      stdin: conf(),
      code: 4,
    },
    {
      what: 'CNI_IFNAME too long',
      env: { ...ADD_ENV, CNI_IFNAME: 'eth0123456789abc' },
      stdin: conf(),
      code: 4,
    },
    {
      what: 'CNI_IFNAME with a slash',
      env: { ...ADD_ENV, CNI_IFNAME: 'eth/0' },
      stdin: conf(),
      code: 4,
    },
    {
      what: 'missing CNI_NETNS on ADD',
      env: { ...ADD_ENV, CNI_NETNS: '' },
      stdin: conf(),
      code: 4,
    },
    {
      what: 'missing K8S args on ADD',
      env: { ...ADD_ENV, CNI_ARGS: 'IgnoreUnknown=1' },
      stdin: conf(),
      code: 4,
    },
    { what: 'STATUS under 1.0.0', env: { CNI_COMMAND: 'STATUS' }, stdin: conf(), code: 1 },
    { what: 'GC under 1.0.0', env: { CNI_COMMAND: 'GC' }, stdin: conf(), code: 1 },
    {
      what: 'CHECK without prevResult',
      env: { ...ADD_ENV, CNI_COMMAND: 'CHECK' },
      stdin: conf(),
      code: 7,
    },
  ])('$what → code $code', async ({ env, stdin, code }) => {
    const run = await runShim(env, stdin);
    const result = expectCniError(run, code);
    if (code === 4) expect(result.msg).toMatch(/CNI_[A-Z]+/);
    if (code === 7) expect(result.msg).toMatch(/"[a-zA-Z_]+"/);
  });

  test('the error echoes the configuration version', async () => {
    const run = await runShim({ ...ADD_ENV, CNI_IFNAME: '' }, conf({ cniVersion: '0.4.0' }));
    expect(expectCniError(run, 4).cniVersion).toBe('0.4.0');
  });
});

describe('no daemon', () => {
  test('ADD against a socket path with no daemon → 11', async () => {
    const result = expectCniError(await runShim(ADD_ENV, conf()), 11);
    expect(result.msg).toContain(NO_DAEMON);
  });

  test('DEL against a socket path with no daemon → 11 (kubelet retries)', async () => {
    const result = expectCniError(await runShim(DEL_ENV, conf()), 11);
    expect(result.msg).toContain(NO_DAEMON);
  });

  test('STATUS against a socket path with no daemon → 50', async () => {
    expectCniError(await runShim({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' })), 50);
  });

  test('a path that is not a socket → 11', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    expectCniError(await runShim(ADD_ENV, conf({ daemon_socket: file })), 11);
  });

  describe('a socket that drops every connection', () => {
    const socket = join(dir, 'drop.socket');
    let server: NetServer;
    beforeAll(async () => {
      server = createServer((connection) => connection.destroy());
      await new Promise<void>((resolve) => server.listen(socket, resolve));
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    test.each([
      ['ADD', ADD_ENV],
      ['DEL', DEL_ENV],
    ])('%s → 11 through the gRPC path', async (_verb, env) => {
      const result = expectCniError(await runShim(env, conf({ daemon_socket: socket })), 11);
      expect(result.msg).toContain(socket);
    });
  });
});

describe('against a scripted daemon', () => {
  const socket = join(dir, 'terwayd.socket');
  const NETWORK: PodNetwork = {
    pod: { namespace: 'default', name: 'nginx', containerId: 'c0ffee' },
    ip: '10.0.0.6',
    prefixLength: 24,
    gateway: '10.0.0.253',
  };
  const seen: Record<string, unknown[]> = {};
  let allocate: (respond: grpc.sendUnaryData<{ network: PodNetwork }>) => void;
  let server: grpc.Server;

  beforeAll(async () => {
    const record =
      (method: string) =>
      (call: { request: unknown }): void => {
        (seen[method] ??= []).push(call.request);
      };
    const handlers: BackendHandlers = {
      AllocateIP: (call, callback) => {
        record('AllocateIP')(call);
        allocate(callback);
      },
      ReleaseIP: (call, callback) => {
        record('ReleaseIP')(call);
        callback(null, { released: true, ip: '10.0.0.6' });
      },
      GetIPInfo: (call, callback) => {
        record('GetIPInfo')(call);
        callback(null, { network: NETWORK, ipState: 'in_use' });
      },
      Status: (call, callback) => {
        record('Status')(call);
        callback(null, { ready: true, canAllocate: false, reason: 'every ENI slot is used' });
      },
      GarbageCollect: (call, callback) => {
        record('GarbageCollect')(call);
        callback(null, { released: [] });
      },
    };
    server = new grpc.Server();
    server.addService(terwayProto().terway.v1.Backend.service, handlers);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) =>
        error === null ? resolve() : reject(error),
      ),
    );
  });
  afterAll(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));

  test.each([
    ['1.0.0', { address: '10.0.0.6/24', gateway: '10.0.0.253' }],
    ['0.3.1', { version: '4', address: '10.0.0.6/24', gateway: '10.0.0.253' }],
  ])('ADD prints a %s result', async (cniVersion, ip) => {
    allocate = (respond) => respond(null, { network: NETWORK });
    const run = await runShim(ADD_ENV, conf({ cniVersion, daemon_socket: socket }));
    expectNoStack(run);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      cniVersion,
      ips: [ip],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.253' }],
      dns: {},
    });
    expect(seen.AllocateIP?.at(-1)).toMatchObject({
      pod: { namespace: 'default', name: 'nginx', containerId: 'c0ffee' },
      netns: '/var/run/netns/cni-1',
      ifname: 'eth0',
    });
  });

  test('ADD when the pool stays empty → 11', async () => {
    allocate = (respond) => respond(toGrpcError(new TerwayError('POOL_EXHAUSTED', 'no idle IP')));
    const result = expectCniError(await runShim(ADD_ENV, conf({ daemon_socket: socket })), 11);
    expect(result.msg).toContain('no free IP');
  });

  test('ADD when the daemon is starting → 11', async () => {
    allocate = (respond) => respond(toGrpcError(new TerwayError('NOT_READY', 'restoring')));
    expectCniError(await runShim(ADD_ENV, conf({ daemon_socket: socket })), 11);
  });

  test('ADD past the deadline → 11', async () => {
    allocate = () => undefined;
    const run = await runShim(ADD_ENV, conf({ daemon_socket: socket, timeout_seconds: 0.5 }));
    expect(expectCniError(run, 11).msg).toContain('deadline');
  });

  test('DEL without pod args releases by container id and prints nothing', async () => {
    const run = await runShim({ ...DEL_ENV, CNI_ARGS: '' }, conf({ daemon_socket: socket }));
    expectNoStack(run);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(seen.ReleaseIP?.at(-1)).toMatchObject({
      pod: { namespace: '', name: '', containerId: 'c0ffee' },
      ifname: 'eth0',
    });
  });

  test('CHECK with a matching prevResult succeeds silently', async () => {
    const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.6/24' }] };
    const run = await runShim(
      { ...ADD_ENV, CNI_COMMAND: 'CHECK' },
      conf({ daemon_socket: socket, prevResult }),
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
  });

  test('CHECK with a different IP → 999 naming both', async () => {
    const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24' }] };
    const run = await runShim(
      { ...ADD_ENV, CNI_COMMAND: 'CHECK' },
      conf({ daemon_socket: socket, prevResult }),
    );
    expect(expectCniError(run, 999).msg).toBe(
      'CHECK: prevResult has 10.0.0.5/24 but terwayd records 10.0.0.6/24 for default/nginx',
    );
  });

  test('STATUS when the pool cannot grow → 50 with the reason', async () => {
    const run = await runShim(
      { CNI_COMMAND: 'STATUS' },
      conf({ cniVersion: '1.1.0', daemon_socket: socket }),
    );
    expect(expectCniError(run, 50).msg).toContain('every ENI slot is used');
  });

  test('GC sends the valid attachments', async () => {
    const run = await runShim(
      { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' },
      conf({
        cniVersion: '1.1.0',
        daemon_socket: socket,
        'cni.dev/valid-attachments': [{ containerID: 'c0ffee', ifname: 'eth0' }],
      }),
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(seen.GarbageCollect?.at(-1)).toEqual({
      validAttachments: [{ containerId: 'c0ffee', ifname: 'eth0' }],
    });
  });
});
