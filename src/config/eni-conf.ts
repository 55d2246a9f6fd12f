/**
 * Terway's `eni_conf` (the JSON passed as `terwayd --config <file>`), validated with zod, and the
 * resolved `DaemonConfig` the rest of the daemon reads.
 *
 * Key names and meanings follow Terway so an operator can reuse an existing ConfigMap. Every
 * schema carries its own "expected ..." text as the zod message, so `formatConfigIssues` can print
 * `key: got <value>, expected <what is allowed>` without a second table of descriptions.
 */
import * as z from 'zod';

import { CREATOR_TAG_KEY, CREATOR_TAG_VALUE, INSTANCE_TAG_KEY } from './own-eni-tags.js';
import {
  anyInt,
  backoffDuration,
  cidr,
  dropUnset,
  duration,
  endpoint,
  extraRoute,
  hostPort,
  intAtLeast,
  isPlainObject,
  jitterFactor,
  nonEmptyString,
  numberBetween,
  oneOf,
} from './field-schemas.js';

export { isIPv4Cidr, MIN_NUMERIC_BACKOFF_NS } from './field-schemas.js';

// Defaults. Terway's where Terway has one; ours are marked.
export const DEFAULT_MAX_POOL_SIZE = 5;
export const DEFAULT_MIN_POOL_SIZE = 0;
export const DEFAULT_MIN_ENI = 0;
export const DEFAULT_ENI_CAP_RATIO = 1;
export const DEFAULT_ENI_CAP_SHIFT = 0;
export const DEFAULT_IP_WARM_UP_SIZE = 0;
export const DEFAULT_IDLE_IP_RECLAIM_INTERVAL_MS = 10 * 60_000;
export const DEFAULT_IDLE_IP_RECLAIM_BATCH_SIZE = 5;
export const DEFAULT_IDLE_IP_RECLAIM_JITTER_FACTOR = 0.1;
export const DEFAULT_IP_POOL_SYNC_PERIOD_MS = 120_000;
/** Ours. Terway coalesces for 300 ms; a shorter window keeps a cold pod start fast while still
 *  folding a burst of ADDs into one AssignPrivateIpAddresses call. */
export const DEFAULT_IP_BATCH_WINDOW_MS = 20;
/** Ours. ECS attaches in seconds; a minute covers a slow region without hiding a stuck attach. */
export const DEFAULT_ENI_ATTACH_TIMEOUT_MS = 60_000;
/** Ours. Long enough for the runtime to retry the ADDs that a restart interrupted. */
export const DEFAULT_UNCLAIMED_IP_GRACE_PERIOD_MS = 60_000;
/**
 * Security groups per ENI: ECS's default quota (CreateNetworkInterface takes SecurityGroupIds.1-5
 * unless the account's quota was raised), and what Terway enforces. The client and the emulator
 * use the same figure.
 */
export const MAX_SECURITY_GROUPS = 5;
/** Tags per ENI that CreateNetworkInterface accepts (Tag.N, N <= 20). */
export const MAX_ENI_TAGS = 20;
/** The tags terway-node puts on every ENI it creates, on top of eni_tags and eni_tag_filter. */
const OWN_TAG_KEYS: readonly string[] = [CREATOR_TAG_KEY, INSTANCE_TAG_KEY];

// Defaults of the built-in ECS emulator (ours, not Terway's).
export const DEFAULT_EMULATOR_INSTANCE_TYPE = 'ecs.g7.xlarge';
export const DEFAULT_EMULATOR_REGION_ID = 'cn-hangzhou';
export const DEFAULT_EMULATOR_VSWITCH_ID = 'vsw-emulator0';
export const DEFAULT_EMULATOR_VSWITCH_CIDR = '10.99.0.0/16';
export const DEFAULT_EMULATOR_ZONE_ID = 'cn-hangzhou-k';
export const DEFAULT_EMULATOR_API_LATENCY_MS = 20;
export const DEFAULT_EMULATOR_ATTACH_LATENCY_MS = 200;
export const DEFAULT_EMULATOR_FAILURE_RATE = 0;

