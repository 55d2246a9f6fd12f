/**
 * Wires the ECS provider together: metadata → who this node is → credentials → the one call
 * wrapper → the SDK → placement → the provider, then sweeps ENIs a previous run leaked.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

import type { DaemonConfig } from '../../config/eni-conf.js';
import type { Clock } from '../../util/clock.js';
import { createCloudMetrics } from '../../observe/cloud-metrics.js';
import { AliyunCloud } from './aliyun-cloud.js';
import type { AliyunCloudTimings } from './aliyun-cloud.js';
import { ApiCaller } from './api-caller.js';
import type { CredentialProvider } from './credentials.js';
import type { MetadataClient } from './metadata-client.js';
import { readNodeIdentity } from './node-identity.js';
import type { SdkEndpoints } from './sdk-ecs-api.js';
import { defaultEndpoints, SdkEcsApi } from './sdk-ecs-api.js';
import { VSwitchSelector } from './vswitch-selector.js';

export interface ConnectOptions {
  config: DaemonConfig;
  metadata: MetadataClient;
  credentials: CredentialProvider;
  /** Absent: the region's public endpoints, each overridable by `ecs_endpoint`/`vpc_endpoint`. */
  endpoints?: SdkEndpoints;
  clock: Clock;
  log: Logger;
  registry?: Registry;
  timings?: Partial<AliyunCloudTimings>;
}

export interface ConnectedCloud {
  cloud: AliyunCloud;
  caller: ApiCaller;
  regionId: string;
}

export async function connectAliyunCloud(options: ConnectOptions): Promise<ConnectedCloud> {
  const { config, metadata, clock, log } = options;
  const identity = await readNodeIdentity(metadata);
  const regionId = config.regionId ?? (await metadata.regionId());
  const endpoints = options.endpoints ?? resolveEndpoints(config, regionId);
  const caller = new ApiCaller({
    clock,
    log,
    rateLimitPerMinute: config.rateLimit,
    ...(options.registry === undefined ? {} : { metrics: createCloudMetrics(options.registry) }),
  });
  const api = new SdkEcsApi({
    regionId,
    endpoints,
    credential: options.credentials.sdkCredential(),
    caller,
  });
  const vswitches = new VSwitchSelector({
    zoneId: identity.zoneId,
    vswitchIds: config.vswitches[identity.zoneId] ?? [],
    fallbackVSwitchId: identity.vswitchId,
    policy: config.vswitchSelectionPolicy,
    describe: (ids) => api.describeVSwitches(ids),
    clock,
    log,
  });
  const cloud = new AliyunCloud({
    api,
    metadata,
    identity,
    vswitches,
    securityGroupIds: config.securityGroups,
    eniTags: config.eniTags,
    eniTagFilter: config.eniTagFilter,
    clock,
    log,
    timings: {
      attachTimeoutMs: config.eniAttachTimeoutMs,
      detachTimeoutMs: config.eniAttachTimeoutMs,
      ...options.timings,
    },
  });
  log.info(
    {
      instanceId: identity.instanceId,
      instanceType: identity.instanceType,
      zoneId: identity.zoneId,
      regionId,
      ecsEndpoint: endpoints.ecs,
      credentials: options.credentials.source,
    },
    'connected to ECS',
  );
  await cloud.reclaimLeakedEnis();
  return { cloud, caller, regionId };
}

function resolveEndpoints(config: DaemonConfig, regionId: string): SdkEndpoints {
  const defaults = defaultEndpoints(regionId);
  return {
    ecs: config.ecsEndpoint ?? defaults.ecs,
    vpc: config.vpcEndpoint ?? defaults.vpc,
    protocol: 'https',
  };
}
