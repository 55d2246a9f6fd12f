/**
 * The emulated account: instances, ENIs and vSwitch address pools in one region and VPC, with
 * ECS's rules (ECS-API.md §2.2). No time and no I/O here: the lifecycle module drives the async
 * transitions, and every mutation either applies completely or throws an ApiError having
 * changed nothing, because all checks run before the first write.
 */
import { lookupInstanceTypeSpec } from '../../cloud/instance-types.js';
import type { InstanceTypeSpec } from '../../cloud/instance-types.js';
import { ApiError, eniNotFound } from '../wire/api-error.js';
import type { EniRecord, EniTag, EniType, InstanceRecord, VSwitchSpec } from './account-types.js';
import { isoMinutes, randomEniId, randomInstanceId, randomMac } from './resource-ids.js';
import { VSwitchPool } from './vswitch-pool.js';

export interface AccountConfig {
  regionId: string;
  vpcId: string;
  vpcCidr: string;
  vswitches: readonly VSwitchSpec[];
  securityGroupIds: readonly string[];
  ownerAccountId: string;
}

export interface NewEni {
  vswitchId: string;
  securityGroupIds: string[];
  primaryIp?: string;
  secondaryIps?: string[];
  secondaryCount?: number;
  tags: EniTag[];
  name: string;
  description: string;
  deleteOnRelease: boolean;
  type: EniType;
}

export interface NewInstance {
  instanceId?: string;
  instanceType: string;
  zoneId?: string;
  vswitchId?: string;
  ramRoleName?: string;
  hostname?: string;
}

export class AccountState {
  readonly vswitches: ReadonlyMap<string, VSwitchPool>;
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly enis = new Map<string, EniRecord>();
  private readonly macs = new Set<string>();
  private nextSeq = 1;
  private listener: () => void = () => {};

  constructor(
    readonly config: AccountConfig,
    private readonly now: () => number,
  ) {
    if (config.vswitches.length === 0) throw new Error('the emulator needs at least one vSwitch');
    this.vswitches = new Map(
      config.vswitches.map((v) => [v.vswitchId, new VSwitchPool(v.vswitchId, v.zoneId, v.cidr)]),
    );
  }

  /** Called after every committed mutation (persistence hangs here). */
  onChange(listener: () => void): void {
    this.listener = listener;
  }

  changed(): void {
    this.listener();
  }

  // ---- reads ----

  eni(id: string): EniRecord {
    const eni = this.enis.get(id);
    if (eni === undefined) throw eniNotFound(id);
    return eni;
  }

  findEni(id: string): EniRecord | undefined {
    return this.enis.get(id);
  }

  /** Every ENI in creation order. */
  allEnis(): EniRecord[] {
    return [...this.enis.values()].sort((a, b) => a.seq - b.seq);
  }

  instance(id: string): InstanceRecord | undefined {
    return this.instances.get(id);
  }

  allInstances(): InstanceRecord[] {
    return [...this.instances.values()].sort((a, b) => a.seq - b.seq);
  }

  /** ENIs on the instance in any attach phase, primary included. */
  enisOf(instanceId: string): EniRecord[] {
    return this.allEnis().filter((eni) => eni.instanceId === instanceId);
  }

  instanceType(instance: InstanceRecord): InstanceTypeSpec {
    const spec = lookupInstanceTypeSpec(instance.instanceType);
    if (spec === undefined) throw new Error(`unknown instance type ${instance.instanceType}`);
    return spec;
  }

  pool(vswitchId: string): VSwitchPool {
    const pool = this.vswitches.get(vswitchId);
    if (pool === undefined) {
      throw new ApiError(
        404,
        'InvalidVSwitchId.NotFound',
        `The specified VSwitchId ${vswitchId} does not exist.`,
      );
    }
    return pool;
  }

  // ---- instances ----

  addInstance(spec: NewInstance): InstanceRecord {
    if (lookupInstanceTypeSpec(spec.instanceType) === undefined) {
      throw new ApiError(
        404,
        'InvalidInstanceType.NotFound',
        `The instance type ${spec.instanceType} is not known to the emulator.`,
      );
    }
    const pool = this.pickVSwitch(spec.vswitchId, spec.zoneId);
    const instanceId = spec.instanceId ?? randomInstanceId();
    if (this.instances.has(instanceId)) {
      throw new ApiError(
        400,
        'InvalidInstanceId.Duplicated',
        `Instance ${instanceId} already exists.`,
      );
    }
    const securityGroupIds = [this.config.securityGroupIds[0] ?? 'sg-emulator0'];
    const primary = this.createEni({
      vswitchId: pool.vswitchId,
      securityGroupIds,
      tags: [],
      name: '',
      description: '',
      deleteOnRelease: true,
      type: 'Primary',
    });
    primary.status = 'InUse';
    primary.instanceId = instanceId;
    primary.deviceIndex = 0;
    primary.attachedSeq = primary.seq;
    const instance: InstanceRecord = {
      instanceId,
      seq: this.nextSeq++,
      instanceType: spec.instanceType,
      zoneId: pool.zoneId,
      vswitchId: pool.vswitchId,
      primaryEniId: primary.id,
      hostname: spec.hostname ?? `iZ${instanceId.slice(2)}Z`,
      ...(spec.ramRoleName === undefined ? {} : { ramRoleName: spec.ramRoleName }),
      securityGroupIds,
      creationTime: isoMinutes(this.now()),
    };
    this.instances.set(instanceId, instance);
    this.changed();
    return instance;
  }

