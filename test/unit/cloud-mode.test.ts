import { describe, expect, test } from '@jest/globals';
import { parseConfig } from '../../src/config/load-config.js';
import { chooseCloudMode } from '../../src/daemon/cloud-factory.js';

describe('chooseCloudMode', () => {
  test('with no credentials anywhere, the daemon runs on the built-in emulator', () => {
    expect(chooseCloudMode(parseConfig({}), {})).toBe('emulator');
    expect(chooseCloudMode(parseConfig({}), { ALIBABA_CLOUD_ACCESS_KEY_ID: '' })).toBe('emulator');
  });

  test('credentials in config, a credential file or the environment mean real ECS', () => {
    const fromConfig = parseConfig({ access_key: 'LTAI-key', access_secret: 'secret' });
    expect(chooseCloudMode(fromConfig, {})).toBe('ecs');
    expect(chooseCloudMode(parseConfig({ credential_path: '/etc/terway/creds' }), {})).toBe('ecs');
    expect(chooseCloudMode(parseConfig({}), { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI-key' })).toBe(
      'ecs',
    );
    expect(chooseCloudMode(parseConfig({}), { ALIBABA_CLOUD_ECS_METADATA: 'node-role' })).toBe(
      'ecs',
    );
  });

  test('an explicit `cloud` wins over whatever credentials are around', () => {
    const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI-key' };
    expect(chooseCloudMode(parseConfig({ cloud: 'emulator' }), env)).toBe('emulator');
    expect(chooseCloudMode(parseConfig({ cloud: 'ecs' }), {})).toBe('ecs');
  });
});
