/** Which exchange the shim picks: its addon when it loads, node:net otherwise, or as forced. */
import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';

import {
  chooseExchange,
  SHIM_ADDON_ENV,
  SHIM_TRANSPORT_ENV,
} from '../../src/cni/transport/choose-exchange.js';
import { netExchange } from '../../src/cni/transport/net-exchange.js';
import { builtShimAddon, REPO_ROOT } from '../support/bins.js';

const missing = join(REPO_ROOT, 'no-such-dir', 'terway_uds.node');

describe('chooseExchange', () => {
  test('the addon, when it loads', async () => {
    const exchange = await chooseExchange({ [SHIM_ADDON_ENV]: builtShimAddon() });
    expect(exchange).not.toBe(netExchange);
  });

  test('node:net when the addon is missing, or when asked for', async () => {
    expect(await chooseExchange({ [SHIM_ADDON_ENV]: missing })).toBe(netExchange);
    expect(
      await chooseExchange({ [SHIM_ADDON_ENV]: builtShimAddon(), [SHIM_TRANSPORT_ENV]: 'net' }),
    ).toBe(netExchange);
  });

  test('"blocking" without the addon is an error naming the file', async () => {
    await expect(
      chooseExchange({ [SHIM_ADDON_ENV]: missing, [SHIM_TRANSPORT_ENV]: 'blocking' }),
    ).rejects.toThrow(`${SHIM_TRANSPORT_ENV}=blocking, but`);
  });
});
