import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IntrospectionHandlers } from '../../src/rpc/generated/terway/v1/Introspection.js';
import type { ListMappingsReply__Output } from '../../src/rpc/generated/terway/v1/ListMappingsReply.js';
import type { ShowFactoryReply__Output } from '../../src/rpc/generated/terway/v1/ShowFactoryReply.js';
import { terwayProto } from '../../src/rpc/proto.js';
import { unixTarget } from '../../src/rpc/socket-address.js';
import { BINS, requireBuilt } from '../support/bins.js';

/** Generous: each run is a cold node start plus a gRPC round trip. */
const TEST_TIMEOUT_MS = 20_000;
const MINUTE_MS = 60_000;
const STARTED = Date.now();

// Every field set, so the JSON the cli prints must equal this exactly (defaults add nothing).
const FACTORY: ShowFactoryReply__Output = {
  cloud: null,
  enis: [
    {
      id: 'eni-bp1first0000000001',
      mac: '00:16:3e:01:02:03',
      status: 'in_use',
      primaryIp: '10.0.1.10',
      vswitchId: 'vsw-bp1aaaa',
      vswitchCidr: '10.0.1.0/24',
      gateway: '10.0.1.253',
      ips: [
        {
          address: '10.0.1.10',
          state: 'idle',
          owner: { namespace: '', name: '', containerId: '' },
          isEniPrimary: true,
          sinceMs: STARTED - 10 * MINUTE_MS,
        },
        {
          address: '10.0.1.11',
          state: 'in_use',
          owner: {
            namespace: 'default',
            name: 'nginx-7c9f8',
            containerId: '3f2a9b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8',
          },
          isEniPrimary: false,
          sinceMs: STARTED - 3 * MINUTE_MS,
        },
        {
          address: '10.0.1.12',
          state: 'invalid',
          owner: { namespace: '', name: '', containerId: '' },
          isEniPrimary: false,
          sinceMs: STARTED - 2 * MINUTE_MS,
        },
      ],
      pendingIps: 1,
      link: '',
    },
  ],
  pool: {
    idle: 1,
    inUse: 1,
    creating: 1,
    releasing: 0,
    invalid: 1,
    waiting: 0,
    minPoolSize: 1,
    maxPoolSize: 5,
    maxEnis: 2,
    ipsPerEni: 6,
    capacity: 12,
    instanceType: 'ecs.g6.large',
    lastError: '',
  },
};

