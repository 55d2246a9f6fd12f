import { describe, expect, test } from '@jest/globals';

import { renderCloud } from '../../src/cli/show-cloud.js';
import type { CloudStatus__Output } from '../../src/rpc/generated/terway/v1/CloudStatus.js';

const NOW = Date.UTC(2026, 10, 25, 8, 0, 0);

function cloud(partial: Partial<CloudStatus__Output> = {}): CloudStatus__Output {
  return { kind: 'ecs', vswitches: [], pendingCleanup: [], apis: [], ...partial };
}

describe('show factory: the cloud block', () => {
  test('says why a vSwitch is skipped and for how long', () => {
    const out = renderCloud(
      cloud({
        vswitches: [
          {
            id: 'vsw-a',
            zoneId: 'cn-hangzhou-k',
            availableIps: 0,
            inhibitedUntilMs: NOW + 9 * 60_000,
            reason: 'InvalidVSwitchId.IpNotEnough: no free IPs',
            excluded: '',
          },
          {
            id: 'vsw-b',
            zoneId: 'cn-hangzhou-k',
            availableIps: 240,
            inhibitedUntilMs: 0,
            reason: '',
            excluded: '',
          },
          {
            id: 'vsw-c',
            zoneId: '',
            availableIps: -1,
            inhibitedUntilMs: 0,
            reason: '',
            excluded: 'in zone cn-hangzhou-j, not the node zone',
          },
        ],
      }),
      NOW,
    );
    expect(out).toContain(
      'vSwitch vsw-a (cn-hangzhou-k): skipped for another 9m: InvalidVSwitchId.IpNotEnough: no free IPs',
    );
    expect(out).toContain('vSwitch vsw-b (cn-hangzhou-k): 240 IPs available');
    expect(out).toContain('vSwitch vsw-c: never used: in zone cn-hangzhou-j');
  });

  test('an inhibit that has run out shows the vSwitch as usable again', () => {
    const out = renderCloud(
      cloud({
        vswitches: [
          {
            id: 'vsw-a',
            zoneId: 'z',
            availableIps: 12,
            inhibitedUntilMs: NOW - 1,
            reason: 'old',
            excluded: '',
          },
        ],
      }),
      NOW,
    );
    expect(out).toContain('vSwitch vsw-a (z): 12 IPs available');
    expect(out).not.toContain('old');
  });

  test('lists ENIs waiting for clean-up and each API with a slowed budget marked', () => {
    const out = renderCloud(
      cloud({
        kind: 'ecs (embedded emulator)',
        pendingCleanup: ['eni-stuck1'],
        apis: [
          {
            api: 'AssignPrivateIpAddresses',
            calls: 40,
            throttled: 9,
            retried: 9,
            errors: 0,
            callsPerMinute: 100,
            baseCallsPerMinute: 400,
            lastError: 'Throttling: Request was denied due to request throttling.',
          },
          {
            api: 'DescribeNetworkInterfaces',
            calls: 7,
            throttled: 0,
            retried: 0,
            errors: 0,
            callsPerMinute: 800,
            baseCallsPerMinute: 800,
            lastError: '',
          },
        ],
      }),
      NOW,
    );
    expect(out.split('\n')[0]).toBe('Cloud: ecs (embedded emulator)');
    expect(out).toContain('ENIs waiting to be deleted: eni-stuck1');
    const assign = out.split('\n').find((line) => line.includes('AssignPrivateIpAddresses')) ?? '';
    expect(assign).toMatch(
      /AssignPrivateIpAddresses\s+40\s+9\s+9\s+0\s+100\/400 \(slowed\)\s+Throttling/,
    );
    const describeLine = out.split('\n').find((line) => line.includes('DescribeNetworkInterfaces'));
    expect(describeLine).toMatch(/DescribeNetworkInterfaces\s+7\s+0\s+0\s+0\s+800\s+-$/);
  });
});
