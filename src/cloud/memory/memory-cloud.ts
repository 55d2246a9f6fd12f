import { randomBytes, randomUUID } from 'node:crypto';

import { TerwayError } from '../../errors/terway-error.js';
import { sleep, systemClock } from '../../util/clock.js';
import type { Clock } from '../../util/clock.js';
import { parseCidr } from '../../util/ipv4.js';
import { CloudError } from '../cloud-error.js';
import { knownInstanceTypes, lookupInstanceType } from '../instance-types.js';
import type { CloudProvider, EniInfo, InstanceLimits } from '../provider.js';
import { FailureInjector, MEMORY_CLOUD_OPS } from './failure-injection.js';
import type { MemoryCloudOp } from './failure-injection.js';
import { MemoryCloudState, restoreState } from './memory-cloud-state.js';
import type { VSwitchInfo } from './memory-cloud-state.js';
import { corruptStateFile, readStateFile, writeStateFile } from './state-file.js';

/** Fresh ids/MACs are random; this many collisions in a row means something is badly wrong. */
const MAX_ID_ATTEMPTS = 100;
/** Alibaba Cloud's OUI: every ECS ENI MAC starts with it. */
const ALIYUN_MAC_PREFIX = '00:16:3e';

/** ECS API names, so errors and logs read like the real cloud's. */
const ECS_ACTIONS: Readonly<Record<MemoryCloudOp, string>> = {
  describeInstanceLimits: 'DescribeInstanceTypes',
  listEnis: 'DescribeNetworkInterfaces',
  createEni: 'CreateNetworkInterface',
  assignPrivateIps: 'AssignPrivateIpAddresses',
  unassignPrivateIps: 'UnassignPrivateIpAddresses',
  deleteEni: 'DeleteNetworkInterface',
};

export interface MemoryCloudOptions {
  /** Must be in the built-in table (src/cloud/instance-types.ts). */
  instanceType: string;
  vswitchId: string;
  /** e.g. 10.99.0.0/16; at most /29. */
  vswitchCidr: string;
  zoneId: string;
  /** Latency of every call, before it takes effect. Default 0. */
  apiLatencyMs?: number;
  /** Extra time createEni spends attaching the new ENI. Default 0. */
  attachLatencyMs?: number;
  /** Chance in [0, 1] that a mutating call fails with a retryable code. Default 0. */
  failureRate?: number;
  /** When set, the cloud survives restarts of the process that hosts it. */
  stateFile?: string;
  clock?: Clock;
  /** Drives random failures only; ids and MACs come from crypto. */
  random?: () => number;
}

export interface LatencySettings {
  apiLatencyMs?: number;
  attachLatencyMs?: number;
}

/**
 * An in-memory ECS for one instance (this node): secondary ENIs and their private IPs out of
 * one vSwitch, with the instance type's limits, ECS error codes, latency on an injectable
 * clock, failure injection, and optional crash-safe persistence. It is the pool's in-memory
 * fake: unit tests use it to drive the pool into every corner without the SDK (the daemon
 * itself always talks through the SDK, to ECS or to the emulator).
 *
 * Calls wait their latency first and then apply atomically, so concurrent calls interleave
 * the way concurrent ECS requests do and the limits hold under any interleaving.
 */
export class MemoryCloud implements CloudProvider {
  readonly kind = 'memory';
  readonly zoneId: string;
  private state: MemoryCloudState;
  private readonly stateFile: string | undefined;
  private readonly clock: Clock;
  private readonly failures: FailureInjector;
  private readonly counts = new Map<MemoryCloudOp, number>();
  private apiLatencyMs = 0;
  private attachLatencyMs = 0;

  constructor(options: MemoryCloudOptions) {
    const limits = lookupInstanceType(options.instanceType);
    if (limits === undefined) {
      throw new TerwayError(
        'INVALID_CONFIG',
        `unknown instance type ${JSON.stringify(options.instanceType)}; ` +
          `the memory cloud knows ${knownInstanceTypes().join(', ')}`,
      );
    }
    let vswitch: VSwitchInfo;
    try {
      vswitch = {
        id: options.vswitchId,
        cidr: parseCidr(options.vswitchCidr),
        zoneId: options.zoneId,
      };
      this.state = new MemoryCloudState(limits, vswitch);
    } catch (cause) {
      if (cause instanceof TerwayError && cause.code === 'INVALID_CONFIG') throw cause;
      throw new TerwayError('INVALID_CONFIG', `vswitchCidr: ${errorMessage(cause)}`, { cause });
    }
    this.zoneId = options.zoneId;
    this.clock = options.clock ?? systemClock;
    this.failures = new FailureInjector(options.failureRate ?? 0, options.random ?? Math.random);
    this.setLatency({
      apiLatencyMs: options.apiLatencyMs ?? 0,
      attachLatencyMs: options.attachLatencyMs ?? 0,
    });
    this.stateFile = options.stateFile;
    if (this.stateFile !== undefined) this.state = loadState(this.stateFile, limits, vswitch);
  }