const MAPPINGS: ListMappingsReply__Output = {
  mappings: [
    {
      network: {
        pod: {
          namespace: 'default',
          name: 'nginx-7c9f8',
          containerId: '3f2a9b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8',
        },
        ip: '10.0.1.11',
        prefixLength: 24,
        gateway: '10.0.1.253',
        eniId: 'eni-bp1first0000000001',
        eniMac: '00:16:3e:01:02:03',
        vswitchId: 'vsw-bp1aaaa',
        vswitchCidr: '10.0.1.0/24',
        netns: '/var/run/netns/cni-1234',
        ifname: 'eth0',
        allocatedAtMs: STARTED - 3 * MINUTE_MS,
        driver: 'veth',
        hostInterface: { name: 'twv3b1c0d2e4f5a', mac: '02:5e:11:8a:0c:d3', sandbox: '' },
        podInterface: {
          name: 'eth0',
          mac: '02:9c:47:e0:21:6b',
          sandbox: '/var/run/netns/cni-1234',
        },
      },
      ipState: 'in_use',
    },
  ],
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Async on purpose: the server answering the cli lives in this same event loop. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [requireBuilt(BINS.terwayCli), ...args],
      // TERWAY_SOCKET is cleared so a developer's shell cannot steer the test.
      { env: { ...process.env, TERWAY_SOCKET: '', ...env }, timeout: TEST_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function startServer(socketPath: string, handlers: IntrospectionHandlers): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(terwayProto().terway.v1.Introspection.service, handlers);
  return new Promise((resolve, reject) => {
    server.bindAsync(unixTarget(socketPath), grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(server),
    );
  });
}

function stopServer(server: grpc.Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr.endsWith('\n')).toBe(true);
  expect(run.stderr.trimEnd()).toMatch(pattern);
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('terway-cli against an Introspection server on a unix socket', () => {
  let dir = '';
  let socket = '';
  let failingSocket = '';
  let server: grpc.Server | undefined;
  let failing: grpc.Server | undefined;

  beforeAll(async () => {
    requireBuilt(BINS.terwayCli);
    dir = await mkdtemp(join(tmpdir(), 'terway-cli-'));
    socket = join(dir, 'eni.socket');
    failingSocket = join(dir, 'failing.socket');
    server = await startServer(socket, {
      ShowFactory: (_call, callback) => callback(null, FACTORY),
      ListMappings: (_call, callback) => callback(null, MAPPINGS),
    });
    const broken = { code: grpc.status.INTERNAL, details: 'store is closed' };
    failing = await startServer(failingSocket, {
      ShowFactory: (_call, callback) => callback(broken),
      ListMappings: (_call, callback) => callback(broken),
    });
  });

  afterAll(async () => {
    await stopServer(server);
    await stopServer(failing);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test(
    'show factory --json prints exactly the reply',
    async () => {
      const run = await cli(['--socket', socket, 'show', 'factory', '--json']);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(run.stdout)).toEqual(FACTORY);
      expect(run.stdout).toBe(`${JSON.stringify(JSON.parse(run.stdout), null, 2)}\n`);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'show factory lists the ENI, its MAC and every IP with state and owner',
    async () => {
      const run = await cli(['show', 'factory', '--socket', socket]);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      const out = run.stdout;
      expect(out).toContain('ecs.g6.large');
      expect(out).toContain('eni-bp1first0000000001');
      expect(out).toContain('00:16:3e:01:02:03');
      expect(out).toContain('pending IPs 1');
      expect(out).toMatch(/10\.0\.1\.10 \(eni primary\)\s+idle\s+-\s+10m\d+s ago/);
      expect(out).toMatch(
        /10\.0\.1\.11\s+in_use\s+default\/nginx-7c9f8 \(3f2a9b1c4d5e\)\s+3m\d+s ago/,
      );
      expect(out).toMatch(/10\.0\.1\.12\s+invalid\s+-\s+2m\d+s ago/);
      // Piped stdout is not a TTY: no colour codes.
      expect(out).not.toContain('\u001b[');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'mapping --json prints exactly the reply',
    async () => {
      const run = await cli(['mapping', '--json'], { TERWAY_SOCKET: socket });
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(run.stdout)).toEqual(MAPPINGS);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'mapping shows pod → IP → ENI',
    async () => {
      const run = await cli(['--socket', socket, 'mapping']);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(
        /^POD\s+CONTAINER\s+IP\s+ENI\s+MAC\s+DRIVER\s+NODE IF\s+STATE\s+AGE$/,
      );
      expect(lines[1]).toMatch(
        /^default\/nginx-7c9f8\s+3f2a9b1c4d5e\s+10\.0\.1\.11\/24\s+eni-bp1first0000000001\s+00:16:3e:01:02:03\s+veth\s+twv3b1c0d2e4f5a\s+in_use\s+3m\d+s$/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a missing socket is one line on stderr and exit 1',
    async () => {
      const missing = join(dir, 'missing.socket');
      const run = await cli(['--socket', missing, 'show', 'factory']);
      expectOneLineError(
        run,
        new RegExp(
          `^terway-cli: cannot reach terwayd at ${escapeRegExp(missing)}: .*ENOENT.*\\(is the daemon running\\? use --socket\\)$`,
        ),
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a path that is not a socket is also reported as unreachable',
    async () => {
      const plain = join(dir, 'plain-file');
      await writeFile(plain, '');
      const run = await cli(['mapping', '--socket', plain]);
      expectOneLineError(run, /^terway-cli: cannot reach terwayd at .*plain-file: /);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a daemon-side failure is one line with the status',
    async () => {
      const run = await cli(['mapping', '--socket', failingSocket]);
      expectOneLineError(
        run,
        /^terway-cli: terwayd at .* failed ListMappings: store is closed \(INTERNAL\)$/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an unknown command is a usage error',
    async () => {
      const run = await cli(['--socket', socket, 'frobnicate']);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain("unknown command 'frobnicate'");
      expect(run.stdout).toBe('');
    },
    TEST_TIMEOUT_MS,
  );
});
