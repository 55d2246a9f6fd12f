/**
 * The pool's `CloudProvider` on real ECS (or the emulator, which the SDK cannot tell apart).
 * Lifecycle rules, from Terway and from where its users got hurt:
 *  - an ENI's IPs are handed out only once ECS says InUse *and* metadata shows the MAC and IPs,
 *    because the datapath needs the link and the VPC needs the addresses;
 *  - an ENI that was created but could not be attached is deleted, never leaked; if even that
 *    fails, the janitor keeps trying;
 *  - ENIs not ours (by tag) are never listed, so never touched.
 */
import type { Logger } from 'pino';

import { CloudError, isCloudError } from '../cloud-error.js';
import type {
  CloudProvider,
  CloudStatus,
  EniInfo,
  InstanceLimits,
  NodeAddress,
} from '../provider.js';
import { CloudErrorCodes } from '../provider.js';
import type { Clock } from '../../util/clock.js';
import type { ApiStats } from './api-caller.js';
import type { CloudEni, EcsApi } from './ecs-api.js';
import { describeEni } from './ecs-api.js';
import { EniAttacher } from './eni-attacher.js';
import { LeakedEniJanitor } from './leaked-eni-janitor.js';
import type { NodeIdentity, NodeMetadata } from './node-identity.js';
import { isOwnedEni, ownedEniTags } from './node-identity.js';
import { SecurityGroupLookup } from './security-group-lookup.js';
import type { VSwitchSelector } from './vswitch-selector.js';

/** ECS attaches in seconds; a minute covers a slow region without hiding a stuck attach. */
export const DEFAULT_ATTACH_TIMEOUT_MS = 60_000;
export const DEFAULT_DETACH_TIMEOUT_MS = 60_000;
/** Terway polls metadata for 10 s after an attach or assign. */
export const DEFAULT_METADATA_TIMEOUT_MS = 10_000;
const ENI_DESCRIPTION = 'interface created by terway-node';
/** ECS's own codes for "already gone" on the calls where gone is success. */
const IP_ALREADY_UNASSIGNED = 'InvalidIp.IpUnassigned';

export interface AliyunCloudTimings {
  attachTimeoutMs: number;
  detachTimeoutMs: number;
  metadataTimeoutMs: number;
}

export interface AliyunCloudOptions {
  api: EcsApi;
  metadata: NodeMetadata;
  identity: NodeIdentity;
  vswitches: VSwitchSelector;
  /** Empty: the instance's own security groups. */
  securityGroupIds: string[];
  eniTags: Record<string, string>;
  eniTagFilter: Record<string, string>;
  resourceGroupId?: string | undefined;
  clock: Clock;
  log: Logger;
  timings?: Partial<AliyunCloudTimings>;
  /** Shown by `terway-cli`, e.g. "ecs (embedded emulator)". */
  kindLabel?: string;
  /** Per-API figures from the call wrapper. */
  apiStats?: () => ApiStats[];
  /** Jitter of the security-group lookup's retries, [0, 1). */
  random?: () => number;
}

export class AliyunCloud implements CloudProvider {
  readonly kind = 'ecs';
  private readonly api: EcsApi;
  private readonly identity: NodeIdentity;
  private readonly timings: AliyunCloudTimings;
  private readonly janitor: LeakedEniJanitor;
  private readonly attacher: EniAttacher;
  private limits: InstanceLimits | undefined;
  /** MAC and vSwitch of ENIs we listed or created: saves a Describe per assign. */
  private readonly known = new Map<string, { mac: string; vswitchId: string }>();
  private readonly securityGroups: SecurityGroupLookup;

  constructor(private readonly options: AliyunCloudOptions) {
    this.api = options.api;
    this.identity = options.identity;
    this.timings = {
      attachTimeoutMs: DEFAULT_ATTACH_TIMEOUT_MS,
      detachTimeoutMs: DEFAULT_DETACH_TIMEOUT_MS,
      metadataTimeoutMs: DEFAULT_METADATA_TIMEOUT_MS,
      ...options.timings,
    };
    this.attacher = new EniAttacher({
      api: this.api,
      metadata: options.metadata,
      instanceId: this.identity.instanceId,
      clock: options.clock,
      log: options.log,
      attachTimeoutMs: this.timings.attachTimeoutMs,
      metadataTimeoutMs: this.timings.metadataTimeoutMs,
    });
    this.janitor = new LeakedEniJanitor({
      api: this.api,
      identity: this.identity,
      clock: options.clock,
      log: options.log,
      detachTimeoutMs: this.timings.detachTimeoutMs,
      eniTagFilter: options.eniTagFilter,
    });
    this.securityGroups = new SecurityGroupLookup({
      configured: options.securityGroupIds,
      describe: async () =>
        (await this.api.describeInstance(this.identity.instanceId)).securityGroupIds,
      clock: options.clock,
      log: options.log,
      random: options.random ?? Math.random,
    });
  }

