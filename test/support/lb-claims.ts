/**
 * The Service LB programs' claims on 4-tuples and flow keys (bpf/lb.c): lb-compat.o takes them as
 * entries of two hashes (tw_claim, tw_flow_claim), lb.o as non-zero slots of an array
 * (tw_claim_slot). Each lasts one program run, so between runs a test finds none held, whichever
 * build ran.
 */
import { NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';

export const CLAIM_MAP_NAMES = ['tw_claim_v1', 'tw_flow_claim_v1', 'tw_claim_slot_v1'] as const;

export class LbClaims {
  private constructor(private readonly maps: readonly NativeBpfMap[]) {}

  /** Opens the claim maps of a load; `mapPath` gives a map name's pin. */
  static open(mapPath: (name: string) => string): LbClaims {
    const maps: NativeBpfMap[] = [];
    try {
      for (const name of CLAIM_MAP_NAMES) maps.push(NativeBpfMap.openPinned(mapPath(name)));
    } catch (error) {
      for (const map of maps) map.close();
      throw error;
    }
    return new LbClaims(maps);
  }

  /** Claims held now, by map name: a hash's entries, an array's non-zero slots. */
  held(): Record<string, number> {
    const held: Record<string, number> = {};
    // By pin name: the kernel's names stop at 15 characters.
    this.maps.forEach((map, index) => {
      const dump = map.dump();
      held[CLAIM_MAP_NAMES[index]!] = map.type === 'array' ? nonZeroWords(dump.values) : dump.count;
    });
    return held;
  }

  /** True when no claim is held in any of the maps. */
  noneHeld(): boolean {
    return Object.values(this.held()).every((count) => count === 0);
  }

  close(): void {
    for (const map of this.maps) map.close();
  }
}

function nonZeroWords(values: Buffer): number {
  let count = 0;
  for (let at = 0; at + 8 <= values.length; at += 8) {
    if (values.readBigUInt64LE(at) !== 0n) count++;
  }
  return count;
}
