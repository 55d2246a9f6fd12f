/**
 * `EcsApi` on the official SDKs (`@alicloud/ecs20140526`, `@alicloud/vpc20160428`). Every call
 * goes through the `ApiCaller` (rate limit, ClientToken, retry, request id in the log, metrics);
 * this module only builds requests and flattens the SDK's models into plain domain objects.
 */
import type * as EcsTypes from '@alicloud/ecs20140526';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';

import { CloudError } from '../cloud-error.js';
import type { ApiCaller } from './api-caller.js';
import { loadEcsSdk, loadVpcSdk } from './sdk-modules.js';
import type {
  CloudEni,
  CloudInstance,
  CloudVSwitch,
  CreateEniRequest,
  EcsApi,
  EniFilter,
  InstanceTypeLimits,
} from './ecs-api.js';

/** DescribeNetworkInterfaces allows up to 500 a page; fewer pages means fewer throttled calls. */
const ENI_PAGE_SIZE = 100;
/** DescribeVSwitches allows at most 50 a page. */
const VSWITCH_PAGE_SIZE = 50;
/** The SDK's own default is 3 s; an attach storm on a busy region can be slower than that. */
const DEFAULT_READ_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const USER_AGENT = 'terway-node';

/** The SDK's `credential` hook: asked before every request, so refreshed STS tokens apply. */
export interface SdkCredential {
  getCredential(): Promise<{
    accessKeyId: string;
    accessKeySecret: string;
    securityToken: string;
    type: string;
    providerName: string;
  }>;
}

export interface SdkEndpoints {
  /** `host[:port]` without a scheme, as the SDK wants it. */
  ecs: string;
  vpc: string;
  protocol: 'http' | 'https';
}

export interface SdkEcsApiOptions {
  regionId: string;
  endpoints: SdkEndpoints;
  credential: SdkCredential;
  caller: ApiCaller;
  readTimeoutMs?: number;
  connectTimeoutMs?: number;
}

const Ecs = loadEcsSdk();
const Vpc = loadVpcSdk();

type EcsClient = InstanceType<typeof Ecs.default>;
type VpcClient = InstanceType<typeof Vpc.default>;

/** ECS's public endpoint for a region (the SDK's own map has exceptions we do not need). */
export function defaultEndpoints(regionId: string): SdkEndpoints {
  return {
    ecs: `ecs.${regionId}.aliyuncs.com`,
    vpc: `vpc.${regionId}.aliyuncs.com`,
    protocol: 'https',
  };
}

function sdkConfig(options: SdkEcsApiOptions, endpoint: string): $OpenApiUtil.Config {
  return new $OpenApiUtil.Config({
    credential: options.credential,
    endpoint,
    protocol: options.endpoints.protocol,
    regionId: options.regionId,
    readTimeout: options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    userAgent: USER_AGENT,
  });
}

function tagList(tags: Record<string, string> | undefined) {
  return Object.entries(tags ?? {}).map(([key, value]) => ({ key, value }));
}

function tagMap(
  tags: { tagKey?: string; tagValue?: string }[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags ?? []) {
    if (tag.tagKey !== undefined) out[tag.tagKey] = tag.tagValue ?? '';
  }
  return out;
}

type SdkEni = EcsTypes.DescribeNetworkInterfacesResponseBodyNetworkInterfaceSetsNetworkInterfaceSet;

function toCloudEni(eni: SdkEni): CloudEni {
  const ipSets = eni.privateIpSets?.privateIpSet ?? [];
  const primaryIp =
    eni.privateIpAddress ?? ipSets.find((set) => set.primary === true)?.privateIpAddress ?? '';
  const secondaries = ipSets
    .map((set) => set.privateIpAddress)
    .filter((ip): ip is string => ip !== undefined && ip !== primaryIp);
  return {
    id: eni.networkInterfaceId ?? '',
    status: eni.status ?? '',
    type: eni.type ?? '',
    instanceId: eni.attachment?.instanceId ?? eni.instanceId ?? undefined,
    mac: (eni.macAddress ?? '').toLowerCase(),
    primaryIp,
    privateIps: primaryIp === '' ? secondaries : [primaryIp, ...secondaries],
    vswitchId: eni.vSwitchId ?? '',
    vpcId: eni.vpcId ?? '',
    zoneId: eni.zoneId ?? '',
    securityGroupIds: eni.securityGroupIds?.securityGroupId ?? [],
    tags: tagMap(eni.tags?.tag),
    creationTime: eni.creationTime,
  };
}