  /** Deletes ENIs a previous run created for this node but never got attached. */
  async reclaimLeakedEnis(): Promise<void> {
    await this.janitor.sweepTagged();
  }

  /**
   * Looks up the instance's security groups at start-up rather than inside the first pod's
   * wait. Best effort: a failed lookup retries on its own (logged there), and creates wait for it.
   */
  async prepare(): Promise<void> {
    try {
      await this.securityGroups.get();
    } catch {
      // Already logged with the retry delay; start-up does not wait for ECS to recover.
    }
  }

  /** Stops the timers; in-flight cloud calls finish on their own. */
  close(): void {
    this.janitor.close();
    this.securityGroups.close();
  }

  async nodeAddress(): Promise<NodeAddress> {
    const primaryMac = this.identity.primaryMac;
    const nic = await this.options.metadata.nicIfPresent(primaryMac);
    if (nic === undefined) {
      throw new CloudError(
        'InvalidMetadata',
        `metadata lists no NIC for the primary MAC ${primaryMac}`,
      );
    }
    return { primaryIp: nic.primaryIp, primaryMac };
  }

  async describeInstanceLimits(): Promise<InstanceLimits> {
    this.limits ??= await this.api.describeInstanceType(this.identity.instanceType);
    return { ...this.limits };
  }

  async listEnis(): Promise<EniInfo[]> {
    const cloudEnis = await this.api.describeNetworkInterfaces({
      instanceId: this.identity.instanceId,
      type: 'Secondary',
    });
    const out: EniInfo[] = [];
    for (const eni of cloudEnis) {
      if (eni.status !== 'InUse' || eni.mac === this.identity.primaryMac) continue;
      if (!isOwnedEni(eni.tags, this.options.eniTagFilter)) continue;
      // Not in metadata yet: the link may not exist yet either, so it waits for the next listing.
      const nic = await this.options.metadata.nicIfPresent(eni.mac);
      if (nic === undefined) continue;
      out.push(toEniInfo(eni, nic.gateway, nic.vswitchCidr));
      this.known.set(eni.id, { mac: eni.mac, vswitchId: eni.vswitchId });
    }
    return out;
  }

  async createEni(secondaryIpCount: number): Promise<EniInfo> {
    // Before the hold: a lookup that waits out throttling must not keep sweeps away meanwhile.
    const securityGroupIds = await this.securityGroups.get();
    // A sweep lists unattached ENIs of this node to delete them; one we are about to attach
    // must not be among them, so creates and sweeps never overlap.
    const release = await this.janitor.holdSweeps();
    try {
      return await this.createAndAttach(secondaryIpCount, securityGroupIds);
    } finally {
      release();
    }
  }

  private async createAndAttach(
    secondaryIpCount: number,
    securityGroupIds: string[],
  ): Promise<EniInfo> {
    const created = await this.createInSomeVSwitch(secondaryIpCount, securityGroupIds);
    const { log } = this.options;
    try {
      const { eni: attached, nic } = await this.attacher.attach(created.id);
      this.known.set(attached.id, { mac: attached.mac, vswitchId: attached.vswitchId });
      log.info(
        { eniId: attached.id, mac: attached.mac, ips: attached.privateIps.length },
        'ENI created, attached and visible in metadata',
      );
      return toEniInfo(attached, nic.gateway, nic.vswitchCidr);
    } catch (error) {
      log.warn(
        { eniId: created.id, err: error },
        'ENI could not be attached; deleting it so it does not leak',
      );
      await this.janitor.dispose(created.id);
      throw error;
    }
  }

  async assignPrivateIps(eniId: string, count: number): Promise<string[]> {
    const eni = this.known.get(eniId) ?? (await this.describeKnown(eniId));
    // Asking an exhausted vSwitch again only burns the account's shared API budget.
    const inhibited = this.options.vswitches.inhibitedReason(eni.vswitchId);
    if (inhibited !== undefined) {
      throw new CloudError(
        CloudErrorCodes.VSwitchIpNotEnough,
        `vSwitch ${eni.vswitchId} of ${eniId} is skipped after running out of IPs: ${inhibited}`,
        { operation: 'AssignPrivateIpAddresses' },
      );
    }
    try {
      const ips = await this.api.assignPrivateIpAddresses(eniId, count);
      await this.attacher.waitForMetadata(eni.mac, ips, eniId, 'soft');
      return ips;
    } catch (error) {
      this.noteExhaustion(error, eni.vswitchId);
      throw error;
    }
  }

