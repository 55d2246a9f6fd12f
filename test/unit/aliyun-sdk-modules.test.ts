/**
 * The SDKs' lazy model index: the same names as the generated index, each resolving to the very
 * class the generated index exports, and a shape it does not understand left alone.
 */
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { lazyModelIndex } from '../../src/cloud/aliyun/sdk-modules.js';

const requireHere = createRequire(import.meta.url);

describe.each(['@alicloud/ecs20140526', '@alicloud/vpc20160428'])('%s', (packageName) => {
  test('the lazy index has every name of the generated one, each the same class', () => {
    const indexPath = join(dirname(requireHere.resolve(packageName)), 'models', 'model.js');
    const lazy = lazyModelIndex(indexPath);
    expect(lazy).toBeDefined();
    const generated = requireHere(indexPath) as Record<string, unknown>;
    const names = Object.keys(generated).filter((name) => name !== '__esModule');
    expect(Object.keys(lazy!).sort()).toEqual(names.sort());
    expect(names.length).toBeGreaterThan(1000);
    for (const name of names.filter((_, i) => i % 97 === 0)) {
      expect(lazy![name]).toBe(generated[name]);
      expect(typeof lazy![name]).toBe('function');
    }
  });
});

const HEAD = [
  '"use strict";',
  'Object.defineProperty(exports, "__esModule", { value: true });',
  'exports.A = exports.B = void 0;',
  'var A_1 = require("./A");',
  'Object.defineProperty(exports, "A", { enumerable: true, get: function () { return A_1.A; } });',
];

describe('an index of another shape is not replaced', () => {
  test.each([
    ['an export by assignment', 'exports.B = require("./B").B;'],
    ['a getter written differently', 'Object.defineProperty(exports, "B", { get: () => 1 });'],
  ])('%s', (_, line) => {
    const dir = mkdtempSync(join(tmpdir(), 'tn-sdk-index-'));
    try {
      const path = join(dir, 'model.js');
      writeFileSync(path, [...HEAD, line].join('\n'));
      expect(lazyModelIndex(path)).toBeUndefined();
      // The same file without that line is understood.
      writeFileSync(path, [...HEAD.filter((text) => !text.startsWith('exports.'))].join('\n'));
      expect(Object.keys(lazyModelIndex(path) ?? {})).toEqual(['A']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