  private pickVSwitch(vswitchId: string | undefined, zoneId: string | undefined): VSwitchPool {
    if (vswitchId !== undefined) {
      const pool = this.pool(vswitchId);
      if (zoneId !== undefined && pool.zoneId !== zoneId) {
        throw new ApiError(
          403,
          'InvalidOperation.AvailabilityZoneMismatch',
          `VSwitch ${vswitchId} is not in zone ${zoneId}.`,
        );
      }
      return pool;
    }
    for (const pool of this.vswitches.values())
      if (zoneId === undefined || pool.zoneId === zoneId) return pool;
    throw new ApiError(404, 'InvalidVSwitchId.NotFound', `No vSwitch in zone ${zoneId}.`);
  }

  // ---- ENIs ----

  createEni(input: NewEni): EniRecord {
    const pool = this.pool(input.vswitchId);
    for (const group of input.securityGroupIds) {
      if (!this.config.securityGroupIds.includes(group)) {
        throw new ApiError(
          404,
          'InvalidSecurityGroupId.NotFound',
          `The specified SecurityGroupId ${group} does not exist.`,
        );
      }
    }
    const explicit = [
      ...(input.primaryIp === undefined ? [] : [input.primaryIp]),
      ...(input.secondaryIps ?? []),
    ];
    pool.checkExplicitAll(explicit);
    const fresh = (input.primaryIp === undefined ? 1 : 0) + (input.secondaryCount ?? 0);
    // Explicit addresses are taken first so the fresh allocation cannot hand one of them out.
    pool.take(explicit);
    let allocated: string[];
    try {
      allocated = pool.allocate(fresh);
    } catch (error) {
      pool.release(explicit);
      throw error;
    }
    const primaryIp = input.primaryIp ?? allocated.shift() ?? '';
    const eni: EniRecord = {
      id: this.newEniId(),
      seq: this.nextSeq++,
      type: input.type,
      status: 'Available',
      mac: this.newMac(),
      vswitchId: pool.vswitchId,
      vpcId: this.config.vpcId,
      zoneId: pool.zoneId,
      privateIps: [primaryIp, ...(input.secondaryIps ?? []), ...allocated],
      securityGroupIds: [...input.securityGroupIds],
      tags: input.tags.map((tag) => ({ ...tag })),
      name: input.name,
      description: input.description,
      deleteOnRelease: input.deleteOnRelease,
      creationTime: isoMinutes(this.now()),
    };
    this.enis.set(eni.id, eni);
    this.changed();
    return eni;
  }

  /** Forgets a deleted ENI and returns its addresses to the vSwitch. */
  removeEni(eniId: string): void {
    const eni = this.enis.get(eniId);
    if (eni === undefined) return;
    this.pool(eni.vswitchId).release(eni.privateIps);
    this.enis.delete(eniId);
  }

  /** A fresh ordering number (creation order, attach order). */
  nextSequence(): number {
    return this.nextSeq++;
  }

  // ---- persistence (private IPs: see private-ips.ts) ----

  restore(records: {
    instances: InstanceRecord[];
    enis: EniRecord[];
    nextSeq: number;
    cursors: Record<string, string>;
  }): void {
    for (const instance of records.instances)
      this.instances.set(instance.instanceId, { ...instance });
    for (const eni of records.enis) {
      const copy: EniRecord = {
        ...eni,
        privateIps: [...eni.privateIps],
        tags: eni.tags.map((t) => ({ ...t })),
      };
      this.enis.set(copy.id, copy);
      this.macs.add(copy.mac);
      this.pool(copy.vswitchId).take(copy.privateIps);
    }
    for (const [vswitchId, ip] of Object.entries(records.cursors))
      this.vswitches.get(vswitchId)?.restoreCursor(ip);
    this.nextSeq = Math.max(this.nextSeq, records.nextSeq);
  }

  cursors(): Record<string, string> {
    return Object.fromEntries(
      [...this.vswitches.values()].map((pool) => [pool.vswitchId, pool.cursorIp()]),
    );
  }

  sequence(): number {
    return this.nextSeq;
  }

  /** The instance, or ECS's InvalidInstanceId.NotFound (403 in the Attach/Detach tables). */
  requireInstance(instanceId: string): InstanceRecord {
    const instance = this.instances.get(instanceId);
    if (instance === undefined) {
      throw new ApiError(
        403,
        'InvalidInstanceId.NotFound',
        `The specified InstanceId ${instanceId} does not exist.`,
      );
    }
    return instance;
  }

  private newEniId(): string {
    for (;;) {
      const id = randomEniId();
      if (!this.enis.has(id)) return id;
    }
  }

  private newMac(): string {
    for (;;) {
      const mac = randomMac();
      if (!this.macs.has(mac)) {
        this.macs.add(mac);
        return mac;
      }
    }
  }
}
