import { describe, expect, test } from '@jest/globals';
import type { Introspection } from '../../src/cli/introspection-client.js';
import { CliError } from '../../src/cli/introspection-client.js';
import type { CliIo } from '../../src/cli/main.js';
import { DEFAULT_FLOW_LIMIT, runCli } from '../../src/cli/main.js';
import type { ListFlowsReply__Output } from '../../src/rpc/generated/terway/v1/ListFlowsReply.js';
import type { ListFlowsRequest } from '../../src/rpc/generated/terway/v1/ListFlowsRequest.js';
import type { ListMappingsReply__Output } from '../../src/rpc/generated/terway/v1/ListMappingsReply.js';
import type { ShowServicesReply__Output } from '../../src/rpc/generated/terway/v1/ShowServicesReply.js';
import type { ShowFactoryReply__Output } from '../../src/rpc/generated/terway/v1/ShowFactoryReply.js';
import { DEFAULT_SOCKET_PATH } from '../../src/rpc/socket-address.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

const FACTORY: ShowFactoryReply__Output = {
  cloud: null,
  enis: [
    {
      id: 'eni-bp1first',
      mac: '00:16:3e:01:02:03',
      status: 'in_use',
      primaryIp: '10.0.1.10',
      vswitchId: 'vsw-bp1aaaa',
      vswitchCidr: '10.0.1.0/24',
      gateway: '10.0.1.253',
      ips: [{ address: '10.0.1.10', state: 'idle', owner: null, isEniPrimary: true, sinceMs: NOW }],
      pendingIps: 0,
      link: '',
    },
  ],
  pool: null,
};
const MAPPINGS: ListMappingsReply__Output = { mappings: [] };
const SERVICES: ShowServicesReply__Output = {
  enabled: true,
  source: 'file',
  synced: true,
  lastError: '',
  pinDir: '/sys/fs/bpf/terway-node',
  frontends: [],
  node: 'node-1',
  zone: 'cn-hangzhou-k',
  parkedFrontendIds: 0,
  sourceProblem: '',
  newFlowsBalanced: 0,
  newFlowsRefused: 0,
  newFlowsClashed: 0,
  newFlowsMoved: 0,
  directConnectionsMoved: 0,
  addHoldRemainingMs: 0,
  addHoldExpired: false,
};
const FLOWS: ListFlowsReply__Output = {
  enabled: true,
  flows: [],
  matched: 0,
  total: 0,
  mostListed: 262_144,
  capacity: 262_144,
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  sockets: string[];
  /** What each LB call asked for: the filter of ShowServices, the request of ListFlows. */
  requests: (string | ListFlowsRequest)[];
}

async function run(
  args: string[],
  options: { env?: Record<string, string>; introspection?: Partial<Introspection> } = {},
): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const sockets: string[] = [];
  const requests: (string | ListFlowsRequest)[] = [];
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    color: false,
    now: () => NOW,
    env: options.env ?? {},
    introspection: {
      showFactory: (socket) => {
        sockets.push(socket);
        return Promise.resolve(FACTORY);
      },
      listMappings: (socket) => {
        sockets.push(socket);
        return Promise.resolve(MAPPINGS);
      },
      showServices: (socket, filter) => {
        sockets.push(socket);
        requests.push(filter);
        return Promise.resolve(SERVICES);
      },
      listFlows: (socket, request) => {
        sockets.push(socket);
        requests.push(request);
        return Promise.resolve(FLOWS);
      },
      status: (socket) => {
        sockets.push(socket);
        return Promise.resolve({ ...SERVING, ready: true, canAllocate: true });
      },
      ...options.introspection,
    },
  };
  const code = await runCli(['node', 'terway-cli', ...args], io);
  return { code, stdout, stderr, sockets, requests };
}

/** A Status reply with every field (a daemon that serves and has its Services). */
const SERVING = {
  ready: true,
  canAllocate: true,
  reason: '',
  servicesPending: false,
  servicesPendingReason: '',
};

