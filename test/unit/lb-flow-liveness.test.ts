import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, test } from '@jest/globals';

import {
  flowAlive,
  flowAliveAt,
  FLOW_LIFETIME_NS,
  splitNs,
  liveFrontendIdsPaused,
} from '../../src/lb/flow-liveness.js';
import { FLOW, FLOW_STATES, type FlowState } from '../../src/lb/maps/lb-layouts.js';
import { REPO_ROOT } from '../support/bins.js';
import { dumpOf, flowEntry } from '../support/lb-flows.js';

const S = 10n ** 9n;
const NOW = 1_000_000n * S;

interface Flow {
  frontendId: number;
  proto: 'TCP' | 'UDP';
  state: FlowState;
  /** NOW minus the flow's last packet; negative: a stamp ahead of the daemon's clock. */
  idleNs: bigint;
}

/** A dump of tw_flow as the kernel hands it over: keys and values back to back. */
function flowDump(flows: Flow[]) {
  const entries = flows.map((flow, index) =>
    flowEntry({
      frontendId: flow.frontendId,
      protocol: flow.proto,
      state: flow.state,
      lastSeenNs: NOW - flow.idleNs,
      clientPort: 1 + (index % 65_535),
    }),
  );
  return dumpOf(entries);
}

async function liveIds(flows: Flow[]): Promise<number[]> {
  const live = await liveFrontendIdsPaused(flowDump(flows), FLOW.size, NOW, () =>
    Promise.resolve(),
  );
  return [...live].sort((a, b) => a - b);
}

/** 1, 2, ..., n. */
const idsUpTo = (n: number): number[] => Array.from({ length: n }, (_, index) => index + 1);