/** `auto`: real ECS when any credential source is configured, else the built-in emulator. */
export const CLOUD_MODES = ['auto', 'ecs', 'emulator'] as const;
export type CloudMode = (typeof CLOUD_MODES)[number];

/**
 * `kernel`: wire every pod (links, routes, rules) in its netns. `none`: IPAM only, ADD hands out
 * and records the IP and touches no kernel state. `auto`: kernel, except on the built-in
 * emulator outside a lab, where no ENI would ever get a link to wire pods to.
 */
export const DATAPATH_MODES = ['auto', 'kernel', 'none'] as const;
export type DatapathMode = (typeof DATAPATH_MODES)[number];
/** ECS ENIs run at 1500 by default; jumbo frames (8500) are opt-in per instance type. */
export const DEFAULT_ENI_MTU = 1500;
/** IPv4's minimum MTU, and the largest jumbo frame ECS supports. */
const MIN_MTU = 68;
const MAX_MTU = 9000;

export const VSWITCH_SELECTION_POLICIES = ['random', 'ordered'] as const;
export const ENI_SELECTION_POLICIES = ['most_ips', 'least_ips'] as const;
export const ENIIP_VIRTUAL_TYPES = ['IPVlan', 'Veth'] as const;

export type VSwitchSelectionPolicy = (typeof VSWITCH_SELECTION_POLICIES)[number];
export type EniSelectionPolicy = (typeof ENI_SELECTION_POLICIES)[number];
export type EniipVirtualType = (typeof ENIIP_VIRTUAL_TYPES)[number];

/**
 * Terway is written in Go, where `"key": ""` and `"key": null` both mean "unset". Real ConfigMaps
 * rely on this (Helm charts render `"access_key": ""`), so for string-typed keys an empty string
 * counts as absent. Numbers are not treated this way: `"max_pool_size": ""` stays an error.
 */
const EMPTY_STRING_MEANS_UNSET: ReadonlySet<string> = new Set([
  'version',
  'access_key',
  'access_secret',
  'credential_path',
  'region_id',
  'service_cidr',
  'resource_group_id',
  'security_group',
  'vswitch_selection_policy',
  'eni_selection_policy',
  'ip_stack',
  'eniip_virtual_type',
  'host_netns',
  'ip_pool_sync_period',
  'idle_ip_reclaim_after',
  'idle_ip_reclaim_interval',
  'idle_ip_reclaim_jitter_factor',
]);

/** Keys whose values must never be echoed in error messages or logs. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['access_key', 'access_secret']);

/** Only ipv4 is implemented; say so, instead of a bare "invalid enum". */
function ipStack() {
  const expected =
    '"ipv4" (only ipv4 is supported yet; Terway\'s "dual" and "ipv6" are not implemented by terway-node)';
  return z.unknown().transform((value, ctx): 'ipv4' => {
    if (value !== 'ipv4') {
      ctx.addIssue({ code: 'custom', message: expected, input: value });
      return z.NEVER;
    }
    return value;
  });
}

/** Terway compares `eniip_virtual_type` case-insensitively; we normalise to the canonical case. */
function eniipVirtualType() {
  const expected = '"IPVlan" or "Veth" (case-insensitive)';
  return z.unknown().transform((value, ctx): EniipVirtualType => {
    const canonical =
      typeof value === 'string'
        ? ENIIP_VIRTUAL_TYPES.find((t) => t.toLowerCase() === value.toLowerCase())
        : undefined;
    if (canonical === undefined) {
      ctx.addIssue({ code: 'custom', message: expected, input: value });
      return z.NEVER;
    }
    return canonical;
  });
}

const BACKOFF_FIELDS = ['duration', 'factor', 'jitter', 'steps'] as const;

const backoffEntrySchema = z.preprocess(
  // Go's encoding/json matches field names case-insensitively ("Duration" works in Terway).
  (value) =>
    isPlainObject(value)
      ? dropUnset(Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v])))
      : value,
  z.looseObject(
    {
      duration: backoffDuration().optional(),
      factor: z.number('a number >= 0').min(0, 'a number >= 0').optional(),
      jitter: z.number('a number >= 0').min(0, 'a number >= 0').optional(),
      steps: intAtLeast(0).optional(),
    },
    'an object with optional fields duration, factor, jitter, steps',
  ),
);

