/**
 * The pool's whole view of the cloud. Cloud-neutral on purpose: the pool never imports an SDK,
 * and every implementation (in-memory, ECS) is interchangeable behind this interface.
 */

/** ENI limits of the node's instance type (ECS DescribeInstanceTypes). */
export interface InstanceLimits {
  instanceType: string;
  /** ENIs the instance may carry, the primary ENI included (ECS `EniQuantity`). */
  eniQuantity: number;
  /** Private IPv4 addresses per ENI, the ENI's own primary IP included
   *  (ECS `EniPrivateIpAddressQuantity`). */
  ipsPerEni: number;
}

/** Cloud-side lifecycle of an ENI, as ECS reports it. */
export type CloudEniStatus = 'Available' | 'Attaching' | 'InUse' | 'Detaching' | 'Deleting';

export interface EniInfo {
  id: string;
  /** Lower-case, colon-separated. */
  mac: string;
  primaryIp: string;
  /** Every private IPv4 on the ENI, primary included. */
  privateIps: string[];
  vswitchId: string;
  /** The vSwitch CIDR, e.g. 192.168.1.0/24: pod IPs take its prefix length. */
  vswitchCidr: string;
  gateway: string;
  status: CloudEniStatus;
}

/** What a provider can say about itself, for `terway-cli show factory`. Cloud-neutral. */
export interface CloudStatus {
  kind: string;
  vswitches: {
    id: string;
    zoneId: string;
    availableIps: number | undefined;
    inhibitedUntilMs: number | undefined;
    reason: string | undefined;
    excluded: string | undefined;
  }[];
  pendingCleanup: string[];
  apis: {
    api: string;
    calls: number;
    throttled: number;
    retried: number;
    errors: number;
    callsPerMinute: number;
    baseCallsPerMinute: number;
    lastError: string | undefined;
  }[];
}

/** The node's own primary NIC, as the cloud sees it. */
export interface NodeAddress {
  primaryIp: string;
  /** Lower-case, colon-separated. */
  primaryMac: string;
}

export interface CloudProvider {
  /** A short name for logs and `terway-cli` (e.g. "memory", "ecs"). */
  readonly kind: string;
  /** Placement, clean-up and API figures; optional because a fake has none. */
  status?(): CloudStatus;
  describeInstanceLimits(): Promise<InstanceLimits>;
  /** The node's primary address; the datapath needs it, the pool does not (a fake may omit it). */
  nodeAddress?(): Promise<NodeAddress>;
  /** The secondary ENIs attached to this node that this daemon owns. Never the primary ENI. */
  listEnis(): Promise<EniInfo[]>;
  /**
   * Creates a secondary ENI with `secondaryIpCount` IPs besides its primary, attaches it to this
   * node and resolves once it is usable. An ENI that fails to attach is deleted, never leaked.
   */
  createEni(secondaryIpCount: number): Promise<EniInfo>;
  /** Adds `count` private IPs to an attached ENI and returns them. */
  assignPrivateIps(eniId: string, count: number): Promise<string[]>;
  /** Removes secondary private IPs from an ENI. IPs already gone are not an error. */
  unassignPrivateIps(eniId: string, ips: readonly string[]): Promise<void>;
  /** Detaches and deletes an ENI. An ENI already gone is not an error. */
  deleteEni(eniId: string): Promise<void>;
}

/** Most IPs a single assign or create call may carry (ECS allows 10 per call). */
export const MAX_IPS_PER_CLOUD_CALL = 10;

/** Cloud error codes the pool reacts to. Providers map their own codes onto these. */
export const CloudErrorCodes = {
  Throttling: 'Throttling',
  InternalError: 'InternalError',
  ServiceUnavailable: 'ServiceUnavailable',
  EniPerInstanceLimitExceeded: 'EniPerInstanceLimitExceeded',
  MaxEniPrivateIpsCountExceeded: 'MaxEniPrivateIpsCountExceeded',
  VSwitchIpNotEnough: 'InvalidVSwitchId.IpNotEnough',
  EniNotFound: 'InvalidEniId.NotFound',
  InvalidEniState: 'InvalidOperation.InvalidEniState',
  /** Not an ECS code: ECS put an attaching ENI back to Available, i.e. the attach failed. */
  EniAttachFailed: 'EniAttachFailed',
} as const;
