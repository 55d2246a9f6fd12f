/**
 * The pin moves of a conntrack table resize, on a plain directory: pins are files to rename and
 * unlink, and the reader is given the sizes and entry counts a real bpffs would report. The
 * privileged test (test/netns/lb-flow-table-size.test.ts) runs the same steps on bpffs.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import {
  oldFlowTablePins,
  RESIZE_DIR,
  retireOldFlowTables,
  startFlowTableResize,
  type PinnedTableReader,
} from '../../src/lb/flow-table-resize.js';
import { FLOW_TABLE_BYTES_PER_ENTRY } from '../../src/lb/flow-table-size.js';
import { LB_MAP_NAMES } from '../../src/lb/maps/lb-layouts.js';

const FLOW = LB_MAP_NAMES.flow;
const REVERSE = LB_MAP_NAMES.reverse;

let pinDir: string;

beforeEach(() => {
  pinDir = mkdtempSync(join(tmpdir(), 'terway-resize-'));
});

afterEach(() => {
  rmSync(pinDir, { recursive: true, force: true });
});

/** Each pin file holds its map's "size entries live"; unless told, every entry is alive. */
function pin(path: string, size: number, entries = 0, live = entries): void {
  writeFileSync(path, `${size} ${entries} ${live}`);
}

const pinField = (path: string, field: number) =>
  Number((readFileText(path) ?? '').split(' ')[field]);

const READER: PinnedTableReader = {
  sizeOf: (path) => (existsSync(path) ? pinField(path, 0) : undefined),
  flowsOf: (path) => Promise.resolve({ entries: pinField(path, 1), live: pinField(path, 2) }),
};

function readFileText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const listing = (dir = pinDir) => readdirSync(dir).sort();

