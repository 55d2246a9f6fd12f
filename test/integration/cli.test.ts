import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  FLOWS_PER_PART,
  listFlows,
  showServices,
  type LbIntrospectionDeps,
} from '../../src/daemon/lb-introspection.js';
import { streamed } from '../../src/daemon/stream-handler.js';
import { NO_ENDPOINT_PODS } from '../../src/k8s/endpoint-pods.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import type { IntrospectionHandlers } from '../../src/rpc/generated/terway/v1/Introspection.js';
import type { ListMappingsReply__Output } from '../../src/rpc/generated/terway/v1/ListMappingsReply.js';
import type { ShowFactoryReply__Output } from '../../src/rpc/generated/terway/v1/ShowFactoryReply.js';
import { terwayProto } from '../../src/rpc/proto.js';
import { unixTarget } from '../../src/rpc/socket-address.js';
import { BINS, requireBuilt } from '../support/bins.js';
import { backends, frontend } from '../support/desired-frontends.js';
import { writeFlows } from '../support/flow-entries.js';

/** Generous: each run is a cold node start plus a gRPC round trip. */
const TEST_TIMEOUT_MS = 20_000;
const MINUTE_MS = 60_000;
const STARTED = Date.now();
/**
 * Translation records on the test node: as one message they would be past gRPC's default 4 MB
 * limit on what a client receives, as a busy node's flow map is; they come in parts.
 */