describe('terway-cli argument handling', () => {
  test('defaults to the well-known socket', async () => {
    const r = await run(['show', 'factory']);
    expect(r).toMatchObject({ code: 0, stderr: '', sockets: [DEFAULT_SOCKET_PATH] });
    expect(r.stdout).toContain('eni-bp1first');
  });

  test.each([
    [['--socket', '/tmp/a.sock', 'show', 'factory']],
    [['show', 'factory', '--socket', '/tmp/a.sock']],
    [['show', '--socket', '/tmp/a.sock', 'factory']],
    [['--socket=/tmp/a.sock', 'mapping']],
    [['mapping', '--socket', '/tmp/a.sock']],
  ])('--socket is accepted anywhere: %j', async (args) => {
    const r = await run(args);
    expect(r.code).toBe(0);
    expect(r.sockets).toEqual(['/tmp/a.sock']);
  });

  test('TERWAY_SOCKET is honoured and the flag wins over it', async () => {
    const env = { TERWAY_SOCKET: '/tmp/env.sock' };
    expect((await run(['mapping'], { env })).sockets).toEqual(['/tmp/env.sock']);
    expect((await run(['mapping', '--socket', '/tmp/flag.sock'], { env })).sockets).toEqual([
      '/tmp/flag.sock',
    ]);
  });

  test('an empty TERWAY_SOCKET counts as unset', async () => {
    const r = await run(['mapping'], { env: { TERWAY_SOCKET: '' } });
    expect(r.sockets).toEqual([DEFAULT_SOCKET_PATH]);
  });

  test('--json prints only the reply, pretty, in received key order', async () => {
    const factory = await run(['show', 'factory', '--json']);
    expect(factory.stdout).toBe(`${JSON.stringify(FACTORY, null, 2)}\n`);
    const mapping = await run(['mapping', '--json']);
    expect(JSON.parse(mapping.stdout)).toEqual(MAPPINGS);
  });

  test('an unreachable daemon is one stderr line and exit 1', async () => {
    const message = 'cannot reach terwayd at /x: no such socket (ENOENT) (is the daemon running?)';
    const r = await run(['show', 'factory', '--socket', '/x'], {
      introspection: { showFactory: () => Promise.reject(new CliError('UNREACHABLE', message)) },
    });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `terway-cli: ${message}\n`,
      sockets: [],
      requests: [],
    });
  });

  test('an unexpected error is still one line, without a stack', async () => {
    const r = await run(['mapping'], {
      introspection: { listMappings: () => Promise.reject(new Error('boom\n    at somewhere')) },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('terway-cli: unexpected error: boom\n');
  });

  test('an unknown command is a usage error', async () => {
    const r = await run(['bogus']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unknown command 'bogus'");
    expect(r.stdout).toBe('');
  });

  test('an unknown option is a usage error', async () => {
    const r = await run(['mapping', '--wide']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unknown option '--wide'");
  });

  test('--help exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('show');
    expect(r.stdout).toContain('mapping');
  });

  test('show services passes its filter, or none', async () => {
    expect((await run(['show', 'services'])).requests).toEqual(['']);
    const r = await run(['show', 'services', 'kube-system/kube-dns', '--socket', '/tmp/a.sock']);
    expect(r).toMatchObject({
      code: 0,
      sockets: ['/tmp/a.sock'],
      requests: ['kube-system/kube-dns'],
    });
    expect(r.stdout).toContain('no Service frontends');
    expect(JSON.parse((await run(['show', 'services', '--json'])).stdout)).toEqual(SERVICES);
  });

  test('show flows passes every filter, and a limit of 1000 unless told', async () => {
    expect((await run(['show', 'flows'])).requests).toEqual([
      { service: '', pod: '', backend: '', limit: DEFAULT_FLOW_LIMIT },
    ]);
    expect(DEFAULT_FLOW_LIMIT).toBe(1000);
    const r = await run([
      'show',
      'flows',
      '--service',
      'default/web',
      '--pod',
      'default/client',
      '--backend',
      '10.0.0.21:8080',
      '--limit',
      '0',
    ]);
    expect(r.requests).toEqual([
      { service: 'default/web', pod: 'default/client', backend: '10.0.0.21:8080', limit: 0 },
    ]);
    expect(JSON.parse((await run(['show', 'flows', '--json'])).stdout)).toEqual(FLOWS);
  });

  test.each([['-1'], ['ten'], ['1.5']])('show flows --limit %s is a usage error', async (limit) => {
    const r = await run(['show', 'flows', '--limit', limit]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('a whole number (0 for all)');
    expect(r.requests).toEqual([]);
  });

  test('status: one line and exit 0 while terwayd serves, even when the node is out of IPs', async () => {
    const serving = await run(['status', '--socket', '/tmp/a.sock']);
    expect(serving).toMatchObject({
      code: 0,
      stdout: 'terwayd at /tmp/a.sock is serving; new pods can get an IP\n',
      stderr: '',
    });
    const full = await run(['status'], {
      introspection: {
        status: () =>
          Promise.resolve({
            ...SERVING,
            canAllocate: false,
            reason: 'every IP slot of this node is in use',
          }),
      },
    });
    expect(full.code).toBe(0);
    expect(full.stdout).toBe(
      `terwayd at ${DEFAULT_SOCKET_PATH} is serving; new pods cannot get an IP now: every IP slot of this node is in use\n`,
    );
  });

  test('status: exit 1 with the reason when terwayd is not ready or does not answer', async () => {
    const notReady = await run(['status', '--json'], {
      introspection: {
        status: () =>
          Promise.resolve({ ...SERVING, ready: false, canAllocate: false, reason: 'restoring' }),
      },
    });
    expect(notReady.code).toBe(1);
    expect(JSON.parse(notReady.stdout)).toEqual({
      ready: false,
      canAllocate: false,
      reason: 'restoring',
      servicesPending: false,
      servicesPendingReason: '',
    });
    expect(notReady.stderr).toBe(
      `terway-cli: terwayd at ${DEFAULT_SOCKET_PATH} is not ready: restoring\n`,
    );
    const message =
      'terwayd at /x did not answer Status within 5s (is the daemon stuck or still starting?)';
    const hung = await run(['status', '--socket', '/x'], {
      introspection: { status: () => Promise.reject(new CliError('UNREACHABLE', message)) },
    });
    expect([hung.code, hung.stdout, hung.stderr]).toEqual([1, '', `terway-cli: ${message}\n`]);
  });

  test('status: Services not synced are shown, and fail only --services-synced (the readiness probe)', async () => {
    const reason =
      "the Service LB's source (Kubernetes API) has not delivered a complete state yet; pod ADDs wait for it, at most 7.5 s more (--lb-sync-wait)";
    const pending = {
      introspection: {
        status: () =>
          Promise.resolve({ ...SERVING, servicesPending: true, servicesPendingReason: reason }),
      },
    };
    const plain = await run(['status', '--socket', '/s'], pending);
    expect([plain.code, plain.stderr]).toEqual([0, '']);
    expect(plain.stdout).toBe(
      `terwayd at /s is serving; new pods can get an IP; Services not synced: ${reason}\n`,
    );
    const probe = await run(['status', '--socket', '/s', '--services-synced'], pending);
    expect([probe.code, probe.stdout]).toEqual([1, '']);
    expect(probe.stderr).toBe(
      `terway-cli: terwayd at /s is serving, but its Services are not synced: ${reason}\n`,
    );
    const synced = await run(['status', '--socket', '/s', '--services-synced']);
    expect([synced.code, synced.stdout]).toEqual([
      0,
      'terwayd at /s is serving; new pods can get an IP\n',
    ]);
  });
});