  async describeInstanceLimits(): Promise<InstanceLimits> {
    await this.begin('describeInstanceLimits');
    return { ...this.state.limits };
  }

  async listEnis(): Promise<EniInfo[]> {
    await this.begin('listEnis');
    return this.state.list();
  }

  async createEni(secondaryIpCount: number): Promise<EniInfo> {
    await this.begin('createEni');
    const created = this.commit((next) =>
      next.createEni(secondaryIpCount, this.freshEniId(), this.freshMac()),
    );
    await this.wait(this.attachLatencyMs);
    return this.commit((next) => next.completeAttach(created.id));
  }

  async assignPrivateIps(eniId: string, count: number): Promise<string[]> {
    await this.begin('assignPrivateIps');
    return this.commit((next) => next.assignPrivateIps(eniId, count));
  }

  async unassignPrivateIps(eniId: string, ips: readonly string[]): Promise<void> {
    await this.begin('unassignPrivateIps');
    this.commit((next) => next.unassignPrivateIps(eniId, ips));
  }

  async deleteEni(eniId: string): Promise<void> {
    await this.begin('deleteEni');
    if (!this.state.hasEni(eniId)) return;
    this.commit((next) => next.deleteEni(eniId));
  }

  // ---- test and operator controls -------------------------------------------------------

  /** Makes the next `times` calls of `op` fail with `code` (after their latency, no change). */
  injectFailure(op: MemoryCloudOp, code: string, times = 1): void {
    this.failures.inject(op, code, times);
  }

  /** Forgets injected failures not yet consumed. */
  clearInjectedFailures(): void {
    this.failures.clear();
  }

  setFailureRate(failureRate: number): void {
    this.failures.setFailureRate(failureRate);
  }

  setLatency(settings: LatencySettings): void {
    for (const [name, value] of Object.entries(settings)) {
      if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
        throw new TerwayError('INVALID_CONFIG', `${name} must be a non-negative number: ${value}`);
      }
    }
    this.apiLatencyMs = settings.apiLatencyMs ?? this.apiLatencyMs;
    this.attachLatencyMs = settings.attachLatencyMs ?? this.attachLatencyMs;
  }

  /** How many times each operation was called, failed calls included. */
  callCounts(): Record<MemoryCloudOp, number> {
    const out = {} as Record<MemoryCloudOp, number>;
    for (const op of MEMORY_CLOUD_OPS) out[op] = this.counts.get(op) ?? 0;
    return out;
  }

  /** Every ENI right now, without latency, failures or counting: for assertions. */
  snapshot(): EniInfo[] {
    return this.state.list();
  }

  /** Addresses the vSwitch can still hand out (VPC DescribeVSwitches AvailableIpAddressCount). */
  availableIpCount(): number {
    return this.state.freeAddresses();
  }

  // ---- internals -------------------------------------------------------------------------

  /** Counts the call, waits the API latency, then fails it if a failure is due. */
  private async begin(op: MemoryCloudOp): Promise<void> {
    this.counts.set(op, (this.counts.get(op) ?? 0) + 1);
    await this.wait(this.apiLatencyMs);
    const code = this.failures.next(op);
    if (code !== undefined) {
      throw new CloudError(code, 'injected failure; nothing was changed', {
        operation: ECS_ACTIONS[op],
        requestId: randomUUID().toUpperCase(),
      });
    }
  }

  /**
   * Applies a mutation to a copy, persists the copy, then swaps it in: a rule violation or a
   * failed write leaves both memory and disk exactly as they were.
   */
  private commit<T>(mutate: (next: MemoryCloudState) => T): T {
    const next = this.state.clone();
    const result = mutate(next);
    if (this.stateFile !== undefined) writeStateFile(this.stateFile, next.toPersisted());
    this.state = next;
    return result;
  }

  /** Zero latency skips the timer, so a FakeClock-driven test need not advance for it. */
  private async wait(ms: number): Promise<void> {
    if (ms > 0) await sleep(this.clock, ms);
  }

  private freshEniId(): string {
    return this.unique(
      () => `eni-${randomBytes(10).toString('hex')}`,
      (id) => this.state.hasEni(id),
    );
  }

  private freshMac(): string {
    return this.unique(
      () => {
        const tail = [...randomBytes(3)].map((byte) => byte.toString(16).padStart(2, '0'));
        return [ALIYUN_MAC_PREFIX, ...tail].join(':');
      },
      (mac) => this.state.hasMac(mac),
    );
  }

  private unique(generate: () => string, taken: (value: string) => boolean): string {
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const value = generate();
      if (!taken(value)) return value;
    }
    throw new TerwayError('INTERNAL', `no unused identifier after ${MAX_ID_ATTEMPTS} attempts`);
  }
}

function loadState(file: string, limits: InstanceLimits, vswitch: VSwitchInfo): MemoryCloudState {
  const persisted = readStateFile(file);
  if (persisted === undefined) return new MemoryCloudState(limits, vswitch);
  try {
    return restoreState(persisted, limits, vswitch);
  } catch (cause) {
    throw corruptStateFile(file, errorMessage(cause), cause);
  }
}

function errorMessage(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
