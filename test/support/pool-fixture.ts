import { pino } from 'pino';
import { MemoryCloud } from '../../src/cloud/memory/memory-cloud.js';
import { IpPool } from '../../src/pool/ip-pool.js';
import type { IpClaim } from '../../src/pool/ip-pool.js';
import type { PoolOptions } from '../../src/pool/ip-state.js';
import { computePoolLimits } from '../../src/pool/pool-limits.js';
import { FakeClock } from '../../src/util/fake-clock.js';

export const SILENT_LOG = pino({ level: 'silent' });

export const TEST_POOL_OPTIONS: PoolOptions = {
  minPoolSize: 0,
  maxPoolSize: 5,
  minEni: 0,
  maxEni: undefined,
  eniCapRatio: 1,
  eniCapShift: 0,
  eniSelectionPolicy: 'most_ips',
  ipWarmUpSize: 0,
  idleIpReclaimAfterMs: undefined,
  idleIpReclaimIntervalMs: 600_000,
  idleIpReclaimBatchSize: 5,
  idleIpReclaimJitterFactor: 0,
  ipPoolSyncPeriodMs: 120_000,
  ipBatchWindowMs: 20,
};

export interface PoolFixture {
  clock: FakeClock;
  cloud: MemoryCloud;
  pool: IpPool;
}

export function memoryCloud(
  clock: FakeClock,
  instanceType = 'ecs.g7.xlarge',
  stateFile?: string,
): MemoryCloud {
  return new MemoryCloud({
    instanceType,
    vswitchId: 'vsw-test',
    vswitchCidr: '10.20.0.0/24',
    zoneId: 'cn-hangzhou-k',
    apiLatencyMs: 10,
    attachLatencyMs: 50,
    failureRate: 0,
    clock,
    ...(stateFile === undefined ? {} : { stateFile }),
  });
}

/** A pool over an in-memory cloud, both driven by one fake clock. */
export async function poolFixture(
  overrides: Partial<PoolOptions> = {},
  instanceType = 'ecs.g7.xlarge',
  claims: readonly IpClaim[] = [],
): Promise<PoolFixture> {
  const clock = new FakeClock();
  const cloud = memoryCloud(clock, instanceType);
  const options = { ...TEST_POOL_OPTIONS, ...overrides };
  const instance = cloud.describeInstanceLimits();
  await clock.advance(100);
  const limits = computePoolLimits(await instance, options);
  const pool = new IpPool({ cloud, clock, log: SILENT_LOG, options, limits });
  pool.restore([], claims);
  return { clock, cloud, pool };
}