const EMULATOR_SHAPE = {
  instance_type: nonEmptyString('a non-empty ECS instance type').default(
    DEFAULT_EMULATOR_INSTANCE_TYPE,
  ),
  region_id: nonEmptyString('a region id such as "cn-hangzhou"').default(
    DEFAULT_EMULATOR_REGION_ID,
  ),
  vswitch_id: nonEmptyString('a non-empty vSwitch id').default(DEFAULT_EMULATOR_VSWITCH_ID),
  vswitch_cidr: cidr().default(DEFAULT_EMULATOR_VSWITCH_CIDR),
  zone_id: nonEmptyString('a non-empty zone id').default(DEFAULT_EMULATOR_ZONE_ID),
  api_latency: duration({ positive: false }).default(DEFAULT_EMULATOR_API_LATENCY_MS),
  attach_latency: duration({ positive: false }).default(DEFAULT_EMULATOR_ATTACH_LATENCY_MS),
  failure_rate: numberBetween(0, 1).default(DEFAULT_EMULATOR_FAILURE_RATE),
  state_file: nonEmptyString('a non-empty file path').optional(),
  listen: hostPort().optional(),
};

export const EMULATOR_KEYS: readonly string[] = Object.keys(EMULATOR_SHAPE);

const emulatorSchema = z.preprocess(
  (value) => dropUnset(value),
  z.looseObject(EMULATOR_SHAPE, 'an object (see the emulator keys)'),
);

const ENI_CONF_SHAPE = {
  /** Terway's config-format version; accepted so real ConfigMaps do not warn, otherwise unused. */
  version: z.string('a string').optional(),

  access_key: nonEmptyString('a non-empty string').optional(),
  access_secret: nonEmptyString('a non-empty string').optional(),
  credential_path: nonEmptyString('a non-empty file path').optional(),
  region_id: nonEmptyString('a region id such as "cn-hangzhou"').optional(),
  service_cidr: cidr().optional(),
  resource_group_id: nonEmptyString('a non-empty resource group id').optional(),

  vswitches: z
    .record(
      z.string(),
      z.array(nonEmptyString('a non-empty vSwitch id'), 'an array of vSwitch ids'),
      'an object mapping zone id to an array of vSwitch ids',
    )
    .default({}),
  vswitch_selection_policy: oneOf(VSWITCH_SELECTION_POLICIES).default('random'),

  security_group: nonEmptyString('a non-empty security group id').optional(),
  security_groups: z
    .array(
      nonEmptyString('a non-empty security group id'),
      `an array of at most ${MAX_SECURITY_GROUPS} security group ids`,
    )
    .max(MAX_SECURITY_GROUPS, `an array of at most ${MAX_SECURITY_GROUPS} security group ids`)
    .default([]),

  eni_tags: z
    .record(z.string(), z.string('a string'), 'an object mapping tag key to string value')
    .default({}),
  eni_tag_filter: z
    .record(z.string(), z.string('a string'), 'an object mapping tag key to string value')
    .default({}),

  max_pool_size: intAtLeast(0).default(DEFAULT_MAX_POOL_SIZE),
  min_pool_size: intAtLeast(0).default(DEFAULT_MIN_POOL_SIZE),
  min_eni: intAtLeast(0).default(DEFAULT_MIN_ENI),
  max_eni: intAtLeast(0).optional(),
  eni_cap_ratio: z.number('a number > 0').positive('a number > 0').default(DEFAULT_ENI_CAP_RATIO),
  eni_cap_shift: anyInt().default(DEFAULT_ENI_CAP_SHIFT),
  eni_selection_policy: oneOf(ENI_SELECTION_POLICIES).default('most_ips'),
  ip_warm_up_size: intAtLeast(0).default(DEFAULT_IP_WARM_UP_SIZE),

  idle_ip_reclaim_after: duration({ positive: true }).optional(),
  idle_ip_reclaim_interval: duration({ positive: true }).default(
    DEFAULT_IDLE_IP_RECLAIM_INTERVAL_MS,
  ),
  idle_ip_reclaim_batch_size: intAtLeast(1).default(DEFAULT_IDLE_IP_RECLAIM_BATCH_SIZE),
  idle_ip_reclaim_jitter_factor: jitterFactor().default(DEFAULT_IDLE_IP_RECLAIM_JITTER_FACTOR),

  ip_stack: ipStack().default('ipv4'),
  rate_limit: z
    .record(
      z.string(),
      intAtLeast(1),
      'an object mapping API name to calls per minute (integer >= 1)',
    )
    .default({}),
  ip_pool_sync_period: duration({ positive: true }).default(DEFAULT_IP_POOL_SYNC_PERIOD_MS),
  eniip_virtual_type: eniipVirtualType().default('IPVlan'),
  extra_routes: z.array(extraRoute(), 'an array of IPv4 CIDRs').default([]),
  backoff_override: z
    .record(z.string(), backoffEntrySchema, 'an object mapping backoff name to an object')
    .default({}),

  ip_batch_window: duration({ positive: false }).default(DEFAULT_IP_BATCH_WINDOW_MS),
  unclaimed_ip_grace_period: duration({ positive: false }).default(
    DEFAULT_UNCLAIMED_IP_GRACE_PERIOD_MS,
  ),
  eni_attach_timeout: duration({ positive: true }).default(DEFAULT_ENI_ATTACH_TIMEOUT_MS),
  cloud: oneOf(CLOUD_MODES).default('auto'),
  datapath: oneOf(DATAPATH_MODES).default('auto'),
  host_netns: z
    .string('a netns name (as `ip netns add` makes it) or an absolute netns path')
    .regex(
      /^(\/[^\s]+|[A-Za-z0-9][A-Za-z0-9_.-]*)$/,
      'a netns name (as `ip netns add` makes it) or an absolute netns path',
    )
    .optional(),
  eni_mtu: z
    .number(`an integer between ${MIN_MTU} and ${MAX_MTU}`)
    .int(`an integer between ${MIN_MTU} and ${MAX_MTU}`)
    .min(MIN_MTU, `an integer between ${MIN_MTU} and ${MAX_MTU}`)
    .max(MAX_MTU, `an integer between ${MIN_MTU} and ${MAX_MTU}`)
    .default(DEFAULT_ENI_MTU),
  ecs_endpoint: endpoint().optional(),
  vpc_endpoint: endpoint().optional(),
  metadata_endpoint: z
    .string('an http(s) URL such as "http://100.100.100.200"')
    .url('an http(s) URL such as "http://100.100.100.200"')
    .optional(),
  // prefault, not default: the empty object must still go through the inner defaults.
  emulator: emulatorSchema.prefault({}),
};

