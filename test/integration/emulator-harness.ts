/**
 * Shared setup of the emulator integration tests: an emulator with small latencies and the
 * official SDK clients pointed at it, exactly as the daemon builds them.
 */
import * as Ecs from '@alicloud/ecs20140526';
import * as Vpc from '@alicloud/vpc20160428';
import { $OpenApiUtil } from '@alicloud/openapi-core';

import { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import type { EmulatorOptions } from '../../src/emulator/ecs-emulator.js';

export { Ecs, Vpc };
export type EcsClient = InstanceType<typeof Ecs.default.default>;
export type VpcClient = InstanceType<typeof Vpc.default.default>;

export const REGION = 'cn-hangzhou';
export const ZONE = 'cn-hangzhou-k';
export const VSWITCH = 'vsw-emutest0';
export const KEY = { accessKeyId: 'LTAIemulatortest01', accessKeySecret: 'emulator-test-secret' };

export function emulatorOptions(overrides: Partial<EmulatorOptions> = {}): EmulatorOptions {
  return {
    accessKeys: [KEY],
    regionId: REGION,
    vpcId: 'vpc-emutest0',
    vpcCidr: '192.168.0.0/16',
    vswitches: [{ vswitchId: VSWITCH, zoneId: ZONE, cidr: '192.168.1.0/24' }],
    securityGroupIds: ['sg-emutest0', 'sg-emutest1'],
    latencies: { perApi: {}, attachMs: 5, detachMs: 5, deleteMs: 5 },
    logger: { warn: () => {} },
    ...overrides,
  };
}

export function startEmulator(overrides: Partial<EmulatorOptions> = {}): Promise<EcsEmulator> {
  return EcsEmulator.start(emulatorOptions(overrides));
}

export interface ClientCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

function config(
  emulator: EcsEmulator,
  credentials: ClientCredentials,
  extra: Record<string, unknown>,
): $OpenApiUtil.Config {
  return new $OpenApiUtil.Config({
    ...credentials,
    endpoint: emulator.endpoint,
    protocol: 'http',
    readTimeout: 2000,
    connectTimeout: 1000,
    ...extra,
  });
}

export function ecsClient(
  emulator: EcsEmulator,
  credentials: ClientCredentials = KEY,
  extra: Record<string, unknown> = {},
): EcsClient {
  return new Ecs.default.default(config(emulator, credentials, extra));
}

export function vpcClient(emulator: EcsEmulator, credentials: ClientCredentials = KEY): VpcClient {
  return new Vpc.default.default(config(emulator, credentials, {}));
}

/** The error an SDK call threw, for asserting on its class and code. */
export async function sdkError(call: Promise<unknown>): Promise<
  Error & {
    code?: string;
    statusCode?: number;
    retryAfter?: number;
    data?: Record<string, unknown>;
  }
> {
  try {
    await call;
  } catch (error) {
    return error as Error & { code?: string; statusCode?: number };
  }
  throw new Error('the call was expected to fail');
}

/** Polls until `check` passes or `timeoutMs` elapses (real time: the emulator runs on the system clock). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