function malformed(api: string, what: string, requestId: string | undefined): CloudError {
  return new CloudError('MalformedResponse', `the response has no ${what}`, {
    operation: api,
    ...(requestId === undefined ? {} : { requestId }),
  });
}

export class SdkEcsApi implements EcsApi {
  private readonly ecs: EcsClient;
  private readonly vpc: VpcClient;
  private readonly caller: ApiCaller;
  private readonly regionId: string;

  constructor(options: SdkEcsApiOptions) {
    this.ecs = new Ecs.default(sdkConfig(options, options.endpoints.ecs));
    this.vpc = new Vpc.default(sdkConfig(options, options.endpoints.vpc));
    this.caller = options.caller;
    this.regionId = options.regionId;
  }

  async createNetworkInterface(request: CreateEniRequest): Promise<CloudEni> {
    const api = 'CreateNetworkInterface';
    const response = await this.caller.call(api, ({ clientToken }) =>
      this.ecs.createNetworkInterfaceWithOptions(
        new Ecs.CreateNetworkInterfaceRequest({
          regionId: this.regionId,
          vSwitchId: request.vswitchId,
          securityGroupIds: request.securityGroupIds,
          secondaryPrivateIpAddressCount:
            request.secondaryIpCount > 0 ? request.secondaryIpCount : undefined,
          tag: tagList(request.tags),
          description: request.description,
          resourceGroupId: request.resourceGroupId,
          instanceType: 'Secondary',
          clientToken,
        }),
        new $dara.RuntimeOptions({}),
      ),
    );
    const body = response.body;
    if (body?.networkInterfaceId === undefined)
      throw malformed(api, 'NetworkInterfaceId', body?.requestId);
    const ips = (body.privateIpSets?.privateIpSet ?? [])
      .map((set) => set.privateIpAddress)
      .filter((ip): ip is string => ip !== undefined);
    const primaryIp = body.privateIpAddress ?? ips[0] ?? '';
    return {
      id: body.networkInterfaceId,
      status: body.status ?? 'Available',
      type: body.type ?? 'Secondary',
      instanceId: undefined,
      mac: (body.macAddress ?? '').toLowerCase(),
      primaryIp,
      privateIps: [primaryIp, ...ips.filter((ip) => ip !== primaryIp)],
      vswitchId: body.vSwitchId ?? request.vswitchId,
      vpcId: body.vpcId ?? '',
      zoneId: body.zoneId ?? '',
      securityGroupIds: body.securityGroupIds?.securityGroupId ?? request.securityGroupIds,
      tags: tagMap(body.tags?.tag),
      creationTime: undefined,
    };
  }

  async attachNetworkInterface(eniId: string, instanceId: string): Promise<void> {
    await this.caller.call('AttachNetworkInterface', () =>
      this.ecs.attachNetworkInterfaceWithOptions(
        new Ecs.AttachNetworkInterfaceRequest({
          regionId: this.regionId,
          networkInterfaceId: eniId,
          instanceId,
        }),
        new $dara.RuntimeOptions({}),
      ),
    );
  }

  async detachNetworkInterface(eniId: string, instanceId: string): Promise<void> {
    await this.caller.call('DetachNetworkInterface', () =>
      this.ecs.detachNetworkInterfaceWithOptions(
        new Ecs.DetachNetworkInterfaceRequest({
          regionId: this.regionId,
          networkInterfaceId: eniId,
          instanceId,
        }),
        new $dara.RuntimeOptions({}),
      ),
    );
  }

  async deleteNetworkInterface(eniId: string): Promise<void> {
    await this.caller.call('DeleteNetworkInterface', () =>
      this.ecs.deleteNetworkInterfaceWithOptions(
        new Ecs.DeleteNetworkInterfaceRequest({
          regionId: this.regionId,
          networkInterfaceId: eniId,
        }),
        new $dara.RuntimeOptions({}),
      ),
    );
  }