export const ENI_CONF_KEYS: readonly string[] = Object.keys(ENI_CONF_SHAPE);

const eniConfObject = z.looseObject(ENI_CONF_SHAPE, 'a JSON object');

function crossFieldChecks(conf: z.output<typeof eniConfObject>, ctx: z.RefinementCtx) {
  // zod still runs this when some fields failed (their output is then the raw input); a
  // comparison against an invalid value would only add a confusing second line.
  const failed = new Set(ctx.issues.map((issue) => issue.path?.[0]));
  const valid = (...keys: string[]) => keys.every((key) => !failed.has(key));
  if (valid('min_pool_size', 'max_pool_size') && conf.min_pool_size > conf.max_pool_size) {
    ctx.addIssue({
      code: 'custom',
      path: ['min_pool_size'],
      input: conf.min_pool_size,
      message: `an integer <= max_pool_size (${conf.max_pool_size})`,
    });
  }
  // Terway treats max_eni 0 as "no cap"; so do we.
  if (
    valid('min_eni', 'max_eni') &&
    conf.max_eni !== undefined &&
    conf.max_eni > 0 &&
    conf.min_eni > conf.max_eni
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['min_eni'],
      input: conf.min_eni,
      message: `an integer <= max_eni (${conf.max_eni})`,
    });
  }
  if (
    valid('access_key', 'access_secret') &&
    (conf.access_key === undefined) !== (conf.access_secret === undefined)
  ) {
    const missing = conf.access_key === undefined ? 'access_key' : 'access_secret';
    const present = conf.access_key === undefined ? 'access_secret' : 'access_key';
    ctx.addIssue({
      code: 'custom',
      path: [missing],
      input: undefined,
      message: `access_key and access_secret to be set together (${present} is set)`,
    });
  }
  const merged = valid('security_group', 'security_groups')
    ? mergeSecurityGroups(conf.security_group, conf.security_groups)
    : [];
  if (merged.length > MAX_SECURITY_GROUPS) {
    ctx.addIssue({
      code: 'custom',
      path: ['security_groups'],
      input: conf.security_groups,
      message: `at most ${MAX_SECURITY_GROUPS} security groups in security_group and security_groups together (got ${merged.length})`,
    });
  }
  if (valid('eni_tags', 'eni_tag_filter')) tagChecks(conf.eni_tags, conf.eni_tag_filter, ctx);
}

