/**
 * Typed reads of the ECS instance metadata service (100.100.100.200): who this instance is, its
 * NICs as the guest sees them, and its RAM role's credentials. The pool polls `nicIfPresent`
 * after an attach until the new MAC shows up (POOL.md), so "not there yet" is a value, not an
 * error.
 */
import { TerwayError } from '../../errors/terway-error.js';
import { isMetadataError, MetadataErrorCodes } from './metadata-error.js';
import {
  isMac,
  normalizeMac,
  parseId,
  parseIpv4,
  parseIpv4Cidr,
  parseIpv4List,
  parseMac,
  parseMacList,
  parseRoleCredentials,
  parseRoleName,
} from './metadata-parse.js';
import type { RoleCredentials } from './metadata-parse.js';
import { MetadataTransport } from './metadata-transport.js';
import type { MetadataTransportOptions } from './metadata-transport.js';

export type { RoleCredentials } from './metadata-parse.js';

export const PRODUCTION_METADATA_URL = 'http://100.100.100.200';
const META_DATA_ROOT = '/latest/meta-data/';
const MACS_DIR = 'network/interfaces/macs/';
const ROLE_DIR = 'ram/security-credentials/';

/**
 * `baseUrl` is `http://100.100.100.200` in production and the emulator's `metadataUrl(instanceId)`
 * in tests. Defaults: token TTL 21600 s, request timeout 2000 ms, 3 retries.
 */
export type MetadataClientOptions = MetadataTransportOptions;

/** One NIC as the instance sees it (`network/interfaces/macs/<mac>/`). */
export interface MetadataNicInfo {
  /** Lower-case, colon-separated. */
  mac: string;
  eniId: string;
  primaryIp: string;
  gateway: string;
  netmask: string;
  /** Every private IPv4 on the NIC, primary included. */
  privateIps: string[];
  vswitchId: string;
  vswitchCidr: string;
}

export class MetadataClient {
  private readonly transport: MetadataTransport;

  constructor(options: MetadataClientOptions) {
    this.transport = new MetadataTransport(options);
  }

  /** Raw text of `path`, relative to `/latest/meta-data/` (e.g. `instance-id`). */
  get(path: string): Promise<string> {
    return this.transport.get(metaDataPath(path));
  }

  instanceId(): Promise<string> {
    return this.read('instance-id', parseId);
  }

  regionId(): Promise<string> {
    return this.read('region-id', parseId);
  }

  zoneId(): Promise<string> {
    return this.read('zone-id', parseId);
  }

  instanceType(): Promise<string> {
    return this.read('instance/instance-type', parseId);
  }

  vpcId(): Promise<string> {
    return this.read('vpc-id', parseId);
  }

  vswitchId(): Promise<string> {
    return this.read('vswitch-id', parseId);
  }

  /** The MAC of eth0, the primary NIC. */
  primaryMac(): Promise<string> {
    return this.read('mac', parseMac);
  }

  /** Every NIC on the instance, primary included; lower-case, no trailing `/`. */
  macs(): Promise<string[]> {
    return this.read(MACS_DIR, parseMacList);
  }

  async nic(mac: string): Promise<MetadataNicInfo> {
    const dir = nicDir(mac);
    const [eniId, primaryIp, gateway, netmask, privateIps, vswitchId, vswitchCidr] =
      await Promise.all([
        this.read(`${dir}network-interface-id`, parseId),
        this.read(`${dir}primary-ip-address`, parseIpv4),
        this.read(`${dir}gateway`, parseIpv4),
        this.read(`${dir}netmask`, parseIpv4),
        this.read(`${dir}private-ipv4s`, parseIpv4List),
        this.read(`${dir}vswitch-id`, parseId),
        this.read(`${dir}vswitch-cidr-block`, parseIpv4Cidr),
      ]);
    return {
      mac: normalizeMac(mac),
      eniId,
      primaryIp,
      gateway,
      netmask,
      privateIps,
      vswitchId,
      vswitchCidr,
    };
  }

  /** Undefined (not an error) when the MAC is not on the instance: an attach not yet visible. */
  async nicIfPresent(mac: string): Promise<MetadataNicInfo | undefined> {
    const present = (await this.macs()).includes(nicMac(mac));
    if (!present) return undefined;
    try {
      return await this.nic(mac);
    } catch (error) {
      // Detached between the listing and the reads: as absent as if the listing had said so.
      if (isMetadataError(error, MetadataErrorCodes.NotFound)) return undefined;
      throw error;
    }
  }

  /** The instance's RAM role, or undefined when it has none. */
  async ramRoleName(): Promise<string | undefined> {
    try {
      return await this.read(ROLE_DIR, parseRoleName);
    } catch (error) {
      if (isMetadataError(error, MetadataErrorCodes.NotFound)) return undefined;
      throw error;
    }
  }

  /** The role's current STS credentials. Never log the result. */
  async ramRoleCredentials(role: string): Promise<RoleCredentials> {
    if (!/^[\x21-\x7e]+$/.test(role) || role.includes('/')) {
      throw new TerwayError('INVALID_ARGUMENT', `not a RAM role name: ${JSON.stringify(role)}`);
    }
    return this.read(`${ROLE_DIR}${encodeURIComponent(role)}`, parseRoleCredentials);
  }

  private async read<T>(path: string, parse: (path: string, body: string) => T): Promise<T> {
    const fullPath = metaDataPath(path);
    return parse(fullPath, await this.transport.get(fullPath));
  }
}

function metaDataPath(path: string): string {
  return `${META_DATA_ROOT}${path.replace(/^\/+/, '')}`;
}

function nicMac(mac: string): string {
  const normalized = normalizeMac(mac);
  if (!isMac(normalized)) {
    throw new TerwayError('INVALID_ARGUMENT', `not a MAC address: ${JSON.stringify(mac)}`);
  }
  return normalized;
}

function nicDir(mac: string): string {
  return `${MACS_DIR}${nicMac(mac)}/`;
}