describe('the frontend ids of live flows', () => {
  test('each state lives as long as the program lets it, and not a nanosecond more', async () => {
    const cases: [Flow['proto'], FlowState, bigint][] = [
      ['TCP', 'new', FLOW_LIFETIME_NS.tcpNew],
      ['TCP', 'established', FLOW_LIFETIME_NS.tcpEstablished],
      ['TCP', 'closing', FLOW_LIFETIME_NS.tcpClosing],
      ['TCP', 'client-fin', FLOW_LIFETIME_NS.tcpEstablished],
      ['TCP', 'backend-fin', FLOW_LIFETIME_NS.tcpEstablished],
      ['UDP', 'new', FLOW_LIFETIME_NS.udp],
      ['UDP', 'established', FLOW_LIFETIME_NS.udp],
      ['UDP', 'stream', FLOW_LIFETIME_NS.udpStream],
    ];
    for (const [index, [proto, state, lifetime]] of cases.entries()) {
      const frontendId = index + 1;
      expect(await liveIds([{ frontendId, proto, state, idleNs: lifetime - 1n }])).toEqual([
        frontendId,
      ]);
      expect(await liveIds([{ frontendId, proto, state, idleNs: lifetime }])).toEqual([]);
    }
  });

  test('a stamp ahead of the clock is alive; id 0 names no frontend', async () => {
    expect(
      await liveIds([
        { frontendId: 7, proto: 'TCP', state: 'closing', idleNs: -S },
        { frontendId: 0, proto: 'TCP', state: 'established', idleNs: S },
        { frontendId: 9, proto: 'UDP', state: 'new', idleNs: 61n * S },
        { frontendId: 7, proto: 'TCP', state: 'established', idleNs: S },
      ]),
    ).toEqual([7]);
  });

  test('on the event loop, a full scan pauses every 16,384 flows and finds the same ids', async () => {
    const flows: Flow[] = Array.from({ length: 40_000 }, (_, index) => ({
      frontendId: 1 + (index % 5_000),
      proto: index % 3 === 0 ? 'UDP' : 'TCP',
      state: 'established',
      idleNs: (index % 2 === 0 ? 1n : 70n) * S,
    }));
    const dump = flowDump(flows);
    let pauses = 0;
    const live = await liveFrontendIdsPaused(dump, FLOW.size, NOW, () => {
      pauses++;
      return Promise.resolve();
    });
    expect(pauses).toBe(2);
    // Every TCP flow lives (6 h), and so does every UDP flow idle for 1 s but not 70 s: each id
    // has a TCP flow among its eight.
    expect([...live].sort((a, b) => a - b)).toEqual(idsUpTo(5_000));
  });

  test("a walk in pages gathers every page's ids into one set", async () => {
    const flows: Flow[] = Array.from({ length: 3_000 }, (_, index) => ({
      frontendId: 1 + index,
      proto: 'UDP',
      state: 'established',
      idleNs: (index % 3 === 0 ? 70n : 1n) * S,
    }));
    const live = new Set<number>();
    for (const half of [flows.slice(0, 1_500), flows.slice(1_500)]) {
      await liveFrontendIdsPaused(flowDump(half), FLOW.size, NOW, () => Promise.resolve(), live);
    }
    // Each id has one flow; every third (index 0, 3, 6, ...) idled 70 s and has ended.
    expect([...live].sort((a, b) => a - b)).toEqual(idsUpTo(3_000).filter((id) => id % 3 !== 1));
    expect(live.size).toBe(2_000);
  });

  test("the states are lb_maps.h's TW_FLOW_* values, in order", () => {
    const header = readFileSync(join(REPO_ROOT, 'bpf/lb_maps.h'), 'utf8');
    const defined = [...header.matchAll(/^#define TW_FLOW_([A-Z_]+)\s+(\d+)\s/gm)].map(
      (match): [string, number] => [match[1]!.toLowerCase().replace('_', '-'), Number(match[2])],
    );
    expect(defined.sort((a, b) => a[1] - b[1])).toEqual(
      FLOW_STATES.map((state, value) => [state, value]),
    );
  });

  test("the lifetimes are lb.c's", () => {
    const source = readFileSync(join(REPO_ROOT, 'bpf/lb.c'), 'utf8');
    const seconds = (name: string): bigint => {
      const match = new RegExp(`#define ${name} \\(([^)]*) \\* NS_PER_S\\)`).exec(source);
      if (match === null) throw new Error(`${name} is not defined as (… * NS_PER_S) in lb.c`);
      return match[1]!.split('*').reduce((product, factor) => product * BigInt(factor.trim()), 1n);
    };
    expect(FLOW_LIFETIME_NS).toEqual({
      tcpNew: seconds('TCP_SYN_TIMEOUT_NS') * S,
      tcpEstablished: seconds('TCP_ESTABLISHED_TIMEOUT_NS') * S,
      tcpClosing: seconds('TCP_CLOSING_TIMEOUT_NS') * S,
      udp: seconds('UDP_TIMEOUT_NS') * S,
      udpStream: seconds('UDP_STREAM_TIMEOUT_NS') * S,
    });
  });
});

describe('flowAliveAt (halves, no BigInt) judges as flowAlive does', () => {
  const lifetimes = Object.values(FLOW_LIFETIME_NS);
  const ages = [
    -S,
    0n,
    1n,
    ...lifetimes.flatMap((lifetime) => [lifetime - 1n, lifetime, lifetime + 1n]),
    // Across a change of the high half, and far past every lifetime (older than 2^53 ns).
    2n ** 32n,
    2n ** 32n + 1n,
    2n ** 60n,
  ];
  const nows = [NOW, 2n ** 32n * 1_000n + 5n, 2n ** 62n + 123n];
  test.each(FLOW_STATES.map((state) => [state]))('state %s, TCP and UDP', (state) => {
    for (const proto of [6, 17]) {
      for (const now of nows) {
        for (const age of ages) {
          const lastSeen = now - age;
          if (lastSeen < 0n) continue;
          const stateIndex = FLOW_STATES.indexOf(state);
          const last = splitNs(lastSeen);
          const split = splitNs(now);
          expect({
            proto,
            state,
            now,
            age,
            alive: flowAliveAt(proto, stateIndex, last.high, last.low, split.high, split.low),
          }).toEqual({
            proto,
            state,
            now,
            age,
            alive: flowAlive(proto, stateIndex, lastSeen, now),
          });
        }
      }
    }
  });
});