describe('startFlowTableResize', () => {
  test('nothing pinned, or pinned at the size asked for: nothing moves', async () => {
    expect(await startFlowTableResize(pinDir, 65_536, READER)).toEqual({ kind: 'none' });
    pin(join(pinDir, FLOW), 65_536, 10);
    pin(join(pinDir, REVERSE), 65_536, 10);
    expect(await startFlowTableResize(pinDir, 65_536, READER)).toEqual({ kind: 'none' });
    expect(listing()).toEqual([FLOW, REVERSE].sort());
  });

  test('pinned at another size: both tables move under resizing/, the other pins stay', async () => {
    pin(join(pinDir, FLOW), 65_536, 1_200);
    pin(join(pinDir, REVERSE), 65_536, 1_100);
    pin(join(pinDir, LB_MAP_NAMES.frontend), 131_072);
    mkdirSync(join(pinDir, 'progs'));

    expect(await startFlowTableResize(pinDir, 262_144, READER)).toEqual({
      kind: 'started',
      from: 65_536,
      entries: 1_200,
      live: 1_200,
    });
    expect(listing()).toEqual([LB_MAP_NAMES.frontend, 'progs', RESIZE_DIR].sort());
    expect(listing(join(pinDir, RESIZE_DIR))).toEqual([FLOW, REVERSE].sort());
    expect(oldFlowTablePins(pinDir)).toEqual({
      flow: join(pinDir, RESIZE_DIR, FLOW),
      reverse: join(pinDir, RESIZE_DIR, REVERSE),
    });
  });

  test('a size with room for the live flows but not the ended ones too starts a resize', async () => {
    pin(join(pinDir, FLOW), 262_144, 200_000, 30_000);
    pin(join(pinDir, REVERSE), 262_144, 200_000);
    expect(await startFlowTableResize(pinDir, 65_536, READER)).toEqual({
      kind: 'started',
      from: 262_144,
      entries: 200_000,
      live: 30_000,
    });
    expect(listing()).toEqual([RESIZE_DIR]);
  });

  test('a size whose new tables need more memory than the daemon may still charge is refused', async () => {
    pin(join(pinDir, FLOW), 65_536, 100);
    pin(join(pinDir, REVERSE), 65_536, 100);
    const allowed = 200 * 1024 * 1024;
    expect(await startFlowTableResize(pinDir, 1_048_576, READER, allowed)).toEqual({
      kind: 'refused',
      reason: 'memory',
      size: 65_536,
      needBytes: 1_048_576 * FLOW_TABLE_BYTES_PER_ENTRY,
      allowedBytes: allowed,
    });
    expect(listing()).toEqual([FLOW, REVERSE].sort());
    // 524,288 flows' tables (116 MiB) fit.
    expect((await startFlowTableResize(pinDir, 524_288, READER, allowed)).kind).toBe('started');
  });

  test('a size too small for the live flows is refused, the ended ones aside', async () => {
    pin(join(pinDir, FLOW), 262_144, 200_000, 60_000);
    pin(join(pinDir, REVERSE), 262_144, 200_000);
    expect(await startFlowTableResize(pinDir, 65_536, READER)).toEqual({
      kind: 'refused',
      reason: 'flows',
      size: 262_144,
      entries: 200_000,
      live: 60_000,
    });
    expect(listing()).toEqual([FLOW, REVERSE].sort());
  });

  test('a smaller size than the live flows the table holds is refused: nothing moves', async () => {
    pin(join(pinDir, FLOW), 262_144, 70_000);
    pin(join(pinDir, REVERSE), 262_144, 69_000);
    expect(await startFlowTableResize(pinDir, 65_536, READER)).toEqual({
      kind: 'refused',
      reason: 'flows',
      size: 262_144,
      entries: 70_000,
      live: 70_000,
    });
    expect(listing()).toEqual([FLOW, REVERSE].sort());
    // Nor may they fill more than 90% of it: an LRU table that full evicts.
    expect((await startFlowTableResize(pinDir, 77_000, READER)).kind).toBe('refused');
    // Shrinking to a size with room to spare is a resize like any other.
    expect((await startFlowTableResize(pinDir, 131_072, READER)).kind).toBe('started');
  });

  test('a resize under way is taken up whatever size this start asks for', async () => {
    mkdirSync(join(pinDir, RESIZE_DIR));
    pin(join(pinDir, RESIZE_DIR, FLOW), 65_536, 5);
    pin(join(pinDir, RESIZE_DIR, REVERSE), 65_536, 5);
    pin(join(pinDir, FLOW), 262_144, 9);
    pin(join(pinDir, REVERSE), 262_144, 9);
    expect(await startFlowTableResize(pinDir, 1_048_576, READER)).toEqual({
      kind: 'resumed',
      from: 65_536,
    });
    // The new tables stay where they are; nothing is moved over the old ones.
    expect(listing()).toEqual([FLOW, REVERSE, RESIZE_DIR].sort());
    expect(READER.sizeOf(join(pinDir, RESIZE_DIR, FLOW))).toBe(65_536);
  });

  test('a crash between the two moves: the next start moves the other half, then takes it up', async () => {
    mkdirSync(join(pinDir, `${RESIZE_DIR}-new`));
    pin(join(pinDir, `${RESIZE_DIR}-new`, FLOW), 65_536, 5);
    pin(join(pinDir, REVERSE), 65_536, 5);
    expect(await startFlowTableResize(pinDir, 262_144, READER)).toEqual({
      kind: 'resumed',
      from: 65_536,
    });
    expect(listing()).toEqual([RESIZE_DIR]);
    expect(listing(join(pinDir, RESIZE_DIR))).toEqual([FLOW, REVERSE].sort());
  });

  test('old tables of another layout version under resizing/ are retired, not merged', async () => {
    mkdirSync(join(pinDir, RESIZE_DIR));
    pin(join(pinDir, RESIZE_DIR, 'tw_flow_v0'), 65_536, 5);
    pin(join(pinDir, FLOW), 262_144, 9);
    expect(await startFlowTableResize(pinDir, 262_144, READER)).toEqual({ kind: 'none' });
    expect(listing()).toEqual([FLOW]);
  });

  test("a finished resize's leftovers (a crash while unpinning) are removed", async () => {
    mkdirSync(join(pinDir, 'resized-123-456'));
    pin(join(pinDir, 'resized-123-456', REVERSE), 65_536);
    pin(join(pinDir, FLOW), 262_144);
    expect(await startFlowTableResize(pinDir, 262_144, READER)).toEqual({ kind: 'none' });
    expect(listing()).toEqual([FLOW]);
  });
});

describe('retireOldFlowTables', () => {
  test('unpins the old tables and removes resizing/; nothing to do without one', () => {
    retireOldFlowTables(pinDir);
    mkdirSync(join(pinDir, RESIZE_DIR));
    pin(join(pinDir, RESIZE_DIR, FLOW), 65_536);
    pin(join(pinDir, RESIZE_DIR, REVERSE), 65_536);
    pin(join(pinDir, FLOW), 262_144);
    retireOldFlowTables(pinDir);
    expect(listing()).toEqual([FLOW]);
  });
});
