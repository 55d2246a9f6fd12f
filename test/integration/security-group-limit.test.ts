/**
 * One security-group limit everywhere: ECS's per-ENI default of 5 (SecurityGroupIds.N). The
 * config refuses a sixth, the client never sends one, and the emulator refuses one on the wire,
 * through the official SDK, as ECS does.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { MAX_SECURITY_GROUPS } from '../../src/config/eni-conf.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import { Ecs, ecsClient, REGION, sdkError, startEmulator, VSWITCH } from './emulator-harness.js';
import type { EcsClient } from './emulator-harness.js';

const GROUPS = Array.from({ length: MAX_SECURITY_GROUPS + 1 }, (_, i) => `sg-limit${i}`);

let emulator: EcsEmulator;
let ecs: EcsClient;

beforeAll(async () => {
  emulator = await startEmulator({ securityGroupIds: GROUPS });
  ecs = ecsClient(emulator);
});

afterAll(async () => {
  await emulator.stop();
});

function create(securityGroupIds: string[]) {
  return ecs.createNetworkInterface(
    new Ecs.CreateNetworkInterfaceRequest({
      regionId: REGION,
      vSwitchId: VSWITCH,
      securityGroupIds,
    }),
  );
}

describe('security groups per ENI', () => {
  test('the limit is 5', () => {
    expect(MAX_SECURITY_GROUPS).toBe(5);
  });

  test('the emulator takes 5 and refuses 6, as ECS does', async () => {
    const five = GROUPS.slice(0, MAX_SECURITY_GROUPS);
    const created = await create(five);
    expect(created.body?.securityGroupIds?.securityGroupId).toEqual(five);
    const refused = await sdkError(create(GROUPS));
    expect([refused.code, refused.statusCode]).toEqual(['InvalidParameter', 400]);
  });

  test('the config accepts 5 and refuses 6', () => {
    expect(parseConfig({ security_groups: GROUPS.slice(0, 5) }).securityGroups).toHaveLength(5);
    expect(() => parseConfig({ security_groups: GROUPS })).toThrow(
      'expected an array of at most 5 security group ids',
    );
  });
});