/**
 * New ENIs carry eni_tags plus eni_tag_filter plus our own two tags, and the filter decides which
 * ENIs a restarted daemon takes back; anything that would leave a new ENI outside the filter, or
 * make its create fail, is refused here rather than found out as lost ENIs later.
 */
function tagChecks(
  eniTags: Readonly<Record<string, string>>,
  eniTagFilter: Readonly<Record<string, string>>,
  ctx: z.RefinementCtx,
) {
  for (const [key, wanted] of Object.entries(eniTagFilter)) {
    const given = eniTags[key];
    if (given !== undefined && given !== wanted) {
      ctx.addIssue({
        code: 'custom',
        path: ['eni_tags', key],
        input: given,
        message: `${JSON.stringify(wanted)} as in eni_tag_filter, or no such key in eni_tags (new ENIs carry the eni_tag_filter tags, so a restarted terwayd finds them again)`,
      });
    }
  }
  const creator = eniTagFilter[CREATOR_TAG_KEY];
  if (creator !== undefined && creator !== CREATOR_TAG_VALUE) {
    ctx.addIssue({
      code: 'custom',
      path: ['eni_tag_filter', CREATOR_TAG_KEY],
      input: creator,
      message: `${JSON.stringify(CREATOR_TAG_VALUE)}, or no such key (terway-node tags every ENI it creates ${CREATOR_TAG_KEY}=${CREATOR_TAG_VALUE}, so another value matches none of them)`,
    });
  }
  const instance = eniTagFilter[INSTANCE_TAG_KEY];
  if (instance !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['eni_tag_filter', INSTANCE_TAG_KEY],
      input: instance,
      message: `no such key (terway-node sets it to each node's own instance id)`,
    });
  }
  const keys = new Set([...Object.keys(eniTags), ...Object.keys(eniTagFilter), ...OWN_TAG_KEYS]);
  if (keys.size > MAX_ENI_TAGS) {
    ctx.addIssue({
      code: 'custom',
      path: ['eni_tags'],
      input: eniTags,
      message: `at most ${MAX_ENI_TAGS} tags per ENI, counting eni_tags, eni_tag_filter and the ${OWN_TAG_KEYS.length} terway-node adds (got ${keys.size})`,
    });
  }
}

/** The whole `eni_conf`: unknown keys pass through (operators reuse Terway ConfigMaps). */
export const eniConfSchema = z.preprocess(
  (value) => dropUnset(value, EMPTY_STRING_MEANS_UNSET),
  eniConfObject.superRefine(crossFieldChecks),
);

export type EniConf = z.output<typeof eniConfSchema>;

// ---- the resolved configuration ----------------------------------------------------------------

export interface BackoffOverride {
  durationMs?: number;
  factor?: number;
  jitter?: number;
  steps?: number;
}

export interface EmulatorConfig {
  instanceType: string;
  regionId: string;
  vswitchId: string;
  vswitchCidr: string;
  zoneId: string;
  apiLatencyMs: number;
  attachLatencyMs: number;
  /** Probability that a mutating call fails with a retryable error. */
  failureRate: number;
  /** Absent: the daemon picks a path under its state directory. */
  stateFile?: string;
  /** Absent: an ephemeral loopback port only the daemon knows. */
  listen?: string;
}

export interface Credentials {
  accessKey: string;
  accessSecret: string;
}

