import { afterEach, describe, expect, test } from '@jest/globals';
import {
  appendFileSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BINS, requireBuilt } from '../support/bins.js';
import { runProcess } from '../support/processes.js';

const NETCONF = JSON.stringify({ cniVersion: '1.0.0', name: 'terway', type: 'terway' });
const dirs: string[] = [];

/** The two shim files, installed into a fresh directory as an operator would copy them. */
function install(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tn-shim-'));
  dirs.push(dir);
  copyFileSync(requireBuilt(BINS.terway), join(dir, 'terway'));
  copyFileSync(join(dirname(BINS.terway), 'terway-main.cjs'), join(dir, 'terway-main.cjs'));
  return dir;
}

function caches(dir: string, profile: string): string[] {
  return readdirSync(dir).filter(
    (name) => name.startsWith(`.terway-main.cjs.${profile}.`) && name.endsWith('.cache'),
  );
}

function version(dir: string) {
  return runProcess(join(dir, 'terway'), [], { stdin: NETCONF, env: { CNI_COMMAND: 'VERSION' } });
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the terway launcher and its V8 code cache', () => {
  test('the first run writes a cache beside the bundle; later runs reuse it unchanged', async () => {
    const dir = install();
    const first = await version(dir);
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      supportedVersions: expect.arrayContaining(['1.0.0']),
    });
    const [cache] = caches(dir, 'local');
    expect(cache).toBeDefined();
    const inode = statSync(join(dir, cache!)).ino;
    expect((await version(dir)).status).toBe(0);
    // An accepted cache is never rewritten (a rewrite is a rename, hence a new inode).
    expect(statSync(join(dir, cache!)).ino).toBe(inode);
    expect(caches(dir, 'local')).toEqual([cache]);
  });

  test('daemon verbs keep their own cache', async () => {
    const dir = install();
    const add = await runProcess(join(dir, 'terway'), [], {
      stdin: JSON.stringify({ ...JSON.parse(NETCONF), daemon_socket: join(dir, 'no-daemon.sock') }),
      env: {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'c1',
        CNI_NETNS: '/var/run/netns/x',
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=p',
      },
    });
    expect((JSON.parse(add.stdout) as { code: number }).code).toBe(11);
    expect(caches(dir, 'daemon')).toHaveLength(1);
    expect(caches(dir, 'local')).toHaveLength(0);
  });

  test('a corrupt cache is ignored and replaced', async () => {
    const dir = install();
    await version(dir);
    const [cache] = caches(dir, 'local');
    writeFileSync(join(dir, cache!), 'not a v8 code cache');
    const run = await version(dir);
    expect(run.status).toBe(0);
    expect(readFileSync(join(dir, cache!), 'utf8')).not.toBe('not a v8 code cache');
  });

  test('a changed bundle gets a new cache and the stale one is removed', async () => {
    const dir = install();
    await version(dir);
    const [before] = caches(dir, 'local');
    // Same behaviour, different bytes: V8 alone would only notice a length change.
    appendFileSync(join(dir, 'terway-main.cjs'), '\n// upgraded\n');
    expect((await version(dir)).status).toBe(0);
    const after = caches(dir, 'local');
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
  });

  test('a broken install still answers in the CNI error shape', async () => {
    const dir = install();
    unlinkSync(join(dir, 'terway-main.cjs'));
    const run = await version(dir);
    expect(run.status).toBe(1);
    const error = JSON.parse(run.stdout) as { code: number; msg: string };
    expect(error.code).toBe(999);
    expect(error.msg).toContain('terway-main.cjs');
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /);
  });
});
