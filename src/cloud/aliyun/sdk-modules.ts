/**
 * Loads the official ECS and VPC SDKs, each with a lazy model index.
 *
 * Each SDK's `models/model.js` requires every one of its ~1,200 model files (about 2,000 classes:
 * the request, response and nested shapes of every API in the product) so as to re-export them,
 * though terwayd uses a dozen. That costs each daemon about 30 MB of memory and most of a second at
 * start. Before the SDK loads, its index is replaced in the CommonJS module cache by an object
 * with the same names whose getters load a model's file on first use: the SDK's own client code
 * then runs unchanged and gets the same classes. If an index does not have the generated shape
 * this expects (a future SDK version), it is left alone and loads as before.
 *
 * The SDKs are loaded with `require`, not `import`: importing CommonJS from ESM reads every
 * export once, which would load every model anyway.
 *
 * Each SDK's client, a single 1.5 MB file whose doc comments include a few Chinese characters,
 * is held by V8 as source for the daemon's life, two bytes a character because of them: 5.7 MB
 * for the two. The build writes compact copies into dist/vendor/ (scripts/build.mjs: the same
 * code without comments or whitespace, 0.6 MB each, ASCII), and terwayd loads those when they
 * match the installed package's version. From source (the tests), or with no copy, the package's
 * own client loads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type * as EcsEsm from '@alicloud/ecs20140526';
import type * as VpcEsm from '@alicloud/vpc20160428';

/** The packages' CommonJS exports: the model classes, and the client as `default`. */
export type EcsSdk = typeof EcsEsm.default;
export type VpcSdk = typeof VpcEsm.default;

const requireHere = createRequire(import.meta.url);

/** `var X_1 = require("./File");` */
const MODEL_FILE = /var (\w+) = require\("\.\/(\w+)"\);/g;
/** `Object.defineProperty(exports, "Name", { enumerable: true, get: function () { return X_1.Name; } });` */
const MODEL_EXPORT =
  /Object\.defineProperty\(exports, "(\w+)", \{ enumerable: true, get: function \(\) \{ return (\w+)\.(\w+); \} \}\);/g;

/** What was done for each package, for the daemon's start-up log and the tests. */
export interface ModelIndexReport {
  packageName: string;
  lazy: boolean;
  models: number;
  /** The build's compact copy of the client was loaded, not the package's own file. */
  compactClient: boolean;
}

/** Where the build writes the compact clients: dist/vendor/, from dist/src/cloud/aliyun/. */
const COMPACT_CLIENT_DIR = fileURLToPath(new URL('../../../vendor/', import.meta.url));

/** Builds the lazy index for `indexPath`, or undefined when the file has an unexpected shape. */
export function lazyModelIndex(indexPath: string): Record<string, unknown> | undefined {
  const text = readFileSync(indexPath, 'utf8');
  const files = new Map<string, string>();
  for (const [, variable, file] of text.matchAll(MODEL_FILE)) {
    if (variable !== undefined && file !== undefined) files.set(variable, file);
  }
  const index: Record<string, unknown> = {};
  Object.defineProperty(index, '__esModule', { value: true });
  let names = 0;
  for (const [, name, variable, property] of text.matchAll(MODEL_EXPORT)) {
    const file = variable === undefined ? undefined : files.get(variable);
    if (name === undefined || property === undefined || file === undefined) return undefined;
    const path = join(dirname(indexPath), `${file}.js`);
    // A copy, not the match: V8 keeps a matched substring of 13 characters or more as a view
    // into the string it came from, and every getter holding one kept the whole index text alive
    // (1.3 MB for the two SDKs, measured in a heap snapshot).
    const exported = structuredClone(property);
    Object.defineProperty(index, name, {
      enumerable: true,
      get: () => (requireHere(path) as Record<string, unknown>)[exported],
    });
    names++;
  }
  // Every export must have been understood: one that was not would be a missing class.
  const exportLines = text.match(/Object\.defineProperty\(exports, "(?!__esModule)/g)?.length ?? 0;
  const assigned = [...text.matchAll(/exports\.(\w+) =/g)].map(([, name]) => name ?? '');
  const understood = names > 0 && names === exportLines;
  return understood && assigned.every((name) => name in index) ? index : undefined;
}

function installLazyModelIndex(packageName: string): Omit<ModelIndexReport, 'compactClient'> {
  try {
    const indexPath = join(dirname(requireHere.resolve(packageName)), 'models', 'model.js');
    if (requireHere.cache[indexPath] !== undefined) {
      return { packageName, lazy: false, models: 0 };
    }
    const index = lazyModelIndex(indexPath);
    if (index === undefined) return { packageName, lazy: false, models: 0 };
    const entry = new Module(indexPath);
    entry.filename = indexPath;
    entry.loaded = true;
    entry.exports = index;
    requireHere.cache[indexPath] = entry;
    return { packageName, lazy: true, models: Object.keys(index).length };
  } catch {
    // Bundled (no package on disk) or unreadable: the SDK loads as it always did.
    return { packageName, lazy: false, models: 0 };
  }
}

/** The build's compact copy of `packageName`'s client, if there is one for its installed version. */
export function compactClientPath(
  packageName: string,
  directory: string = COMPACT_CLIENT_DIR,
): string | undefined {
  try {
    const { version } = requireHere(`${packageName}/package.json`) as { version?: unknown };
    if (typeof version !== 'string') return undefined;
    const path = join(directory, `${basename(packageName)}@${version}.client.cjs`);
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

export const modelIndexReports: ModelIndexReport[] = [];

function loadSdk(packageName: string): unknown {
  const index = installLazyModelIndex(packageName);
  const compact = compactClientPath(packageName);
  modelIndexReports.push({ ...index, compactClient: compact !== undefined });
  return requireHere(compact ?? packageName);
}

export function loadEcsSdk(): EcsSdk {
  return loadSdk('@alicloud/ecs20140526') as EcsSdk;
}

export function loadVpcSdk(): VpcSdk {
  return loadSdk('@alicloud/vpc20160428') as VpcSdk;
}
