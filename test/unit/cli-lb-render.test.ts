import { describe, expect, test } from '@jest/globals';

import { formatBytes } from '../../src/cli/format.js';
import { renderShowFlows } from '../../src/cli/show-flows.js';
import { LB_DISABLED_MESSAGE, renderShowServices } from '../../src/cli/show-services.js';
import type { FlowEntry__Output } from '../../src/rpc/generated/terway/v1/FlowEntry.js';
import type { LbFrontendEntry__Output } from '../../src/rpc/generated/terway/v1/LbFrontendEntry.js';
import type { ShowServicesReply__Output } from '../../src/rpc/generated/terway/v1/ShowServicesReply.js';

const COUNTERS = { packets: 120, bytes: 8612, flows: 12, rejected: 0 };

function frontend(extra: Partial<LbFrontendEntry__Output> = {}): LbFrontendEntry__Output {
  return {
    address: '10.96.0.80',
    port: 80,
    protocol: 'TCP',
    service: 'default/web',
    portName: 'http',
    external: false,
    affinityTimeoutSeconds: 0,
    id: 1,
    backends: [
      {
        address: '10.99.0.7',
        port: 8080,
        id: 1,
        state: 'ready',
        counters: { packets: 30, bytes: 2150, flows: 3, rejected: 0 },
        pod: { namespace: 'default', name: 'web-1', containerId: 'c1' },
      },
      {
        address: '10.99.0.9',
        port: 8080,
        id: 0,
        state: 'draining',
        counters: null,
        pod: null,
      },
    ],
    counters: COUNTERS,
    blocked: '',
    pending: false,
    topology: '',
    ...extra,
  };
}

function services(
  frontends: LbFrontendEntry__Output[],
  extra: Partial<ShowServicesReply__Output> = {},
): ShowServicesReply__Output {
  return {
    enabled: true,
    source: 'file',
    synced: true,
    lastError: '',
    pinDir: '/sys/fs/bpf/terway-node',
    frontends,
    node: 'node-1',
    zone: 'cn-hangzhou-k',
    parkedFrontendIds: 0,
    sourceProblem: '',
    newFlowsBalanced: 12,
    newFlowsRefused: 0,
    newFlowsClashed: 0,
    newFlowsMoved: 0,
    directConnectionsMoved: 0,
    addHoldRemainingMs: 0,
    addHoldExpired: false,
    ...extra,
  };
}

function lines(text: string): string[] {
  return text.split('\n');
}