  async unassignPrivateIps(eniId: string, ips: readonly string[]): Promise<void> {
    if (ips.length === 0) return;
    try {
      await this.api.unassignPrivateIpAddresses(eniId, ips);
    } catch (error) {
      if (isCloudError(error, CloudErrorCodes.EniNotFound)) return;
      if (!isCloudError(error, IP_ALREADY_UNASSIGNED)) throw error;
      // Some were already gone (removed out of band): unassign only those still there.
      const eni = await describeEni(this.api, eniId);
      const still = ips.filter(
        (ip) => eni?.privateIps.includes(ip) === true && ip !== eni.primaryIp,
      );
      if (still.length > 0) await this.api.unassignPrivateIpAddresses(eniId, still);
    }
  }

  async deleteEni(eniId: string): Promise<void> {
    await this.janitor.detachAndDelete(eniId);
    this.known.delete(eniId);
  }

  /** vSwitch inhibits, pending clean-ups and API figures, for `terway-cli`. */
  status(): CloudStatus {
    return {
      kind: this.options.kindLabel ?? this.kind,
      vswitches: this.options.vswitches.status().map((vsw) => ({
        id: vsw.vswitchId,
        zoneId: vsw.zoneId,
        availableIps: vsw.availableIpCount,
        inhibitedUntilMs: vsw.inhibitedUntil,
        reason: vsw.reason,
        excluded: vsw.excluded,
      })),
      pendingCleanup: this.janitor.pending(),
      apis: (this.options.apiStats?.() ?? []).map((api) => ({
        api: api.api,
        calls: api.calls,
        throttled: api.throttled,
        retried: api.retried,
        errors: api.errors,
        callsPerMinute: api.rateLimit.callsPerMinute,
        baseCallsPerMinute: api.rateLimit.baseCallsPerMinute,
        lastError:
          api.lastError === undefined
            ? undefined
            : `${api.lastError.code}: ${api.lastError.message}`,
      })),
    };
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Tries the selector's choices until a create succeeds; an exhausted vSwitch is inhibited. */
  private async createInSomeVSwitch(
    secondaryIpCount: number,
    securityGroupIds: string[],
  ): Promise<CloudEni> {
    for (;;) {
      const vswitch = await this.options.vswitches.pick();
      try {
        return await this.api.createNetworkInterface({
          vswitchId: vswitch.vswitchId,
          securityGroupIds,
          secondaryIpCount,
          tags: ownedEniTags(
            this.options.eniTags,
            this.options.eniTagFilter,
            this.identity.instanceId,
          ),
          description: ENI_DESCRIPTION,
          ...(this.options.resourceGroupId === undefined
            ? {}
            : { resourceGroupId: this.options.resourceGroupId }),
        });
      } catch (error) {
        if (!this.noteExhaustion(error, vswitch.vswitchId)) throw error;
        // Inhibited now; pick() throws once every candidate is, which ends the loop.
      }
    }
  }

  private noteExhaustion(error: unknown, vswitchId: string | undefined): boolean {
    if (!isCloudError(error, CloudErrorCodes.VSwitchIpNotEnough) || vswitchId === undefined) {
      return false;
    }
    this.options.vswitches.markExhausted(vswitchId, error.message);
    return true;
  }

  private async describeKnown(eniId: string): Promise<{ mac: string; vswitchId: string }> {
    const eni = await describeEni(this.api, eniId);
    if (eni === undefined) {
      throw new CloudError(CloudErrorCodes.EniNotFound, `no ENI ${eniId}`, {
        operation: 'DescribeNetworkInterfaces',
      });
    }
    const known = { mac: eni.mac, vswitchId: eni.vswitchId };
    this.known.set(eniId, known);
    return known;
  }
}

function toEniInfo(eni: CloudEni, gateway: string, vswitchCidr: string): EniInfo {
  return {
    id: eni.id,
    mac: eni.mac,
    primaryIp: eni.primaryIp,
    privateIps: [...eni.privateIps],
    vswitchId: eni.vswitchId,
    vswitchCidr,
    gateway,
    status: 'InUse',
  };
}
