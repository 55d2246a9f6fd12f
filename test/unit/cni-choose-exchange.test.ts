/** Which exchange the shim picks: its addon when it loads, node:net otherwise, or as forced. */
import { describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import {
  chooseExchange,
  SHIM_ADDON_ENV,
  SHIM_TRANSPORT_ENV,
} from '../../src/cni/transport/choose-exchange.js';
import { netExchange } from '../../src/cni/transport/net-exchange.js';

const root = join(import.meta.dirname, '..', '..');
const addon = [
  join(root, 'dist', 'bundle', 'terway_uds.node'),
  join(root, 'native', 'build', 'Release', 'terway_uds.node'),
].find((path) => existsSync(path));
const missing = join(root, 'no-such-dir', 'terway_uds.node');

describe('chooseExchange', () => {
  test('the addon, when it loads', async () => {
    if (addon === undefined) throw new Error('terway_uds.node is not built (make build)');
    const exchange = await chooseExchange({ [SHIM_ADDON_ENV]: addon });
    expect(exchange).not.toBe(netExchange);
  });

  test('node:net when the addon is missing, or when asked for', async () => {
    expect(await chooseExchange({ [SHIM_ADDON_ENV]: missing })).toBe(netExchange);
    expect(
      await chooseExchange({ [SHIM_ADDON_ENV]: addon ?? missing, [SHIM_TRANSPORT_ENV]: 'net' }),
    ).toBe(netExchange);
  });

  test('"blocking" without the addon is an error naming the file', async () => {
    await expect(
      chooseExchange({ [SHIM_ADDON_ENV]: missing, [SHIM_TRANSPORT_ENV]: 'blocking' }),
    ).rejects.toThrow(`${SHIM_TRANSPORT_ENV}=blocking, but`);
  });
});