describe('terway-cli show services', () => {
  test('a frontend: its Service and port, counters, then its backends with pods and counters', () => {
    const out = renderShowServices(services([frontend()]));
    expect(lines(out)).toEqual([
      'Service LB: 1 frontend from a services file (synced); node node-1, zone cn-hangzhou-k; maps in /sys/fs/bpf/terway-node',
      "  new flows from this node's pods, since the maps were created: 12 balanced (0 of them from a moved port), 0 refused (no ready backend), 0 refused (port clash); 0 direct connections moved off a port a flow held",
      '',
      '10.96.0.80:80/TCP  default/web (port http)  id 1',
      '  flows 12  packets 120  bytes 8.41 KiB  rejected 0',
      '  BACKEND         STATE     ID  POD            FLOWS  PACKETS  BYTES',
      '  10.99.0.7:8080  ready     1   default/web-1  3      30       2.10 KiB',
      '  10.99.0.9:8080  draining  -   -              -      -        -',
      '',
    ]);
  });

  test('each state that needs the operator is spelled out', () => {
    const out = renderShowServices(
      services(
        [
          frontend({
            blocked: 'no frontend id is free: the frontend map is full',
            id: 0,
            backends: [],
            counters: null,
          }),
          frontend({ address: '10.96.0.81', id: 0, backends: [], counters: null }),
          frontend({ address: '10.96.0.82', service: '', portName: '' }),
          frontend({ address: '10.96.0.83', pending: true }),
          frontend({ address: '10.96.0.85', topology: 'zone' }),
          frontend({
            address: '10.96.0.84',
            backends: [],
            external: true,
            affinityTimeoutSeconds: 10800,
            counters: { ...COUNTERS, rejected: 4 },
          }),
        ],
        {
          synced: false,
          source: 'kubernetes',
          lastError: 'tw_fe_v1: update: E2BIG',
          zone: '',
          parkedFrontendIds: 2,
          newFlowsBalanced: 1234,
          newFlowsRefused: 4,
          newFlowsClashed: 1,
          newFlowsMoved: 2,
          directConnectionsMoved: 3,
          sourceProblem: 'services file not applied: not valid YAML (2:1)\n\n 1 | kind: [x\n-----^',
        },
      ),
    );
    expect(out).toContain(
      'Service LB: 6 frontends from the Kubernetes API (first sync not complete: nothing restored is deleted yet); node node-1, zone -;',
    );
    expect(out).toContain(
      'deleted yet); node node-1, zone -; maps in /sys/fs/bpf/terway-node\n' +
        '  services file not applied: not valid YAML (2:1)\n' +
        '     1 | kind: [x\n' +
        '    -----^\n',
    );
    expect(out).toContain('  last write failed, retrying: tw_fe_v1: update: E2BIG');
    expect(out).toContain(
      "  new flows from this node's pods, since the maps were created: 1234 balanced (2 of them " +
        'from a moved port), 4 refused (no ready backend), 1 refused (port clash); 3 direct ' +
        'connections moved off a port a flow held\n',
    );
    expect(out).toContain(
      '  2 frontend ids parked: deleted frontends whose connections may still run count under them; ' +
        'reused once those end',
    );
    expect(out).toContain(
      '10.96.0.80:80/TCP  default/web (port http)\n  NOT PROGRAMMED: no frontend id is free',
    );
    expect(out).toContain('10.96.0.81:80/TCP  default/web (port http)\n  not in the maps yet');
    expect(out).toContain('10.96.0.82:80/TCP  no Service  id 1\n  nothing desires it: restored');
    expect(out).toContain(
      '10.96.0.83:80/TCP  default/web (port http)  id 1\n  a change of its backends',
    );
    // Topology hints narrowed new flows to this zone's backends; the others show as draining.
    expect(out).toContain('10.96.0.85:80/TCP  default/web (port http)  hints: this zone  id 1\n');
    expect(out).toContain(
      '10.96.0.84:80/TCP  default/web (port http)  external IP  affinity ClientIP 10800s  id 1\n' +
        '  flows 12  packets 120  bytes 8.41 KiB  rejected 4\n' +
        '  no ready backend: new connections are refused at once',
    );
  });

  test('pod ADDs held for the first state, and a hold that ran out, are said in the header', () => {
    const held = renderShowServices(
      services([], { synced: false, source: 'kubernetes', addHoldRemainingMs: 8_750 }),
    );
    expect(held).toContain(
      '  pod ADDs are held until the first complete state is in the maps, for at most 8.8 s more ' +
        '(--lb-sync-wait)\n',
    );
    const expired = renderShowServices(
      services([], { synced: false, source: 'kubernetes', addHoldExpired: true }),
    );
    expect(expired).toContain(
      '  pod ADDs are no longer held for the first complete state: it did not come within ' +
        '--lb-sync-wait; pods get their Services once it does\n',
    );
    // Once the state has come, how it came no longer matters.
    const synced = renderShowServices(services([], { addHoldExpired: true }));
    expect(synced).not.toContain('pod ADDs');
  });

  test('no frontends, and no Service LB at all, are said in words', () => {
    expect(renderShowServices(services([]))).toContain('\n\nno Service frontends\n');
    expect(renderShowServices(services([], { enabled: false }))).toBe(`${LB_DISABLED_MESSAGE}\n`);
  });
});

function flow(extra: Partial<FlowEntry__Output> = {}): FlowEntry__Output {
  return {
    protocol: 'TCP',
    clientAddress: '10.99.0.5',
    clientPort: 40754,
    clientPod: { namespace: 'default', name: 'api-2', containerId: 'c2' },
    frontendAddress: '10.96.0.80',
    frontendPort: 80,
    service: 'default/web',
    backendAddress: '10.99.0.8',
    backendPort: 8080,
    backendPod: null,
    state: 'established',
    ageMs: 192_000,
    idleMs: 1_500,
    packets: 10,
    bytes: 718,
    nextHopMac: '',
    ended: false,
    movedClientPort: 0,
    direct: false,
    ...extra,
  };
}