  async describeNetworkInterfaces(filter: EniFilter): Promise<CloudEni[]> {
    const out: CloudEni[] = [];
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const response = await this.caller.call('DescribeNetworkInterfaces', () =>
        this.ecs.describeNetworkInterfacesWithOptions(
          new Ecs.DescribeNetworkInterfacesRequest({
            regionId: this.regionId,
            networkInterfaceId: filter.eniIds,
            instanceId: filter.instanceId,
            status: filter.status,
            type: filter.type,
            tag: filter.tags === undefined ? undefined : tagList(filter.tags),
            maxResults: ENI_PAGE_SIZE,
            nextToken: token,
          }),
          new $dara.RuntimeOptions({}),
        ),
      );
      const body = response.body;
      for (const eni of body?.networkInterfaceSets?.networkInterfaceSet ?? []) {
        out.push(toCloudEni(eni));
      }
      nextToken = body?.nextToken === '' ? undefined : body?.nextToken;
    } while (nextToken !== undefined);
    return out;
  }

  async assignPrivateIpAddresses(eniId: string, count: number): Promise<string[]> {
    const api = 'AssignPrivateIpAddresses';
    const response = await this.caller.call(api, ({ clientToken }) =>
      this.ecs.assignPrivateIpAddressesWithOptions(
        new Ecs.AssignPrivateIpAddressesRequest({
          regionId: this.regionId,
          networkInterfaceId: eniId,
          secondaryPrivateIpAddressCount: count,
          clientToken,
        }),
        new $dara.RuntimeOptions({}),
      ),
    );
    const ips = response.body?.assignedPrivateIpAddressesSet?.privateIpSet?.privateIpAddress;
    if (ips === undefined) {
      throw malformed(api, 'AssignedPrivateIpAddressesSet', response.body?.requestId);
    }
    return ips;
  }

  async unassignPrivateIpAddresses(eniId: string, ips: readonly string[]): Promise<void> {
    await this.caller.call('UnassignPrivateIpAddresses', () =>
      this.ecs.unassignPrivateIpAddressesWithOptions(
        new Ecs.UnassignPrivateIpAddressesRequest({
          regionId: this.regionId,
          networkInterfaceId: eniId,
          privateIpAddress: [...ips],
        }),
        new $dara.RuntimeOptions({}),
      ),
    );
  }

  async describeInstanceType(instanceType: string): Promise<InstanceTypeLimits> {
    const api = 'DescribeInstanceTypes';
    const response = await this.caller.call(api, () =>
      this.ecs.describeInstanceTypesWithOptions(
        new Ecs.DescribeInstanceTypesRequest({ instanceTypes: [instanceType] }),
        new $dara.RuntimeOptions({}),
      ),
    );
    const found = (response.body?.instanceTypes?.instanceType ?? []).find(
      (type) => type.instanceTypeId === instanceType,
    );
    if (found?.eniQuantity === undefined || found.eniPrivateIpAddressQuantity === undefined) {
      throw new CloudError(
        'InvalidInstanceType.NotFound',
        `DescribeInstanceTypes does not know ${instanceType}`,
        { operation: api },
      );
    }
    return {
      instanceType,
      eniQuantity: found.eniQuantity,
      ipsPerEni: found.eniPrivateIpAddressQuantity,
    };
  }

  async describeInstance(instanceId: string): Promise<CloudInstance> {
    const api = 'DescribeInstances';
    const response = await this.caller.call(api, () =>
      this.ecs.describeInstancesWithOptions(
        new Ecs.DescribeInstancesRequest({
          regionId: this.regionId,
          instanceIds: JSON.stringify([instanceId]),
        }),
        new $dara.RuntimeOptions({}),
      ),
    );
    const found = (response.body?.instances?.instance ?? []).find(
      (instance) => instance.instanceId === instanceId,
    );
    if (found === undefined) {
      throw new CloudError('InvalidInstanceId.NotFound', `no instance ${instanceId}`, {
        operation: api,
      });
    }
    return {
      instanceId,
      instanceType: found.instanceType ?? '',
      zoneId: found.zoneId ?? '',
      vpcId: found.vpcAttributes?.vpcId ?? '',
      vswitchId: found.vpcAttributes?.vSwitchId ?? '',
      securityGroupIds: found.securityGroupIds?.securityGroupId ?? [],
    };
  }

  async describeVSwitches(vswitchIds: readonly string[]): Promise<CloudVSwitch[]> {
    // DescribeVSwitches filters by a single id, so each vSwitch is one call; nodes name few.
    const out: CloudVSwitch[] = [];
    for (const vswitchId of vswitchIds) {
      const response = await this.caller.call('DescribeVSwitches', () =>
        this.vpc.describeVSwitchesWithOptions(
          new Vpc.DescribeVSwitchesRequest({
            regionId: this.regionId,
            vSwitchId: vswitchId,
            pageSize: VSWITCH_PAGE_SIZE,
          }),
          new $dara.RuntimeOptions({}),
        ),
      );
      for (const vsw of response.body?.vSwitches?.vSwitch ?? []) {
        out.push({
          vswitchId: vsw.vSwitchId ?? vswitchId,
          zoneId: vsw.zoneId ?? '',
          cidr: vsw.cidrBlock ?? '',
          availableIpCount: vsw.availableIpAddressCount ?? 0,
        });
      }
    }
    return out;
  }
}
