/**
 * The emulated account: instances, ENIs and vSwitch address pools in one region and VPC, with
 * ECS's rules (ECS-API.md §2.2). No time and no I/O here: the lifecycle module drives the async
 * transitions, and every mutation either applies completely or throws an ApiError having
 * changed nothing, because all checks run before the first write.
 */
import { randomBytes } from 'node:crypto';

import { lookupInstanceTypeSpec } from '../../cloud/instance-types.js';
import type { InstanceTypeSpec } from '../../cloud/instance-types.js';
import { randomAlnum, isoSeconds } from '../auth/sts-issuer.js';
import { ApiError, eniNotFound, invalidEniState } from '../wire/api-error.js';
import type { EniRecord, EniTag, EniType, InstanceRecord, VSwitchSpec } from './account-types.js';
import { VSwitchPool } from './vswitch-pool.js';

/** An unattached ENI holds at most this many secondary IPs (ECS-API.md §2.2). */
export const MAX_SECONDARIES_UNATTACHED = 49;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ID_LENGTH = 20;

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
    const instanceId = spec.instanceId ?? `i-${randomAlnum(ID_LENGTH, ID_ALPHABET)}`;
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
    checkExplicitIps(pool, explicit);
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

  beginAttach(eniId: string, instanceId: string, stuck: boolean): EniRecord {
    const eni = this.eni(eniId);
    const instance = this.requireInstance(instanceId);
    if (eni.status !== 'Available')
      throw invalidEniState(eniId, eni.status, 'AttachNetworkInterface');
    if (eni.zoneId !== instance.zoneId) {
      throw new ApiError(
        403,
        'InvalidOperation.AvailabilityZoneMismatch',
        `ENI ${eniId} is in ${eni.zoneId} but instance ${instanceId} is in ${instance.zoneId}.`,
      );
    }
    if (eni.vpcId !== this.config.vpcId) {
      throw new ApiError(
        403,
        'InvalidOperation.VpcMismatch',
        `ENI ${eniId} and instance ${instanceId} are in different VPCs.`,
      );
    }
    const spec = this.instanceType(instance);
    const attached = this.enisOf(instanceId);
    if (attached.length >= spec.eniQuantity) {
      throw new ApiError(
        403,
        'EniPerInstanceLimitExceeded',
        `The instance type ${spec.instanceType} supports at most ${spec.eniQuantity} ENIs (primary included).`,
      );
    }
    if (eni.privateIps.length > spec.ipsPerEni) {
      throw new ApiError(
        403,
        'MaxEniPrivateIpsCountExceeded',
        `ENI ${eniId} has ${eni.privateIps.length} private IPs; ${spec.instanceType} allows ${spec.ipsPerEni} per ENI.`,
      );
    }
    const used = new Set(attached.map((e) => e.deviceIndex));
    let deviceIndex = 1;
    while (used.has(deviceIndex)) deviceIndex++;
    eni.status = 'Attaching';
    eni.instanceId = instanceId;
    eni.deviceIndex = deviceIndex;
    if (stuck) eni.stuck = true;
    this.changed();
    return eni;
  }

  /** Attaching → InUse; false when the ENI moved on meanwhile (deleted, force-detached). */
  completeAttach(eniId: string): EniRecord | undefined {
    const eni = this.enis.get(eniId);
    if (eni === undefined || eni.status !== 'Attaching' || eni.stuck) return undefined;
    eni.status = 'InUse';
    eni.attachedSeq = this.nextSeq++;
    this.changed();
    return eni;
  }

  /** InUse → Detaching; returns whether the ENI was InUse (Detaching again is accepted). */
  beginDetach(eniId: string, instanceId: string): boolean {
    const eni = this.eni(eniId);
    this.requireInstance(instanceId);
    if (eni.type === 'Primary') {
      throw new ApiError(
        400,
        'InvalidOperation.DetachPrimaryEniNotAllowed',
        `ENI ${eniId} is the primary ENI of ${instanceId} and cannot be detached.`,
      );
    }
    if (eni.status !== 'InUse' && eni.status !== 'Detaching')
      throw invalidEniState(eniId, eni.status, 'DetachNetworkInterface');
    if (eni.instanceId !== instanceId) {
      throw new ApiError(
        400,
        'InvalidOperation.InvalidEniState',
        `ENI ${eniId} is not attached to instance ${instanceId}.`,
      );
    }
    const wasInUse = eni.status === 'InUse';
    eni.status = 'Detaching';
    this.changed();
    return wasInUse;
  }

  completeDetach(eniId: string): EniRecord | undefined {
    const eni = this.enis.get(eniId);
    if (eni === undefined || eni.status !== 'Detaching') return undefined;
    this.makeAvailable(eni);
    this.changed();
    return eni;
  }

  beginDelete(eniId: string): EniRecord {
    const eni = this.eni(eniId);
    if (eni.type === 'Primary') {
      throw new ApiError(
        403,
        'InvalidOperation.InvalidEniType',
        `ENI ${eniId} is a primary ENI and cannot be deleted.`,
      );
    }
    if (eni.status !== 'Available')
      throw invalidEniState(eniId, eni.status, 'DeleteNetworkInterface');
    eni.status = 'Deleting';
    this.changed();
    return eni;
  }

  completeDelete(eniId: string): void {
    const eni = this.enis.get(eniId);
    if (eni === undefined || eni.status !== 'Deleting') return;
    this.pool(eni.vswitchId).release(eni.privateIps);
    this.enis.delete(eniId);
    this.changed();
  }

  /** Out of band (admin): the ENI ends Available whatever phase it was in. */
  forceDetach(eniId: string): { wasInUse: boolean; instanceId?: string } {
    const eni = this.eni(eniId);
    if (eni.type === 'Primary') throw new Error(`${eniId} is a primary ENI`);
    const wasInUse = eni.status === 'InUse';
    const instanceId = eni.instanceId;
    if (eni.status === 'Deleting') throw new Error(`${eniId} is being deleted`);
    this.makeAvailable(eni);
    this.changed();
    return { wasInUse, ...(instanceId === undefined ? {} : { instanceId }) };
  }

  private makeAvailable(eni: EniRecord): void {
    eni.status = 'Available';
    delete eni.instanceId;
    delete eni.deviceIndex;
    delete eni.attachedSeq;
    delete eni.stuck;
  }

  // ---- private IPs ----

  assignIps(eniId: string, request: { count?: number; explicit?: string[] }): string[] {
    const eni = this.eni(eniId);
    if (eni.status !== 'Available' && eni.status !== 'InUse')
      throw invalidEniState(eniId, eni.status, 'AssignPrivateIpAddresses');
    const adding = request.explicit?.length ?? request.count ?? 0;
    const limit = this.ipLimit(eni);
    if (eni.privateIps.length + adding > limit) {
      throw new ApiError(
        403,
        'MaxEniPrivateIpsCountExceeded',
        `ENI ${eniId} has ${eni.privateIps.length} private IPs; ${adding} more would exceed its limit of ${limit}.`,
      );
    }
    const pool = this.pool(eni.vswitchId);
    let ips: string[];
    if (request.explicit !== undefined) {
      checkExplicitIps(pool, request.explicit);
      pool.take(request.explicit);
      ips = [...request.explicit];
    } else {
      ips = pool.allocate(adding);
    }
    eni.privateIps.push(...ips);
    this.changed();
    return ips;
  }

  /** Private IPs the ENI may carry, its primary included. */
  ipLimit(eni: EniRecord): number {
    const instance =
      eni.status === 'InUse' && eni.instanceId !== undefined
        ? this.instances.get(eni.instanceId)
        : undefined;
    return instance === undefined
      ? 1 + MAX_SECONDARIES_UNATTACHED
      : this.instanceType(instance).ipsPerEni;
  }

  unassignIps(eniId: string, ips: readonly string[]): void {
    const eni = this.eni(eniId);
    if (eni.status !== 'Available' && eni.status !== 'InUse')
      throw invalidEniState(eniId, eni.status, 'UnassignPrivateIpAddresses');
    if (ips.includes(eni.privateIps[0] ?? '')) {
      throw new ApiError(
        400,
        'InvalidParameter',
        `The primary private IP address ${eni.privateIps[0]} of ENI ${eniId} cannot be unassigned.`,
      );
    }
    for (const ip of ips) {
      if (!eni.privateIps.includes(ip)) {
        throw new ApiError(
          403,
          'InvalidIp.IpUnassigned',
          `The IP ${ip} is not assigned to ENI ${eniId}.`,
        );
      }
    }
    const removing = new Set(ips);
    eni.privateIps = eni.privateIps.filter((ip) => !removing.has(ip));
    this.pool(eni.vswitchId).release([...removing]);
    this.changed();
  }

  /** Out of band (admin): an IP vanishes from the ENI as if another client unassigned it. */
  removePrivateIp(eniId: string, ip: string): void {
    this.unassignIps(eniId, [ip]);
  }

  /** Out of band (admin): an IP appears, whatever the ENI's state and limits. */
  addPrivateIp(eniId: string): string {
    const eni = this.eni(eniId);
    const [ip] = this.pool(eni.vswitchId).allocate(1);
    if (ip === undefined) throw new Error('allocation returned nothing');
    eni.privateIps.push(ip);
    this.changed();
    return ip;
  }

  // ---- persistence ----

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

  private requireInstance(instanceId: string): InstanceRecord {
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
      const id = `eni-${randomAlnum(ID_LENGTH, ID_ALPHABET)}`;
      if (!this.enis.has(id)) return id;
    }
  }

  private newMac(): string {
    for (;;) {
      const tail = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      const mac = `00:16:3e:${tail}`;
      if (!this.macs.has(mac)) {
        this.macs.add(mac);
        return mac;
      }
    }
  }
}

/** Explicit addresses must be distinct, inside the vSwitch and free; checked before any write. */
function checkExplicitIps(pool: VSwitchPool, ips: readonly string[]): void {
  const seen = new Set<string>();
  for (const ip of ips) {
    if (seen.has(ip))
      throw new ApiError(403, 'InvalidIp.IpRepeated', `The IP ${ip} is specified more than once.`);
    seen.add(ip);
    const problem = pool.checkExplicit(ip);
    if (problem !== undefined) throw problem;
  }
}

/** ECS writes CreationTime to the minute: 2026-11-25T01:15Z. */
function isoMinutes(ms: number): string {
  return isoSeconds(ms).replace(/:\d{2}Z$/, 'Z');
}
