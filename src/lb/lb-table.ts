/**
 * Reads the load balancer's maps back into words: each frontend with the backends its slots name.
 * What tests assert on and what an operator is shown, decoded from the maps themselves rather than
 * from the daemon's memory of them.
 */
import { intToIp } from '../util/ipv4.js';
import type { BackendAddress, FrontendAddress } from './desired-frontend.js';
import type { LbMaps } from './lb-maps.js';
import { FRONTEND, FRONTEND_F_EXTERNAL, FRONTEND_KEY } from './maps/lb-layouts.js';
import { readBackend, readSlot } from './maps/shared-array.js';
import { decode } from './maps/struct-codec.js';
import { protocolName } from './programmed-state.js';

export interface LbTableRow {
  readonly frontend: FrontendAddress;
  readonly id: number;
  readonly affinityTimeoutSeconds: number;
  readonly external: boolean;
  /** The backends slots 0..count-1 name, in slot order. */
  readonly backends: readonly (BackendAddress & { readonly id: number })[];
}

export function readLbTable(maps: LbMaps): LbTableRow[] {
  // Read in one go, so the dump's values are current: no entry is looked up again.
  return [...lbTableRows(maps, false)].sort((a, b) => a.id - b.id);
}

/**
 * The same rows one at a time, in the frontend hash's order: a caller on the daemon's event loop
 * can stop between rows (terway-cli's views do, so a large table never holds up an ADD). The
 * reconciler may write the maps while the caller is stopped, so each row is read afresh when it is
 * reached (its entry looked up again, then its slots), in one step: a frontend deleted meanwhile is
 * skipped, and a moved one is read where it is now, never from a block it left. `reread` false
 * takes the dump's values instead, for a caller that reads every row before it yields the loop.
 */
export function* lbTableRows(maps: LbMaps, reread = true): Generator<LbTableRow> {
  const dump = maps.frontend.dump();
  for (let index = 0; index < dump.count; index++) {
    const keyBytes = dump.keys.subarray(index * FRONTEND_KEY.size, (index + 1) * FRONTEND_KEY.size);
    const current = reread
      ? maps.frontend.lookup(keyBytes)
      : dump.values.subarray(index * FRONTEND.size, (index + 1) * FRONTEND.size);
    if (current === undefined) continue;
    const key = decode(FRONTEND_KEY, keyBytes);
    const value = decode(FRONTEND, current);
    const backends: (BackendAddress & { id: number })[] = [];
    for (let slot = 0; slot < value.backendCount; slot++) {
      const id = readSlot(maps.slot, value.slotBase + slot);
      const backend = readBackend(maps.backend, id);
      if (backend) backends.push({ ip: intToIp(backend.addr), port: backend.port, id });
    }
    yield {
      frontend: { ip: intToIp(key.addr), port: key.port, protocol: protocolName(key.proto) },
      id: value.id,
      affinityTimeoutSeconds: value.affinityTimeoutS,
      external: (value.flags & FRONTEND_F_EXTERNAL) !== 0,
      backends,
    };
  }
}
