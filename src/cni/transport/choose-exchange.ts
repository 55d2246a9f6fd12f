/**
 * Which exchange the shim uses: the blocking one when its addon (terway_uds.node, installed beside
 * the shim) loads, node:net otherwise. TERWAY_SHIM_TRANSPORT=net|blocking forces one, for
 * debugging a node and for tests ("blocking" then fails the call if the addon cannot load).
 */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { blockingExchange, loadUdsAddon } from './blocking-exchange.js';
import type { Exchange } from './exchange.js';

export const SHIM_TRANSPORT_ENV = 'TERWAY_SHIM_TRANSPORT';
/** Overrides where the addon is loaded from. */
export const SHIM_ADDON_ENV = 'TERWAY_SHIM_ADDON';
export const SHIM_ADDON_FILE = 'terway_uds.node';

/** Beside the program kubelet ran (symlinks resolved), as the launcher finds the bundle. */
function addonPath(env: NodeJS.ProcessEnv): string | undefined {
  const override = env[SHIM_ADDON_ENV];
  if (override !== undefined && override !== '') return override;
  const program = process.argv[1];
  if (program === undefined) return undefined;
  try {
    return join(dirname(realpathSync(program)), SHIM_ADDON_FILE);
  } catch {
    return undefined;
  }
}

function blockingExchangeAt(path: string | undefined): Exchange | Error {
  if (path === undefined) return new Error('no program path to look beside');
  const addon = loadUdsAddon(path);
  return addon instanceof Error ? addon : blockingExchange(addon);
}

export async function chooseExchange(env: NodeJS.ProcessEnv = process.env): Promise<Exchange> {
  const wanted = env[SHIM_TRANSPORT_ENV];
  if (wanted !== 'net') {
    const blocking = blockingExchangeAt(addonPath(env));
    if (!(blocking instanceof Error)) return blocking;
    if (wanted === 'blocking') {
      throw new Error(`${SHIM_TRANSPORT_ENV}=blocking, but ${blocking.message}`);
    }
  }
  return (await import('./net-exchange.js')).netExchange;
}
