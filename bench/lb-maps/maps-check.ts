/**
 * Reads the kernel maps back to check what a measured sync produced: a benchmark that times a
 * broken sync measures nothing. Everything here runs after the clock has stopped.
 */
import type { LbMaps } from '../../src/lb/lb-maps.js';
import { readLbTable } from '../../src/lb/lb-table.js';
import { FRONTEND, FRONTEND_KEY, IPPROTO_TCP } from '../../src/lb/maps/lb-layouts.js';
import { readBackend, readSlot } from '../../src/lb/maps/shared-array.js';
import { decode, encode } from '../../src/lb/maps/struct-codec.js';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';
import { BACKEND_PORT, backendIps, clusterIp, SERVICE_PORT, type FixtureShape } from './fixture.js';

export interface MapsCheck {
  /** Frontends in the kernel's frontend hash. */
  frontends: number;
  /** Frontends whose slots name exactly the expected backends (address and port). */
  correct: number;
  /** The first few mismatches, for the error message. */
  problems: string[];
}

/**
 * Dumps the frontend hash and every frontend's slots and backends, and compares all of them with
 * the fixture (Service i at clusterIp(i):80 → backendIps(i):8080). `overrides` replaces the
 * expected backends of Services an EndpointSlice change has touched.
 */
export function checkMaps(
  maps: LbMaps,
  shape: FixtureShape,
  overrides: ReadonlyMap<number, readonly string[]> = new Map(),
): MapsCheck {
  const rows = readLbTable(maps);
  const byIp = new Map(rows.map((row) => [row.frontend.ip, row]));
  const problems: string[] = [];
  let correct = 0;
  for (let i = 0; i < shape.services; i++) {
    const row = byIp.get(clusterIp(i));
    const want = [...(overrides.get(i) ?? backendIps(shape, i))].map(
      (ip) => `${ip}:${BACKEND_PORT}`,
    );
    if (row === undefined) {
      if (problems.length < 5) problems.push(`${clusterIp(i)}: no frontend`);
      continue;
    }
    const got = row.backends.map((backend) => `${backend.ip}:${backend.port}`);
    const same =
      row.frontend.port === SERVICE_PORT &&
      row.frontend.protocol === 'TCP' &&
      sameSet(got, want) &&
      got.length === want.length;
    if (same) correct++;
    else if (problems.length < 5) {
      problems.push(`${clusterIp(i)}: backends ${got.join(',')} instead of ${want.join(',')}`);
    }
  }
  return { frontends: rows.length, correct, problems };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return b.every((item) => set.has(item));
}

/**
 * The backend IPs one frontend's live slots name right now: one hash lookup (a syscall) plus
 * loads from the mmap'd slot and backend arrays, the same reads the datapath makes.
 */
export function liveBackendIps(maps: LbMaps, ip: string, port = SERVICE_PORT): string[] {
  const raw = maps.frontend.lookup(
    encode(FRONTEND_KEY, { addr: ipToInt(ip), port, proto: IPPROTO_TCP }),
  );
  if (raw === undefined) return [];
  const value = decode(FRONTEND, raw);
  const ips: string[] = [];
  for (let slot = 0; slot < value.backendCount; slot++) {
    const backend = readBackend(maps.backend, readSlot(maps.slot, value.slotBase + slot));
    if (backend !== undefined) ips.push(intToIp(backend.addr));
  }
  return ips;
}
