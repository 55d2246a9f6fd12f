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
import { retryOverridesFromBackoff } from './retry-policy.js';
import type { SdkEndpoints } from './sdk-ecs-api.js';
import { defaultEndpoints, SdkEcsApi } from './sdk-ecs-api.js';
import { modelIndexReports } from './sdk-modules.js';
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
  kindLabel?: string;
}

export interface ConnectedCloud {
  cloud: AliyunCloud;
  caller: ApiCaller;
  regionId: string;
  /** The instance's zone, from instance metadata. */
  zoneId: string;
}

export async function connectAliyunCloud(options: ConnectOptions): Promise<ConnectedCloud> {
  const { config, metadata, clock, log } = options;
  const identity = await readNodeIdentity(metadata);
  const regionId = config.regionId ?? (await metadata.regionId());
  const endpoints = options.endpoints ?? resolveEndpoints(config, regionId);
  const backoff = retryOverridesFromBackoff(config.backoffOverride);
  const caller = new ApiCaller({
    clock,
    log,
    rateLimitPerMinute: config.rateLimit,
    ...(backoff.all === undefined ? {} : { retry: backoff.all }),
    retryByApi: backoff.byApi,
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
    resourceGroupId: config.resourceGroupId,
    apiStats: () => caller.stats().apis,
    ...(options.kindLabel === undefined ? {} : { kindLabel: options.kindLabel }),
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
      // Whether each SDK's ~2,000 model classes (~1,200 files) load on first use
      // (sdk-modules.ts) or all at once, and whether its client is the build's compact copy.
      sdkModelIndexes: modelIndexReports.map(
        (report) =>
          `${report.packageName}: ${report.lazy ? `lazy (${report.models})` : 'eager'}` +
          (report.compactClient ? ', compact client' : ''),
      ),
    },
    'connected to ECS',
  );
  await cloud.reclaimLeakedEnis();
  await cloud.prepare();
  return { cloud, caller, regionId, zoneId: identity.zoneId };
}

/**
 * The SDK takes `host[:port]` and a protocol for the whole client; an endpoint written with
 * `http://` (an emulator, a proxy) switches both ECS and VPC to plain HTTP.
 */
export function resolveEndpoints(config: DaemonConfig, regionId: string): SdkEndpoints {
  const defaults = defaultEndpoints(regionId);
  const ecs = splitScheme(config.ecsEndpoint);
  const vpc = splitScheme(config.vpcEndpoint);
  const plain = ecs?.scheme === 'http' || vpc?.scheme === 'http';
  return {
    ecs: ecs?.host ?? defaults.ecs,
    vpc: vpc?.host ?? defaults.vpc,
    protocol: plain ? 'http' : 'https',
  };
}

function splitScheme(endpoint: string | undefined) {
  if (endpoint === undefined) return undefined;
  const match = /^(https?):\/\/(.*)$/.exec(endpoint);
  return match === null
    ? { scheme: undefined, host: endpoint }
    : { scheme: match[1], host: match[2] ?? '' };
}
