/**
 * The load balancer as an operator sees it: every frontend the live maps hold (readLbTable), with
 * the programs' counters, joined with the desired state that explains it: which Service and port,
 * the draining backends, the frontends the maps had no room for. The maps stay the source, as for
 * the translation records, so a view that disagrees with the desired state shows a real difference
 * in the datapath rather than the daemon's belief.
 */
import { TerwayError } from '../errors/terway-error.js';
import { compareIp, intToIp, parseIPv4 } from '../util/ipv4.js';
import {
  backendKeyOf,
  formatBackend,
  serviceKey,
  type DesiredFrontend,
  type FrontendAddress,
} from './desired-frontend.js';
import type { LbMaps } from './lb-maps.js';
import { lbTableRows } from './lb-table.js';
import { readCounterEntry } from './maps/counter-resets.js';
import { readBackend } from './maps/shared-array.js';
import { frontendCodeOf, protocolNumber, type FrontendCode } from './programmed-state.js';

/** What the reconciler was asked for, which the maps alone cannot say. */
export interface LbIntent {
  readonly desired: ReadonlyMap<FrontendCode, DesiredFrontend>;
  /** Desired frontends the maps have no room for, with the reason. */
  readonly blocked: ReadonlyMap<FrontendCode, string>;
}

export interface LbCounterValues {
  readonly packets: bigint;
  readonly bytes: bigint;
  readonly flows: bigint;
  readonly rejected: bigint;
}

export interface InspectedBackend {
  readonly ip: string;
  readonly port: number;
  /** 0 for a draining backend the backend map does not hold. */
  readonly id: number;
  readonly state: BackendState;
  readonly counters: LbCounterValues | undefined;
}

/**
 * ready: in the frontend's slots, takes new flows. draining: listed but not ready, or terminating.
 * other zone / other node: ready, but topology hints keep this node's new flows off it. Both of
 * the last kinds keep the flows they have and take no new ones.
 */
export type BackendState = 'ready' | 'draining' | 'other zone' | 'other node';

export interface InspectedFrontend {
  readonly frontend: FrontendAddress;
  /** 0 when the maps do not hold the frontend. */
  readonly id: number;
  readonly external: boolean;
  readonly affinityTimeoutSeconds: number;
  readonly desired: DesiredFrontend | undefined;
  readonly blocked: string | undefined;
  /** Ready backends in slot order, then the desired state's draining ones. */
  readonly backends: readonly InspectedBackend[];
  readonly counters: LbCounterValues | undefined;
  /** The slots name other backends than the desired ready set: a change not written yet. */
  readonly pending: boolean;
}

/** An address an operator typed: a canonical dotted quad, and a port when one was given. */
export interface AddressFilter {
  readonly ip: string;
  /** The same address as a number (a.b.c.d = a·2^24 + …). */
  readonly addr: number;
  readonly port: number | undefined;
}

/** Which frontends to show: a Service (`namespace/name`) or an address (`ip` or `ip:port`). */
export type FrontendFilter = (
  frontend: FrontendAddress,
  desired: DesiredFrontend | undefined,
) => boolean;

const SERVICE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Parses an operator's filter; INVALID_ARGUMENT for anything that is neither form. */
export function frontendFilter(text: string): FrontendFilter {
  const trimmed = text.trim();
  if (trimmed === '') return () => true;
  const address = parseAddressFilter(trimmed);
  if (address !== undefined) return (frontend) => addressMatches(frontend, address);
  if (SERVICE_NAME.test(trimmed)) {
    return (_frontend, desired) =>
      desired !== undefined &&
      serviceKey(desired.service.namespace, desired.service.name) === trimmed;
  }
  throw new TerwayError(
    'INVALID_ARGUMENT',
    `not a Service (namespace/name) or an address (ip or ip:port): ${JSON.stringify(text)}`,
  );
}

/**
 * `ip` or `ip:port`; undefined when the text does not start with an IPv4 address, and
 * INVALID_ARGUMENT when it does but the port is not one.
 */
export function parseAddressFilter(text: string): AddressFilter | undefined {
  const colon = text.lastIndexOf(':');
  const addr = parseIPv4(colon < 0 ? text : text.slice(0, colon));
  if (addr === undefined) return undefined;
  const ip = intToIp(addr);
  if (colon < 0) return { ip, addr, port: undefined };
  const portText = text.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65_535) {
    throw new TerwayError('INVALID_ARGUMENT', `not a port: ${JSON.stringify(portText)}`);
  }
  return { ip, addr, port };
}

export function addressMatches(
  endpoint: { readonly ip: string; readonly port: number },
  filter: AddressFilter,
): boolean {
  return endpoint.ip === filter.ip && (filter.port === undefined || endpoint.port === filter.port);
}

/**
 * Every frontend of the live maps that passes `filter`, plus the desired ones the maps lack
 * (blocked, or not written yet), ordered by address, port and protocol.
 */
