/**
 * Map pins left by another layout version. A layout change renames every map (`_v1` → `_v2`), so
 * a new daemon pins new maps beside the old ones; nothing would ever unpin the old ones, and each
 * layout change would keep tens of megabytes of kernel memory (the conntrack maps are
 * preallocated) for as long as the node runs. Unlinking a pin never pulls a map from under a
 * program: the kernel keeps a map while any program still holds it and frees it after the last,
 * and the daemon moves running pods to its own programs at start anyway.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** How every map of ours is named: `tw_<what>_v<layout version>`. */
const VERSIONED_MAP_PIN = /^tw_[a-z0-9_]+_v\d+$/;

/** The pins in `pinDir` named like our maps, of any layout version. */
export function versionedMapPins(pinDir: string): string[] {
  return readdirSync(pinDir, { withFileTypes: true })
    .filter((entry) => !entry.isDirectory() && VERSIONED_MAP_PIN.test(entry.name))
    .map((entry) => entry.name);
}

export interface StalePinsReport {
  removed: string[];
  /** Pins that could not be removed, with the reason. */
  failed: Array<{ name: string; reason: string }>;
}

/**
 * Removes the pins in `pinDir` named like our maps but not among `current` (the maps this daemon
 * loaded). Anything else in the directory (program pins under progs/, pins of other software) is
 * left alone.
 */
export function removeStaleMapPins(pinDir: string, current: Iterable<string>): StalePinsReport {
  const keep = new Set(current);
  const report: StalePinsReport = { removed: [], failed: [] };
  for (const name of versionedMapPins(pinDir)) {
    if (keep.has(name)) continue;
    try {
      unlinkSync(join(pinDir, name));
      report.removed.push(name);
    } catch (error) {
      report.failed.push({
        name,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return report;
}
