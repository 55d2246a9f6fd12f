/**
 * What one emulated instance's metadata service can see: itself only, as a real instance does.
 * The emulator's account state implements `MetadataSource`; the metadata HTTP handler reads it.
 */

/** One network interface as `meta-data/network/interfaces/macs/<mac>/` shows it. */
export interface MetadataNic {
  /** Lower-case, colon-separated. */
  mac: string;
  eniId: string;
  primaryIp: string;
  /** Every private IPv4 on the NIC, primary first. */
  privateIps: string[];
  gateway: string;
  /** Dotted quad, e.g. 255.255.255.0. */
  netmask: string;
  vswitchId: string;
  vswitchCidr: string;
  vpcId: string;
  vpcCidr: string;
}

/** Temporary credentials of the instance's RAM role (`ram/security-credentials/<role>`). */
export interface StsCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  /** ISO 8601, UTC, e.g. 2026-11-25T07:00:00Z. */
  expiration: string;
  lastUpdated: string;
}

export interface MetadataInstanceView {
  instanceId: string;
  instanceType: string;
  regionId: string;
  zoneId: string;
  hostname: string;
  ownerAccountId: string;
  /** The primary NIC first, then the secondary ENIs in InUse state, in attach order. */
  nics: MetadataNic[];
  /** Absent: the instance has no RAM role. */
  ramRoleName?: string;
}

export interface MetadataSource {
  /** Undefined when no such instance exists. */
  instance(instanceId: string): MetadataInstanceView | undefined;
  /**
   * Valid STS credentials of the instance's RAM role, renewed before they expire. The emulator's
   * signature check accepts them (with `x-acs-security-token`) until their expiration.
   */
  roleCredentials(instanceId: string): StsCredentials | undefined;
}
