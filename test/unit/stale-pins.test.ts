import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, expect, test } from '@jest/globals';

import { removeStaleMapPins } from '../../src/dataplane/bpf/stale-pins.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A pin directory stand-in: plain files where bpffs would hold pins. */
function pinDir(entries: string[], subdirs: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'stale-pins-'));
  dirs.push(dir);
  for (const name of entries) writeFileSync(join(dir, name), '');
  for (const name of subdirs) mkdirSync(join(dir, name));
  return dir;
}

test('only our maps of another layout version go; this version, programs and strangers stay', () => {
  const dir = pinDir(
    ['tw_fe_v1', 'tw_flow_v1', 'tw_flow_v0', 'tw_fe_stat_v2', 'cilium_lb4_services', 'tw_notes'],
    ['progs', 'tw_dir_v0'],
  );
  const report = removeStaleMapPins(dir, ['tw_fe_v1', 'tw_flow_v1']);
  expect(report).toEqual({
    removed: expect.arrayContaining(['tw_flow_v0', 'tw_fe_stat_v2']),
    failed: [],
  });
  expect(report.removed).toHaveLength(2);
  expect(readdirSync(dir).sort()).toEqual([
    'cilium_lb4_services',
    'progs',
    'tw_dir_v0',
    'tw_fe_v1',
    'tw_flow_v1',
    'tw_notes',
  ]);
});

test('a directory of only current pins is left as it is', () => {
  const dir = pinDir(['tw_fe_v1', 'tw_be_v1'], ['progs']);
  expect(removeStaleMapPins(dir, ['tw_fe_v1', 'tw_be_v1'])).toEqual({ removed: [], failed: [] });
  expect(readdirSync(dir).sort()).toEqual(['progs', 'tw_be_v1', 'tw_fe_v1']);
});
