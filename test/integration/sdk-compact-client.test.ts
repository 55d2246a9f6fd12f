/**
 * The build's compact copies of the SDK clients (dist/vendor/): the same module as the package's
 * own client, named for the installed version, and what the built daemon actually runs.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { compactClientPath } from '../../src/cloud/aliyun/sdk-modules.js';
import { REPO_ROOT, requireBuilt } from '../support/bins.js';
import { DaemonProcess, resultIp, runShim } from '../support/processes.js';

const requireHere = createRequire(import.meta.url);
const VENDOR = join(REPO_ROOT, 'dist', 'vendor');
const PACKAGES = ['@alicloud/ecs20140526', '@alicloud/vpc20160428'];

function methodsOf(module: unknown): string[] {
  const client = (module as { default: { prototype: object } }).default;
  return Object.getOwnPropertyNames(client.prototype).sort();
}

describe.each(PACKAGES)('%s', (packageName) => {
  test('the compact client is the package client without its comments', () => {
    const { version } = requireHere(`${packageName}/package.json`) as { version: string };
    const path = compactClientPath(packageName, requireBuilt(VENDOR));
    expect(path).toBe(join(VENDOR, `${basename(packageName)}@${version}.client.cjs`));

    const original = requireHere(packageName) as Record<string, unknown>;
    const compact = requireHere(path!) as Record<string, unknown>;
    expect(Object.keys(compact).sort()).toEqual(Object.keys(original).sort());
    // Every API method, e.g. describeNetworkInterfacesWithOptions, and the models it returns.
    expect(methodsOf(compact)).toEqual(methodsOf(original));
    expect(methodsOf(compact).length).toBeGreaterThan(500);
    expect(compact['DescribeNetworkInterfacesResponse']).toBe(
      original['DescribeNetworkInterfacesResponse'],
    );

    expect(readFileSync(path!).every((byte) => byte < 0x80)).toBe(true);
    expect(statSync(path!).size * 2).toBeLessThan(statSync(requireHere.resolve(packageName)).size);
  });
});

describe('a compact client made for another version', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  test('is not used: the installed package loads instead', () => {
    dir = mkdtempSync(join(tmpdir(), 'tn-vendor-'));
    const packageName = PACKAGES[0]!;
    const built = compactClientPath(packageName, requireBuilt(VENDOR))!;
    copyFileSync(
      built,
      join(dir, basename(built).replace(/@[^@]+\.client\.cjs$/, '@0.0.1.client.cjs')),
    );
    expect(compactClientPath(packageName, dir)).toBeUndefined();
    copyFileSync(built, join(dir, basename(built)));
    expect(compactClientPath(packageName, dir)).toBe(join(dir, basename(built)));
  });
});

describe('the built daemon', () => {
  let daemon: DaemonProcess | undefined;
  afterEach(async () => {
    await daemon?.cleanup();
    daemon = undefined;
  });

  test('runs both compact clients, and allocates through them', async () => {
    daemon = new DaemonProcess({ max_pool_size: 2 });
    await daemon.start();
    const connected = daemon.logs
      .split('\n')
      .find((line) => line.includes('"msg":"connected to ECS"'));
    expect(connected).toBeDefined();
    const { sdkModelIndexes } = JSON.parse(connected!) as { sdkModelIndexes: string[] };
    expect(sdkModelIndexes).toEqual(
      PACKAGES.map((name) =>
        expect.stringMatching(new RegExp(`^${name}: lazy \\(\\d+\\), compact client$`)),
      ),
    );
    // CreateNetworkInterface, AttachNetworkInterface, AssignPrivateIpAddresses... on the emulator.
    const added = await runShim('ADD', daemon.socket, { name: 'web', containerId: 'c-1' });
    expect(added.status).toBe(0);
    expect(resultIp(added)).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  }, 60_000);
});
