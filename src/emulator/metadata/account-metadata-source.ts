/**
 * The metadata view of one emulated instance, read live from the account state: its own NICs
 * only (primary first, then secondary ENIs once InUse, in attach order) and its RAM role's
 * credentials from the same STS issuer the request authenticator trusts.
 */
import type { StsIssuer } from '../auth/sts-issuer.js';
import type { AccountState } from '../state/account-state.js';
import type { EniRecord } from '../state/account-types.js';
import type {
  MetadataInstanceView,
  MetadataNic,
  MetadataSource,
  StsCredentials,
} from './metadata-source.js';

export class AccountMetadataSource implements MetadataSource {
  constructor(
    private readonly state: AccountState,
    private readonly sts: StsIssuer,
  ) {}

  instance(instanceId: string): MetadataInstanceView | undefined {
    const instance = this.state.instance(instanceId);
    if (instance === undefined) return undefined;
    const primary = this.state.findEni(instance.primaryEniId);
    const secondaries = this.state
      .enisOf(instanceId)
      .filter((eni) => eni.id !== instance.primaryEniId && eni.status === 'InUse')
      .sort((a, b) => (a.attachedSeq ?? 0) - (b.attachedSeq ?? 0));
    const nics = [...(primary === undefined ? [] : [primary]), ...secondaries].map((eni) =>
      this.nic(eni),
    );
    return {
      instanceId,
      instanceType: instance.instanceType,
      regionId: this.state.config.regionId,
      zoneId: instance.zoneId,
      hostname: instance.hostname,
      ownerAccountId: this.state.config.ownerAccountId,
      nics,
      ...(instance.ramRoleName === undefined ? {} : { ramRoleName: instance.ramRoleName }),
    };
  }

  roleCredentials(instanceId: string): StsCredentials | undefined {
    const instance = this.state.instance(instanceId);
    if (instance?.ramRoleName === undefined) return undefined;
    return this.sts.credentialsFor(instanceId);
  }

  private nic(eni: EniRecord): MetadataNic {
    const pool = this.state.pool(eni.vswitchId);
    return {
      mac: eni.mac,
      eniId: eni.id,
      primaryIp: eni.privateIps[0] ?? '',
      privateIps: [...eni.privateIps],
      gateway: pool.gateway,
      netmask: pool.netmask,
      vswitchId: eni.vswitchId,
      vswitchCidr: pool.cidrText,
      vpcId: eni.vpcId,
      vpcCidr: this.state.config.vpcCidr,
    };
  }
}
