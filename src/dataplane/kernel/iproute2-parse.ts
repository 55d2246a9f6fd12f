/**
 * Reads `ip -json -d -s` output (one JSON array per batch command) into the kernel's state
 * types. Kept apart from the process plumbing so it can be tested on captured output.
 */
import type {
  AddrState,
  LinkState,
  NeighState,
  NetnsState,
  RouteState,
  RuleState,
} from './kernel.js';

/** The batch `read` sends, in the order `parseNetnsState` expects the answers. */
export const READ_BATCH = [
  'link show',
  'addr show',
  'route show table all',
  'rule show',
  'neigh show',
];

type Json = Record<string, unknown>;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

function flags(entry: Json): string[] {
  return Array.isArray(entry.flags) ? (entry.flags as string[]) : [];
}

function stat(entry: Json, direction: 'rx' | 'tx'): number {
  const stats = entry.stats64 as Json | undefined;
  const side = stats?.[direction] as Json | undefined;
  return num(side?.packets) ?? 0;
}

function parseLink(entry: Json): LinkState {
  const info = entry.linkinfo as Json | undefined;
  return {
    ifindex: num(entry.ifindex) ?? 0,
    name: str(entry.ifname) ?? '',
    mac: (str(entry.address) ?? '').toLowerCase(),
    mtu: num(entry.mtu) ?? 0,
    up: flags(entry).includes('UP'),
    kind: str(info?.info_kind),
    linkIndex: num(entry.link_index),
    noarp: flags(entry).includes('NOARP'),
    rxPackets: stat(entry, 'rx'),
    txPackets: stat(entry, 'tx'),
  };
}

function parseAddrs(entry: Json): AddrState[] {
  const dev = str(entry.ifname) ?? '';
  return list(entry.addr_info)
    .filter((addr) => addr.family === 'inet')
    .map((addr) => ({
      dev,
      cidr: `${str(addr.local) ?? ''}/${num(addr.prefixlen) ?? 32}`,
      scope: str(addr.scope) ?? 'global',
    }));
}

/** Host routes come back as a bare address; the rest of the code speaks CIDR. */
function routeDst(dst: string | undefined): string {
  if (dst === undefined) return '';
  if (dst === 'default' || dst.includes('/')) return dst;
  return `${dst}/32`;
}

function parseRoute(entry: Json): RouteState {
  return {
    dst: routeDst(str(entry.dst)),
    dev: str(entry.dev),
    via: str(entry.gateway),
    onlink: flags(entry).includes('onlink'),
    scope: str(entry.scope) ?? 'global',
    table: str(entry.table) ?? 'main',
  };
}

function parseRule(entry: Json): RuleState {
  const selector = (value: string | undefined, len: number | undefined) =>
    value === undefined || value === 'all'
      ? undefined
      : len === undefined
        ? value
        : `${value}/${len}`;
  return {
    priority: num(entry.priority) ?? 0,
    from: selector(str(entry.src), num(entry.srclen)),
    to: selector(str(entry.dst), num(entry.dstlen)),
    table: str(entry.table) ?? 'main',
  };
}

function parseNeigh(entry: Json): NeighState {
  const state = Array.isArray(entry.state) ? (entry.state as string[]) : [];
  return {
    dev: str(entry.dev) ?? '',
    ip: str(entry.dst) ?? '',
    mac: str(entry.lladdr)?.toLowerCase(),
    permanent: state.includes('PERMANENT'),
  };
}

export function parseNetnsState(stdout: string): NetnsState {
  const answers = stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
  if (answers.length !== READ_BATCH.length) {
    throw new Error(`expected ${READ_BATCH.length} answers from ip -batch, got ${answers.length}`);
  }
  const [links, addrs, routes, rules, neighbors] = answers.map(list) as [
    Json[],
    Json[],
    Json[],
    Json[],
    Json[],
  ];
  return {
    links: links.map(parseLink),
    addrs: addrs.flatMap(parseAddrs),
    routes: routes.map(parseRoute).filter((route) => !route.dst.includes(':')),
    rules: rules.map(parseRule),
    neighbors: neighbors.map(parseNeigh).filter((neigh) => !neigh.ip.includes(':')),
  };
}