export interface DaemonConfig {
  maxPoolSize: number;
  minPoolSize: number;
  minEni: number;
  /** Cap on secondary ENIs; absent (or 0 in the file, as in Terway) means no cap. */
  maxEni?: number;
  eniCapRatio: number;
  eniCapShift: number;
  eniSelectionPolicy: EniSelectionPolicy;
  ipWarmUpSize: number;
  /** Absent: idle reclaim is disabled. */
  idleIpReclaimAfterMs?: number;
  idleIpReclaimIntervalMs: number;
  idleIpReclaimBatchSize: number;
  idleIpReclaimJitterFactor: number;
  ipPoolSyncPeriodMs: number;
  ipBatchWindowMs: number;
  /** IPs on our ENIs that no pod record claims at start-up are held this long, then released. */
  unclaimedIpGracePeriodMs: number;
  /** How long a new ENI may take to become InUse before it is given up and deleted. */
  eniAttachTimeoutMs: number;
  eniipVirtualType: EniipVirtualType;
  datapath: DatapathMode;
  /** The node namespace pods are wired from; absent: the daemon's own. */
  hostNetns?: string;
  /** MTU of every ENI link and pod interface. */
  eniMtu: number;
  ipStack: 'ipv4';
  /** Absent: no static credentials (credential_path, or the built-in emulator). */
  credentials?: Credentials;
  credentialPath?: string;
  regionId?: string;
  serviceCidr?: string;
  resourceGroupId?: string;
  vswitches: Record<string, string[]>;
  vswitchSelectionPolicy: VSwitchSelectionPolicy;
  /** security_group and security_groups merged, first occurrence kept. */
  securityGroups: string[];
  eniTags: Record<string, string>;
  eniTagFilter: Record<string, string>;
  rateLimit: Record<string, number>;
  extraRoutes: string[];
  backoffOverride: Record<string, BackoffOverride>;
  cloud: CloudMode;
  /** Absent: the region's public endpoints. */
  ecsEndpoint?: string;
  vpcEndpoint?: string;
  /** Absent: http://100.100.100.200. */
  metadataEndpoint?: string;
  emulator: EmulatorConfig;
  /** Keys we accepted but do not know (dotted for nested ones); the daemon logs a warning. */
  unknownKeys: string[];
}

function mergeSecurityGroups(single: string | undefined, list: readonly string[]): string[] {
  return [...new Set(single === undefined ? list : [single, ...list])];
}

/** Keys present in the input that the schema does not define, dotted for nested objects. */
export function findUnknownKeys(raw: unknown): string[] {
  if (!isPlainObject(raw)) return [];
  const known = new Set(ENI_CONF_KEYS);
  const unknown = Object.keys(raw).filter((key) => !known.has(key));
  const emulator = raw['emulator'];
  if (isPlainObject(emulator)) {
    const knownEmulator = new Set(EMULATOR_KEYS);
    for (const key of Object.keys(emulator)) {
      if (!knownEmulator.has(key)) unknown.push(`emulator.${key}`);
    }
  }
  const backoff = raw['backoff_override'];
  if (isPlainObject(backoff)) {
    const knownBackoff = new Set<string>(BACKOFF_FIELDS);
    for (const [name, entry] of Object.entries(backoff)) {
      if (!isPlainObject(entry)) continue;
      for (const key of Object.keys(entry)) {
        if (!knownBackoff.has(key.toLowerCase())) unknown.push(`backoff_override.${name}.${key}`);
      }
    }
  }
  return unknown;
}