const LB_FLOWS = 60_000;
/** Services beside default/web: more frontends than one part of ShowServices holds. */
const OTHER_SERVICES = 700;

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
      {
        env: { ...process.env, TERWAY_SOCKET: '', ...env },
        timeout: TEST_TIMEOUT_MS,
        // `show flows --limit 0 --json` prints tens of MB.
        maxBuffer: 256 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * A node's Service LB in memory: one Service, and `flows` translation records from one client,
 * served through the daemon's own view functions, so filters, limits and errors cross the wire as
 * terwayd sends them.
 */
async function lbNode(flows: number): Promise<LbIntrospectionDeps> {
  const maps = memoryLbMaps();
  const reconciler = new LbReconciler({ maps, logger: pino({ level: 'silent' }) });
  reconciler.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.21'))]);
  for (let step = 0; step < OTHER_SERVICES; step++) {
    // Added out of address order, as a map's hash order would list them.
    const index = (step * 379) % OTHER_SERVICES;
    const octets = `${Math.floor(index / 256)}.${index % 256}`;
    reconciler.replaceService(`default/s${index}`, [
      frontend(`10.97.${octets}`, backends(`10.2.${octets}`), {
        service: { namespace: 'default', name: `s${index}`, portName: '' },
      }),
    ]);
  }
  reconciler.markSynced();
  await reconciler.whenIdle();
  // One millisecond apart, the programs' clock's resolution: the last written is the newest.
  writeFlows(
    maps.flow,
    Array.from({ length: flows }, (_, index) => ({
      clientPort: 1024 + index,
      firstSeenNs: BigInt(index + 1) * 1_000_000n,
      packets: 2n,
      bytes: 120n,
    })),
  );
  return {
    lb: {
      maps,
      reconciler,
      source: 'file',
      pinDir: '/sys/fs/bpf/cli-test',
      thisNode: { name: 'node-1', zone: 'cn-hangzhou-k' },
      sourceProblem: () => undefined,
      endpointPods: () => NO_ENDPOINT_PODS,
      firstStateGate: { holdRemainingMs: () => 0, openedBy: 'first-state' },
    },
    pods: () => [],
    monotonicNs: () => BigInt(flows + 1) * 1_000_000n,
  };
}

function lbHandlers(
  deps: LbIntrospectionDeps,
): Pick<IntrospectionHandlers, 'ShowServices' | 'ListFlows'> {
  const log = pino({ level: 'silent' });
  return {
    ShowServices: streamed('ShowServices', log, (request) => showServices(deps, request.filter)),
    ListFlows: streamed('ListFlows', log, (request) => listFlows(deps, request)),
  };
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
      ...lbHandlers(await lbNode(LB_FLOWS)),
    });
    const broken = { code: grpc.status.INTERNAL, details: 'store is closed' };
    failing = await startServer(failingSocket, {
      ShowFactory: (_call, callback) => callback(broken),
      ListMappings: (_call, callback) => callback(broken),
      ShowServices: (call) => call.emit('error', broken),
      ListFlows: (call) => call.emit('error', broken),
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

  test(
    'show services prints the frontend and its backends from the daemon',
    async () => {
      const run = await cli(['--socket', socket, 'show', 'services', 'default/web']);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain('10.96.0.10:80/TCP  default/web (port http)  id 1\n');
      expect(run.stdout).toMatch(/\n {2}10\.0\.0\.21:8080 +ready +1 /);
      const none = await cli(['--socket', socket, 'show', 'services', '10.96.0.99']);
      expect(none.stdout).toContain('no Service frontends');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'show flows: the filters and the limit cross the wire; the default limit is told',
    async () => {
      const run = await cli(['--socket', socket, 'show', 'flows', '--pod', '10.0.0.10:1025']);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain(
        'TCP    10.0.0.10:1025  -           default/web  10.96.0.10:80  10.0.0.21:8080',
      );
      expect(run.stdout).toContain('1 flow (60000 in the flow map of 262144)');
      const limited = await cli(['--socket', socket, 'show', 'flows']);
      expect(limited.stdout).toContain(
        '1000 of 60000 matching flows shown, most recently active first (60000 in the flow map of 262144)',
      );
      // Most recently active first: the last client port written is the newest.
      expect(limited.stdout.split('\n')[1]).toContain(`10.0.0.10:${1024 + LB_FLOWS - 1} `);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'show flows --limit 0 receives every flow, in parts that together are far over 4 MB',
    async () => {
      const run = await cli(['--socket', socket, 'show', 'flows', '--limit', '0', '--json']);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      const reply = JSON.parse(run.stdout) as { flows: unknown[]; matched: number };
      expect(reply.flows).toHaveLength(LB_FLOWS);
      expect(reply.matched).toBe(LB_FLOWS);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a filter the daemon refuses is one line with its reason',
    async () => {
      const run = await cli(['--socket', socket, 'show', 'flows', '--pod', 'client']);
      expectOneLineError(
        run,
        /^terway-cli: terwayd at .* failed ListFlows: not a pod \(namespace\/name\) or an address \(ip or ip:port\): "client" \(INVALID_ARGUMENT\)$/,
      );
      const failed = await cli(['--socket', failingSocket, 'show', 'services']);
      expectOneLineError(failed, /failed ShowServices: store is closed \(INTERNAL\)$/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'between two parts of a listing the daemon answers other calls',
    async () => {
      const Client = terwayProto().terway.v1.Introspection;
      const client = new Client(unixTarget(socket), grpc.credentials.createInsecure());
      try {
        const events: string[] = [];
        let parts = 0;
        await new Promise<void>((resolve, reject) => {
          const stream = client.ListFlows({ limit: 0 });
          stream.on('data', () => {
            if (++parts !== 1) return;
            // Asked once the first part is here: answered long before the last of ~60 parts.
            client.ShowFactory({}, (error) => {
              if (error) reject(error);
              else events.push(`factory answered after part ${parts}`);
            });
          });
          stream.on('error', reject);
          stream.on('end', () => {
            events.push(`stream ended after part ${parts}`);
            resolve();
          });
        });
        expect(parts).toBe(Math.ceil(LB_FLOWS / FLOWS_PER_PART));
        expect(events).toHaveLength(2);
        expect(events[1]).toBe(`stream ended after part ${parts}`);
        const answeredAfter = Number(/part (\d+)/.exec(events[0]!)![1]);
        expect(answeredAfter).toBeLessThan(parts / 2);
      } finally {
        client.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'show services puts the parts together in address order',
    async () => {
      const run = await cli(['--socket', socket, 'show', 'services', '--json']);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      const reply = JSON.parse(run.stdout) as { frontends: { address: string }[] };
      const addresses = reply.frontends.map((frontend) => frontend.address);
      expect(addresses).toHaveLength(OTHER_SERVICES + 1);
      expect(new Set(addresses).size).toBe(OTHER_SERVICES + 1);
      const numeric = addresses.map((ip) =>
        ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0),
      );
      expect(numeric).toEqual([...numeric].sort((a, b) => a - b));
      expect(addresses[0]).toBe('10.96.0.10');
    },
    TEST_TIMEOUT_MS,
  );
});
