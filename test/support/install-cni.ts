/**
 * scripts/install-cni.sh (the chart's install step) run against a scratch "node": HOST_ROOT
 * empty and every node path under one scratch directory, so what it installs can be exec'd here.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_ROOT } from './bins.js';

export const INSTALL_CNI_SCRIPT = join(REPO_ROOT, 'scripts', 'install-cni.sh');
/** Where the Dockerfile puts the script in the image: the chart's init container command. */
export const IMAGE_INSTALL_CNI = '/opt/terway-node/bin/install-cni';
/** terway-cli in the image (a link on the PATH): what the chart's probes run. */
export const IMAGE_TERWAY_CLI = '/usr/local/bin/terway-cli';

export interface ScratchNode {
  /** The scratch directory; the caller removes it. */
  readonly root: string;
  /** TERWAY_RUNTIME_DIR, CNI_BIN_DIR, CNI_CONF_DIR and the conflist CNI_CONFLIST names. */
  readonly runtime: string;
  readonly bin: string;
  readonly conf: string;
  readonly conflist: string;
}

/** A scratch node whose conflist file holds `conflist`. */
export function scratchNode(prefix: string, conflist: object): ScratchNode {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const node = {
    root,
    runtime: join(root, 'opt', 'terway-node'),
    bin: join(root, 'opt', 'cni', 'bin'),
    conf: join(root, 'etc', 'cni', 'net.d'),
    conflist: join(root, 'cni.conflist'),
  };
  writeFileSync(node.conflist, JSON.stringify(conflist));
  return node;
}

/** Runs the script for `node` with the built shim; `overrides` replace or add variables. */
export function runInstallCni(
  node: ScratchNode,
  overrides: Record<string, string> = {},
): SpawnSyncReturns<string> {
  return spawnSync('sh', [INSTALL_CNI_SCRIPT], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOST_ROOT: '',
      TERWAY_RUNTIME_DIR: node.runtime,
      CNI_BIN_DIR: node.bin,
      CNI_CONF_DIR: node.conf,
      CNI_CONFLIST: node.conflist,
      TERWAY_BUNDLE_DIR: join(REPO_ROOT, 'dist', 'bundle'),
      ...overrides,
    },
  });
}
