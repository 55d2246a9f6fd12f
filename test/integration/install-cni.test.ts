// scripts/install-cni.sh, the chart's install step, against a scratch "node": it installs the
// built shim and this machine's Node.js, and the runtime can then exec the installed plugin. Run
// with HOST_ROOT empty and every path under a scratch directory, so the launcher's first line
// names a Node.js that exists here.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { BINS, REPO_ROOT, requireBuilt } from '../support/bins.js';
import { runInstallCni, scratchNode, type ScratchNode } from '../support/install-cni.js';

const BUNDLE_DIR = join(REPO_ROOT, 'dist', 'bundle');
const CONFLIST = {
  cniVersion: '1.0.0',
  name: 'terway',
  plugins: [{ type: 'terway', daemon_socket: '/nonexistent/eni.socket' }],
};

let paths: ScratchNode;

function install(extraEnv: Record<string, string> = {}) {
  return runInstallCni(paths, extraEnv);
}

interface PluginRun {
  status: number | null;
  stdout: string;
}

/** The installed plugin, exec'd as a runtime execs it: by its path, env and stdin only. */
function execPlugin(env: Record<string, string>, stdin: string): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(paths.bin, 'terway'), [], {
      env: { PATH: '/usr/bin:/bin', ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout });
    });
    child.stdin.end(stdin);
  });
}

/** A unix socket that accepts and hangs up at once: a daemon that is there but broken. */
async function hangingUpSocket(path: string): Promise<Server> {
  const server = createServer((connection) => connection.destroy());
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

beforeEach(() => {
  requireBuilt(BINS.terway);
  paths = scratchNode('terway-install-', CONFLIST);
});

afterEach(() => rmSync(paths.root, { recursive: true, force: true }));

describe('install-cni.sh', () => {
  test('installs a plugin the runtime can exec, with its own Node.js', async () => {
    const run = install();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);

    const launcher = readFileSync(join(paths.bin, 'terway'), 'utf8');
    expect(launcher.split('\n')[0]).toBe(`#!${paths.runtime}/bin/node`);
    expect(statSync(join(paths.bin, 'terway')).mode & 0o777).toBe(0o755);
    expect(statSync(join(paths.runtime, 'bin', 'node')).mode & 0o777).toBe(0o755);
    // Everything but the first line is the built launcher's.
    const built = readFileSync(join(BUNDLE_DIR, 'terway.cjs'), 'utf8');
    expect(launcher.split('\n').slice(1)).toEqual(built.split('\n').slice(1));

    // PATH has no node: the plugin runs under the one installed beside it.
    const version = await execPlugin({ CNI_COMMAND: 'VERSION' }, '{}');
    expect(version.status).toBe(0);
    expect(JSON.parse(version.stdout)).toMatchObject({
      supportedVersions: expect.arrayContaining(['1.0.0', '1.1.0']),
    });

    // The blocking transport, forced, fails the call when its addon does not load beside the
    // bundle. Against a socket that hangs up, the installed plugin gets as far as the exchange.
    const socket = join(paths.root, 'eni.socket');
    const server = await hangingUpSocket(socket);
    const add = () =>
      execPlugin(
        {
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: 'c1',
          CNI_NETNS: '/var/run/netns/none',
          CNI_IFNAME: 'eth0',
          CNI_PATH: paths.bin,
          CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1',
          TERWAY_SHIM_TRANSPORT: 'blocking',
        },
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'terway',
          type: 'terway',
          daemon_socket: socket,
        }),
      );
    try {
      const installed = await add();
      expect(installed.status).not.toBe(0);
      expect(JSON.parse(installed.stdout).msg).not.toMatch(/blocking, but/);
      // The same call without the addon: what the assertion above tells apart.
      unlinkSync(join(paths.bin, 'terway_uds.node'));
      const withoutAddon = await add();
      expect(JSON.parse(withoutAddon.stdout).msg).toMatch(/TERWAY_SHIM_TRANSPORT=blocking, but/);
    } finally {
      server.close();
    }

    expect(JSON.parse(readFileSync(join(paths.conf, '10-terway.conflist'), 'utf8'))).toEqual(
      CONFLIST,
    );
  });

  test('installs again over itself (an upgrade), leaving no temporary files', async () => {
    expect(install().status).toBe(0);
    const first = statSync(join(paths.bin, 'terway')).ino;
    const nodeCopy = join(paths.runtime, 'bin', 'node');
    const firstNode = statSync(nodeCopy).ino;
    const again = install({ CNI_CONF_NAME: '05-terway.conflist' });
    expect(again.status).toBe(0);
    // Replaced by a rename, not rewritten in place: an exec in flight keeps the old file.
    expect(statSync(join(paths.bin, 'terway')).ino).not.toBe(first);
    // The same Node.js is left alone (100 MB at every pod start otherwise)...
    expect(statSync(nodeCopy).ino).toBe(firstNode);
    expect(again.stdout).toContain('already in');
    // ...and a different one replaced.
    writeFileSync(nodeCopy, 'not node');
    expect(install().status).toBe(0);
    // Buffer.equals: a deep equality over 100 MB would walk it index by index.
    expect(readFileSync(nodeCopy).equals(readFileSync(process.execPath))).toBe(true);
    const leftovers = spawnSync('find', [paths.root, '-name', '*.install.*'], { encoding: 'utf8' });
    expect(leftovers.stdout).toBe('');
    expect((await execPlugin({ CNI_COMMAND: 'VERSION' }, '{}')).status).toBe(0);
  });

  test('refuses a relative path, a missing bundle and a missing conflist, installing nothing', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ CNI_BIN_DIR: 'opt/cni/bin' }, /not an absolute path: opt\/cni\/bin/],
      [{ TERWAY_BUNDLE_DIR: join(paths.root, 'nothing') }, /terway\.cjs is missing/],
      [{ CNI_CONFLIST: join(paths.root, 'nothing.conflist') }, /CNI_CONFLIST names no file/],
    ];
    for (const [env, message] of cases) {
      const run = install(env);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(message);
    }
    // The first two fail before writing anything; the third after the plugin, before the conf.
    const conf = spawnSync('find', [paths.conf, '-type', 'f'], { encoding: 'utf8' });
    expect(conf.stdout).toBe('');
  });
});
