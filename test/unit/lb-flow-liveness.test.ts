import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, test } from '@jest/globals';

import { FLOW_LIFETIME_NS, frontendIdsOfLiveFlows } from '../../src/lb/flow-liveness.js';
import { FLOW, type FlowState } from '../../src/lb/maps/lb-layouts.js';
import { REPO_ROOT } from '../support/bins.js';
import { flowEntry } from '../support/lb-flows.js';

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
function dumpOf(flows: Flow[]) {
  const entries = flows.map((flow, index) =>
    flowEntry({
      frontendId: flow.frontendId,
      protocol: flow.proto,
      state: flow.state,
      lastSeenNs: NOW - flow.idleNs,
      clientPort: 30_000 + index,
    }),
  );
  return {
    keys: Buffer.concat(entries.map((entry) => entry.key)),
    values: Buffer.concat(entries.map((entry) => entry.value)),
    count: entries.length,
  };
}

function liveIds(flows: Flow[]): number[] {
  return [...frontendIdsOfLiveFlows(dumpOf(flows), FLOW.size, NOW)].sort((a, b) => a - b);
}

describe('frontendIdsOfLiveFlows', () => {
  test('each state lives as long as the program lets it, and not a nanosecond more', () => {
    const cases: [Flow['proto'], FlowState, bigint][] = [
      ['TCP', 'new', FLOW_LIFETIME_NS.tcpNew],
      ['TCP', 'established', FLOW_LIFETIME_NS.tcpEstablished],
      ['TCP', 'closing', FLOW_LIFETIME_NS.tcpClosing],
      ['UDP', 'new', FLOW_LIFETIME_NS.udp],
      ['UDP', 'established', FLOW_LIFETIME_NS.udp],
    ];
    cases.forEach(([proto, state, lifetime], index) => {
      const frontendId = index + 1;
      expect(liveIds([{ frontendId, proto, state, idleNs: lifetime - 1n }])).toEqual([frontendId]);
      expect(liveIds([{ frontendId, proto, state, idleNs: lifetime }])).toEqual([]);
    });
  });

  test('a stamp ahead of the clock is alive; id 0 names no frontend', () => {
    expect(
      liveIds([
        { frontendId: 7, proto: 'TCP', state: 'closing', idleNs: -S },
        { frontendId: 0, proto: 'TCP', state: 'established', idleNs: S },
        { frontendId: 9, proto: 'UDP', state: 'new', idleNs: 61n * S },
        { frontendId: 7, proto: 'TCP', state: 'established', idleNs: S },
      ]),
    ).toEqual([7]);
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
    });
  });
});
