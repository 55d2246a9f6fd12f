/**
 * What CHECK expects to find in a namespace, and the comparison that names each difference
 * precisely ("route default via 10.0.0.253 missing in the pod", not "check failed").
 */
import type { NetnsState } from './kernel/kernel.js';

export type Expectation =
  | { kind: 'link'; name: string; linkKind?: string; mac?: string; up: true }
  | { kind: 'addr'; dev: string; cidr: string }
  | { kind: 'route'; dst: string; dev?: string; via?: string; table?: string }
  | { kind: 'rule'; priority: number; from?: string; to?: string; table: string }
  | { kind: 'neigh'; dev: string; ip: string; mac: string };

export function describeExpectation(expected: Expectation): string {
  switch (expected.kind) {
    case 'link':
      return `link ${expected.name}${expected.linkKind === undefined ? '' : ` (${expected.linkKind})`}`;
    case 'addr':
      return `address ${expected.cidr} on ${expected.dev}`;
    case 'route':
      return `route ${expected.dst}${expected.via === undefined ? '' : ` via ${expected.via}`}${
        expected.dev === undefined ? '' : ` dev ${expected.dev}`
      }${expected.table === undefined || expected.table === 'main' ? '' : ` table ${expected.table}`}`;
    case 'rule':
      return `rule ${expected.priority}: ${expected.from === undefined ? '' : `from ${expected.from} `}${
        expected.to === undefined ? '' : `to ${expected.to} `
      }lookup ${expected.table}`;
    case 'neigh':
      return `neighbour ${expected.ip} lladdr ${expected.mac} on ${expected.dev}`;
  }
}

/** Every expectation `state` does not meet, each as one sentence naming what is wrong. */
export function findDrift(
  state: NetnsState,
  expectations: readonly Expectation[],
  where: string,
): string[] {
  const drift: string[] = [];
  for (const expected of expectations) {
    const problem = check(state, expected);
    if (problem !== undefined)
      drift.push(`${describeExpectation(expected)} ${problem} in ${where}`);
  }
  return drift;
}

function check(state: NetnsState, expected: Expectation): string | undefined {
  switch (expected.kind) {
    case 'link': {
      const link = state.links.find((candidate) => candidate.name === expected.name);
      if (link === undefined) return 'is missing';
      if (expected.linkKind !== undefined && link.kind !== expected.linkKind) {
        return `is a ${link.kind ?? 'plain device'}, not ${expected.linkKind},`;
      }
      if (expected.mac !== undefined && link.mac !== expected.mac)
        return `has MAC ${link.mac}, not ${expected.mac},`;
      if (!link.up) return 'is down';
      return undefined;
    }
    case 'addr':
      return state.addrs.some((addr) => addr.dev === expected.dev && addr.cidr === expected.cidr)
        ? undefined
        : 'is missing';
    case 'route': {
      const table = expected.table ?? 'main';
      const route = state.routes.find(
        (candidate) => candidate.dst === expected.dst && candidate.table === table,
      );
      if (route === undefined) return 'is missing';
      if (expected.dev !== undefined && route.dev !== expected.dev)
        return `goes via dev ${route.dev ?? '?'} instead`;
      if (expected.via !== undefined && route.via !== expected.via)
        return `goes via ${route.via ?? 'no gateway'} instead`;
      return undefined;
    }
    case 'rule':
      return state.rules.some(
        (rule) =>
          rule.priority === expected.priority &&
          rule.from === expected.from &&
          rule.to === expected.to &&
          rule.table === expected.table,
      )
        ? undefined
        : 'is missing';
    case 'neigh': {
      const neigh = state.neighbors.find(
        (candidate) => candidate.dev === expected.dev && candidate.ip === expected.ip,
      );
      if (neigh === undefined) return 'is missing';
      if (neigh.mac !== expected.mac) return `points at ${neigh.mac ?? 'nothing'} instead`;
      if (!neigh.permanent) return 'is not permanent';
      return undefined;
    }
  }
}