describe('terway-cli show flows', () => {
  test('one row per flow, with a count of what the map holds', () => {
    const out = renderShowFlows({
      enabled: true,
      flows: [flow()],
      matched: 1,
      total: 3,
      mostListed: 262_144,
      capacity: 262_144,
    });
    expect(lines(out)).toEqual([
      'PROTO  CLIENT           CLIENT POD     SERVICE      FRONTEND       BACKEND         BACKEND POD  STATE        AGE    IDLE  PACKETS  BYTES',
      'TCP    10.99.0.5:40754  default/api-2  default/web  10.96.0.80:80  10.99.0.8:8080  -            established  3m12s  1s    10       718 B',
      '1 flow (3 in the flow map of 262144)',
      '',
    ]);
  });

  test('a flow past its lifetime reads ended, whatever its last state', () => {
    const out = renderShowFlows({
      enabled: true,
      flows: [
        flow({ state: 'client-fin' }),
        flow({ clientPort: 40755, state: 'closing', idleMs: 600_000, ended: true }),
      ],
      matched: 2,
      total: 2,
      mostListed: 262_144,
      capacity: 262_144,
    });
    expect(lines(out)[1]).toMatch(/ client-fin {2}3m12s {2}1s /);
    expect(lines(out)[2]).toMatch(/:40755 .* ended {7}3m12s {2}10m0s /);
  });

  test('a moved client port follows the port the socket has, as the port on the wire', () => {
    const out = renderShowFlows({
      enabled: true,
      flows: [flow({ movedClientPort: 61234 })],
      matched: 1,
      total: 1,
      mostListed: 262_144,
      capacity: 262_144,
    });
    expect(lines(out)[1]).toMatch(
      /^TCP {4}10\.99\.0\.5:40754 \(sent as :61234\) {2}default\/api-2 /,
    );
  });

  test('a direct connection reads as such, with no frontend: it went through none', () => {
    const out = renderShowFlows({
      enabled: true,
      flows: [
        flow(),
        flow({
          clientPort: 40755,
          direct: true,
          service: '',
          frontendAddress: '10.99.0.8',
          frontendPort: 8080,
          movedClientPort: 61235,
        }),
      ],
      matched: 2,
      total: 2,
      mostListed: 262_144,
      capacity: 262_144,
    });
    const [header, service, direct] = lines(out);
    expect(header).toMatch(/ SERVICE +FRONTEND +BACKEND /);
    expect(service).toMatch(/ {2}default\/web +10\.96\.0\.80:80 +10\.99\.0\.8:8080 /);
    expect(direct).toMatch(
      /^TCP {4}10\.99\.0\.5:40755 \(sent as :61235\) {2}default\/api-2 {2}\(direct connection\) {2}- +10\.99\.0\.8:8080 /,
    );
    // The frontend fields repeat the backend's: shown once, in BACKEND.
    expect(direct!.match(/10\.99\.0\.8:8080/g)).toHaveLength(1);
    // The columns line up: the direct row's cells start where the header's do.
    expect(direct!.indexOf('(direct connection)')).toBe(header!.indexOf('SERVICE'));
    expect(direct!.indexOf('- ', header!.indexOf('FRONTEND'))).toBe(header!.indexOf('FRONTEND'));
  });

  test('a limited listing says how much it left out and how to see all', () => {
    const out = renderShowFlows({
      enabled: true,
      flows: [flow(), flow({ clientPort: 40755, service: '' })],
      matched: 9,
      total: 20,
      mostListed: 262_144,
      capacity: 262_144,
    });
    expect(out).toContain(
      '2 of 9 matching flows shown, most recently active first (20 in the flow map of 262144); --limit 0 shows all',
    );
    expect(lines(out)[2]).toMatch(/^TCP {4}10\.99\.0\.5:40755 {2}default\/api-2 {2}- /);
  });

  test('a listing cut at the most terwayd lists at once says so, and how to narrow it', () => {
    const out = renderShowFlows({
      enabled: true,
      flows: [flow(), flow({ clientPort: 40755 })],
      matched: 900_000,
      total: 1_000_000,
      mostListed: 2,
      capacity: 1_048_576,
    });
    expect(out.trimEnd().split('\n').at(-1)).toBe(
      '2 of 900000 matching flows shown, most recently active first (1000000 in the flow map of 1048576): ' +
        'the most terwayd lists at once; narrow them with --service, --pod or --backend',
    );
    // An older daemon sends no cap: a short listing is its limit's doing.
    const older = renderShowFlows({
      enabled: true,
      flows: [flow()],
      matched: 9,
      total: 20,
      mostListed: 0,
      capacity: 0,
    });
    expect(older.trimEnd().split('\n').at(-1)).toMatch(
      /\(20 in the flow map\); --limit 0 shows all$/,
    );
    // A default listing of more flows than the cap: --limit 0 would not show them all.
    const many = renderShowFlows({
      enabled: true,
      flows: [flow()],
      matched: 900_000,
      total: 1_000_000,
      mostListed: 262_144,
      capacity: 262_144,
    });
    expect(many.trimEnd().split('\n').at(-1)).toBe(
      '1 of 900000 matching flows shown, most recently active first (1000000 in the flow map of 262144); ' +
        '--limit 0 shows the 262144 most recent, the most terwayd lists at once',
    );
  });

  test('an empty map and an empty match are told apart', () => {
    expect(
      renderShowFlows({
        enabled: true,
        flows: [],
        matched: 0,
        total: 0,
        mostListed: 262_144,
        capacity: 262_144,
      }),
    ).toBe('no translation records: no pod on this node has dialled a Service\n');
    expect(
      renderShowFlows({
        enabled: true,
        flows: [],
        matched: 0,
        total: 7,
        mostListed: 262_144,
        capacity: 262_144,
      }),
    ).toBe('no translation records match (7 in the flow map of 262144)\n');
    expect(
      renderShowFlows({
        enabled: false,
        flows: [],
        matched: 0,
        total: 0,
        mostListed: 262_144,
        capacity: 262_144,
      }),
    ).toBe(`${LB_DISABLED_MESSAGE}\n`);
  });
});

describe('byte counts', () => {
  test.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [8612, '8.41 KiB'],
    [5 * 1024 * 1024, '5.00 MiB'],
    [3.3e9, '3.07 GiB'],
  ])('%d bytes read %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