/** Maps validated snake_case input onto the camelCase config the daemon uses. */
export function toDaemonConfig(conf: EniConf, unknownKeys: string[]): DaemonConfig {
  const backoffOverride: Record<string, BackoffOverride> = {};
  for (const [name, entry] of Object.entries(conf.backoff_override)) {
    const resolved: BackoffOverride = {};
    if (entry.duration !== undefined) resolved.durationMs = entry.duration;
    if (entry.factor !== undefined) resolved.factor = entry.factor;
    if (entry.jitter !== undefined) resolved.jitter = entry.jitter;
    if (entry.steps !== undefined) resolved.steps = entry.steps;
    backoffOverride[name] = resolved;
  }

  const emulated = conf.emulator;
  const emulator: EmulatorConfig = {
    instanceType: emulated.instance_type,
    regionId: emulated.region_id,
    vswitchId: emulated.vswitch_id,
    vswitchCidr: emulated.vswitch_cidr,
    zoneId: emulated.zone_id,
    apiLatencyMs: emulated.api_latency,
    attachLatencyMs: emulated.attach_latency,
    failureRate: emulated.failure_rate,
  };
  if (emulated.state_file !== undefined) emulator.stateFile = emulated.state_file;
  if (emulated.listen !== undefined) emulator.listen = emulated.listen;

  const config: DaemonConfig = {
    maxPoolSize: conf.max_pool_size,
    minPoolSize: conf.min_pool_size,
    minEni: conf.min_eni,
    eniCapRatio: conf.eni_cap_ratio,
    eniCapShift: conf.eni_cap_shift,
    eniSelectionPolicy: conf.eni_selection_policy,
    ipWarmUpSize: conf.ip_warm_up_size,
    idleIpReclaimIntervalMs: conf.idle_ip_reclaim_interval,
    idleIpReclaimBatchSize: conf.idle_ip_reclaim_batch_size,
    idleIpReclaimJitterFactor: conf.idle_ip_reclaim_jitter_factor,
    ipPoolSyncPeriodMs: conf.ip_pool_sync_period,
    ipBatchWindowMs: conf.ip_batch_window,
    unclaimedIpGracePeriodMs: conf.unclaimed_ip_grace_period,
    eniAttachTimeoutMs: conf.eni_attach_timeout,
    eniipVirtualType: conf.eniip_virtual_type,
    datapath: conf.datapath,
    eniMtu: conf.eni_mtu,
    ipStack: conf.ip_stack,
    vswitches: conf.vswitches,
    vswitchSelectionPolicy: conf.vswitch_selection_policy,
    securityGroups: mergeSecurityGroups(conf.security_group, conf.security_groups),
    eniTags: conf.eni_tags,
    eniTagFilter: conf.eni_tag_filter,
    rateLimit: conf.rate_limit,
    extraRoutes: conf.extra_routes,
    backoffOverride,
    cloud: conf.cloud,
    emulator,
    unknownKeys,
  };
  // Optional keys are left out rather than set to undefined, so a logged config stays short.
  if (conf.max_eni !== undefined && conf.max_eni > 0) config.maxEni = conf.max_eni;
  if (conf.idle_ip_reclaim_after !== undefined) {
    config.idleIpReclaimAfterMs = conf.idle_ip_reclaim_after;
  }
  if (conf.access_key !== undefined && conf.access_secret !== undefined) {
    config.credentials = { accessKey: conf.access_key, accessSecret: conf.access_secret };
  }
  if (conf.credential_path !== undefined) config.credentialPath = conf.credential_path;
  if (conf.region_id !== undefined) config.regionId = conf.region_id;
  if (conf.service_cidr !== undefined) config.serviceCidr = conf.service_cidr;
  if (conf.resource_group_id !== undefined) config.resourceGroupId = conf.resource_group_id;
  if (conf.ecs_endpoint !== undefined) config.ecsEndpoint = conf.ecs_endpoint;
  if (conf.vpc_endpoint !== undefined) config.vpcEndpoint = conf.vpc_endpoint;
  if (conf.metadata_endpoint !== undefined) config.metadataEndpoint = conf.metadata_endpoint;
  if (conf.host_netns !== undefined) config.hostNetns = conf.host_netns;
  return config;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const entry of Object.values(value)) deepFreeze(entry);
    Object.freeze(value);
  }
  return value;
}

/**
 * Every default, as `parseConfig({})` resolves them (defined here rather than in load-config.ts so
 * modules that only need the type and the defaults do not pull in file loading). Frozen because
 * it is shared: derive variants with a spread (`{ ...DEFAULT_CONFIG, maxPoolSize: 10 }`).
 */
export const DEFAULT_CONFIG: DaemonConfig = deepFreeze(toDaemonConfig(eniConfSchema.parse({}), []));