export function inspectFrontends(
  maps: LbMaps,
  intent: LbIntent,
  filter: FrontendFilter = () => true,
): InspectedFrontend[] {
  const views: InspectedFrontend[] = [];
  for (const view of frontendViews(maps, intent, filter)) if (view !== undefined) views.push(view);
  return views.sort(compareFrontends);
}

/**
 * inspectFrontends one frontend at a time, unordered: the live maps' in their hash order, then
 * the desired ones the maps lack. A frontend the filter leaves out yields undefined, so a caller
 * on the daemon's event loop can pause between any two frontends, shown or not.
 */
export function* frontendViews(
  maps: LbMaps,
  intent: LbIntent,
  filter: FrontendFilter = () => true,
): Generator<InspectedFrontend | undefined> {
  const inMaps = new Set<FrontendCode>();
  const backendIds = lazyBackendIndex(maps);
  for (const row of lbTableRows(maps)) {
    const code = frontendCodeOf(row.frontend);
    inMaps.add(code);
    const desired = intent.desired.get(code);
    if (!filter(row.frontend, desired)) {
      yield undefined;
      continue;
    }
    const ready = row.backends.map((backend): InspectedBackend => ({
      ...backend,
      state: 'ready',
      counters: readCounters(maps, 'backendStats', backend.id),
    }));
    yield {
      frontend: row.frontend,
      id: row.id,
      external: row.external,
      affinityTimeoutSeconds: row.affinityTimeoutSeconds,
      desired,
      blocked: intent.blocked.get(code),
      backends: [...ready, ...draining(desired, backendIds, maps)],
      counters: readCounters(maps, 'frontendStats', row.id),
      pending: desired !== undefined && !sameBackends(desired, ready),
    };
  }
  for (const [code, desired] of intent.desired) {
    if (inMaps.has(code) || !filter(desired.address, desired)) {
      yield undefined;
      continue;
    }
    const blocked = intent.blocked.get(code);
    yield {
      frontend: desired.address,
      id: 0,
      external: desired.external,
      affinityTimeoutSeconds: desired.affinityTimeoutSeconds,
      desired,
      blocked,
      backends: [],
      counters: undefined,
      pending: blocked === undefined,
    };
  }
}

/** By address, port, then protocol: the order terway-cli lists frontends in. */
export function compareFrontends(
  a: { readonly frontend: FrontendAddress },
  b: { readonly frontend: FrontendAddress },
): number {
  return (
    compareIp(a.frontend.ip, b.frontend.ip) ||
    a.frontend.port - b.frontend.port ||
    a.frontend.protocol.localeCompare(b.frontend.protocol)
  );
}

function draining(
  desired: DesiredFrontend | undefined,
  backendIds: () => ReadonlyMap<string, number>,
  maps: LbMaps,
): InspectedBackend[] {
  if (desired === undefined || desired.draining.length === 0) return [];
  const proto = protocolNumber(desired.address.protocol);
  const hintedAwayState = desired.topology === 'node' ? 'other node' : 'other zone';
  return desired.draining.map((key): InspectedBackend => {
    const [ip = '', port = '0'] = formatBackend(key).split(':');
    const id = backendIds().get(`${formatBackend(key)}/${proto}`) ?? 0;
    return {
      ip,
      port: Number(port),
      id,
      state: desired.hintedAway?.includes(key) === true ? hintedAwayState : 'draining',
      counters: id === 0 ? undefined : readCounters(maps, 'backendStats', id),
    };
  });
}

/**
 * `ip:port/proto` → id over the whole backend array, built on first use: only a draining backend
 * needs it (a ready one's id is in its slot), and the array has 262,144 entries.
 */
function lazyBackendIndex(maps: LbMaps): () => ReadonlyMap<string, number> {
  let index: Map<string, number> | undefined;
  return () => {
    if (index !== undefined) return index;
    index = new Map();
    for (let id = 1; id < maps.backend.maxEntries; id++) {
      const value = readBackend(maps.backend, id);
      if (value !== undefined) {
        index.set(`${intToIp(value.addr)}:${value.port}/${value.proto}`, id);
      }
    }
    return index;
  };
}

function sameBackends(desired: DesiredFrontend, slots: readonly InspectedBackend[]): boolean {
  const wanted = new Set(desired.ready);
  const held = new Set(slots.map(backendKeyOf));
  if (wanted.size !== held.size) return false;
  for (const key of wanted) if (!held.has(key)) return false;
  return true;
}

function readCounters(
  maps: LbMaps,
  role: 'frontendStats' | 'backendStats',
  id: number,
): LbCounterValues | undefined {
  const entry = readCounterEntry(maps[role], id);
  if (entry === undefined) return undefined;
  const { packets, bytes, flows, rejected } = entry;
  return { packets, bytes, flows, rejected };
}
