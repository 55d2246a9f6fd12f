import { describe, expect, test } from '@jest/globals';

import {
  TERWAYD_ENV,
  TERWAYD_HEAP_LIMIT_MIB,
  terwaydEnv,
} from '../../src/daemon/runtime-settings.js';

describe("terwayd's environment", () => {
  test('carries the C library settings and the heap ceiling over the parent environment', () => {
    const env = terwaydEnv({ PATH: '/usr/bin', MALLOC_ARENA_MAX: '8' });
    expect(env).toEqual({
      PATH: '/usr/bin',
      ...TERWAYD_ENV,
      NODE_OPTIONS: `--max-old-space-size=${TERWAYD_HEAP_LIMIT_MIB}`,
    });
  });

  test("keeps the parent's own Node options after the ceiling, so a preload or a ceiling set by hand still applies", () => {
    const env = terwaydEnv({ NODE_OPTIONS: ' --import=/probe.js --max-old-space-size=512 ' });
    expect(env['NODE_OPTIONS']).toBe(
      `--max-old-space-size=${TERWAYD_HEAP_LIMIT_MIB} --import=/probe.js --max-old-space-size=512`,
    );
  });
});
