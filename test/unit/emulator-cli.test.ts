import { describe, expect, test } from '@jest/globals';

import {
  buildSetup,
  parseConfigFile,
  parseThrottle,
  parseVSwitch,
} from '../../src/emulator/cli-config.js';

describe('ecs-emulator flags', () => {
  test('flag parsers', () => {
    expect(parseVSwitch('vsw-1=10.1.0.0/24@cn-hangzhou-j', 'z')).toEqual({
      vswitchId: 'vsw-1',
      cidr: '10.1.0.0/24',
      zoneId: 'cn-hangzhou-j',
    });
    expect(parseVSwitch('vsw-1=10.1.0.0/24', 'z').zoneId).toBe('z');
    expect(parseThrottle('mutating=5/10')).toEqual(['mutating', { ratePerSecond: 5, burst: 10 }]);
    expect(parseThrottle('DescribeNetworkInterfaces=0.5')).toEqual([
      'DescribeNetworkInterfaces',
      { ratePerSecond: 0.5, burst: 1 },
    ]);
    expect(() => parseThrottle('all=0')).toThrow(/--throttle/);
  });

  test('defaults: loopback, one instance, a generated key', () => {
    const setup = buildSetup({});
    expect(setup.options).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      regionId: 'cn-hangzhou',
      vpcCidr: '10.0.0.0/8',
    });
    expect(setup.options.vswitches).toEqual([
      { vswitchId: 'vsw-emulator0', cidr: '10.20.0.0/16', zoneId: 'cn-hangzhou-k' },
    ]);
    expect(setup.instanceCount).toBe(1);
    expect(setup.generatedKey).toBe(true);
    expect(setup.options.accessKeys[0]?.accessKeyId).toMatch(/^LTAI/);
  });

  test('flags override the config file; the environment supplies the key', () => {
    const file = parseConfigFile(
      JSON.stringify({
        regionId: 'cn-beijing',
        latencies: { perApi: { DescribeVSwitches: 3 }, attachMs: 100 },
        instances: 3,
        stateFile: '/tmp/x.json',
      }),
      'config.json',
    );
    const setup = buildSetup(
      {
        region: 'cn-shanghai',
        latency: ['CreateNetworkInterface=7'],
        detachMs: '9',
        throttle: ['all=100/200', 'AttachNetworkInterface=2'],
        vswitch: ['vsw-a=10.1.0.0/24', 'vsw-b=10.2.0.0/24@cn-shanghai-b'],
      },
      file,
      { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIenv', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'env-secret' },
    );
    expect(setup.options.regionId).toBe('cn-shanghai');
    expect(setup.options.vswitches.map((v) => v.zoneId)).toEqual([
      'cn-shanghai-k',
      'cn-shanghai-b',
    ]);
    expect(setup.options.latencies).toEqual({
      perApi: { DescribeVSwitches: 3, CreateNetworkInterface: 7 },
      attachMs: 100,
      detachMs: 9,
    });
    expect(setup.options.throttle).toEqual({
      all: { ratePerSecond: 100, burst: 200 },
      perApi: { AttachNetworkInterface: { ratePerSecond: 2, burst: 2 } },
    });
    expect(setup.options.accessKeys).toEqual([
      { accessKeyId: 'LTAIenv', accessKeySecret: 'env-secret' },
    ]);
    expect(setup.instanceCount).toBe(3);
    expect(setup.options.stateFile).toBe('/tmp/x.json');
  });

  test('bad input is refused with the flag named', () => {
    expect(() => buildSetup({ instanceType: 'ecs.nope' })).toThrow(/unknown instance type/);
    expect(() => buildSetup({ accessKeyId: 'only-id' })).toThrow(/both/);
    expect(() => buildSetup({ instances: '-1' })).toThrow(/--instances/);
    expect(() => parseConfigFile('{"unknownKey":1}', 'c.json')).toThrow(/c.json/);
    expect(() => parseConfigFile('nope', 'c.json')).toThrow(/not JSON/);
  });
});

describe('stuck attach fail-back', () => {
  test('--stuck-attach-fail-ms and latencies.stuckAttachFailMs reach the options; the flag wins', () => {
    const file = parseConfigFile(
      JSON.stringify({ latencies: { stuckAttachFailMs: 4000 } }),
      'config.json',
    );
    expect(buildSetup({}, file).options.latencies?.stuckAttachFailMs).toBe(4000);
    expect(
      buildSetup({ stuckAttachFailMs: '250' }, file).options.latencies?.stuckAttachFailMs,
    ).toBe(250);
    expect(buildSetup({}).options.latencies).not.toHaveProperty('stuckAttachFailMs');
    expect(() => buildSetup({ stuckAttachFailMs: 'soon' })).toThrow(/--stuck-attach-fail-ms/);
    expect(() => buildSetup({ attachMs: '-5' })).toThrow(/--attach-ms/);
    expect(() => parseConfigFile('{"latencies":{"stuckAttachFailMs":-1}}', 'c.json')).toThrow(
      /stuckAttachFailMs/,
    );
  });
});
