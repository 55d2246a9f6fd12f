/**
 * Turns `ecs-emulator` flags (and an optional JSON config file) into EmulatorOptions, and the
 * running emulator into the banner it prints. Pure, so the command's parsing is unit-tested.
 */
import { randomBytes } from 'node:crypto';

import { z } from 'zod';

import { knownInstanceTypes } from '../cloud/instance-types.js';
import { formatListenAddress, parseListenAddress } from '../util/listen-address.js';
import type { BucketSpec } from './control/token-bucket.js';
import type { EcsEmulator } from './ecs-emulator.js';
import type { EmulatorOptions } from './emulator-options.js';
import type { AdminInstanceSpec } from './admin-handler.js';

export const DEFAULT_LISTEN = '127.0.0.1:0';
export const DEFAULT_REGION = 'cn-hangzhou';
export const DEFAULT_VPC_CIDR = '10.0.0.0/8';
export const DEFAULT_VSWITCH = 'vsw-emulator0=10.20.0.0/16';
export const DEFAULT_INSTANCE_TYPE = 'ecs.g7.xlarge';
export const ACCESS_KEY_ID_ENV = 'ALIBABA_CLOUD_ACCESS_KEY_ID';
export const ACCESS_KEY_SECRET_ENV = 'ALIBABA_CLOUD_ACCESS_KEY_SECRET';

/** Flags as commander hands them over; every one optional so a config file can fill the gaps. */
export interface EmulatorCliFlags {
  listen?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  region?: string;
  zone?: string;
  vpcId?: string;
  vpcCidr?: string;
  vswitch?: string[];
  securityGroup?: string[];
  instanceType?: string;
  instances?: string;
  latency?: string[];
  attachMs?: string;
  detachMs?: string;
  deleteMs?: string;
  stuckAttachFailMs?: string;
  throttle?: string[];
  stateFile?: string;
  requireMetadataToken?: boolean;
  stsTtlMs?: string;
}

/** The JSON config file: EmulatorOptions fields plus the instances to create at start. */
const configFileSchema = z
  .object({
    host: z.string(),
    port: z.number().int().min(0).max(65535),
    accessKeys: z.array(z.object({ accessKeyId: z.string(), accessKeySecret: z.string() })).min(1),
    regionId: z.string(),
    vpcId: z.string(),
    vpcCidr: z.string(),
    vswitches: z
      .array(z.object({ vswitchId: z.string(), zoneId: z.string(), cidr: z.string() }))
      .min(1),
    securityGroupIds: z.array(z.string()),
    latencies: z
      .object({
        perApi: z.record(z.string(), z.number().min(0)),
        attachMs: z.number().min(0),
        detachMs: z.number().min(0),
        deleteMs: z.number().min(0),
        stuckAttachFailMs: z.number().min(0),
      })
      .partial(),
    throttle: z
      .object({
        perApi: z.record(
          z.string(),
          z.object({ ratePerSecond: z.number().positive(), burst: z.number().min(1) }),
        ),
        mutating: z.object({ ratePerSecond: z.number().positive(), burst: z.number().min(1) }),
        all: z.object({ ratePerSecond: z.number().positive(), burst: z.number().min(1) }),
        retryAfterHeader: z.boolean(),
      })
      .partial(),
    stateFile: z.string(),
    requireMetadataToken: z.boolean(),
    stsTtlMs: z.number().positive(),
    instanceType: z.string(),
    instances: z.union([
      z.number().int().min(0),
      z.array(
        z.object({
          instanceId: z.string().optional(),
          instanceType: z.string(),
          zoneId: z.string().optional(),
          vswitchId: z.string().optional(),
          ramRoleName: z.string().optional(),
          hostname: z.string().optional(),
        }),
      ),
    ]),
  })
  .partial()
  .strict();

export type EmulatorConfigFile = z.infer<typeof configFileSchema>;

export interface EmulatorSetup {
  options: EmulatorOptions;
  /** The account ends up with at least this many instances (restored ones count). */
  instanceCount: number;
  /** Instances with explicit specs (config file), created when absent. */
  instanceSpecs: AdminInstanceSpec[];
  instanceType: string;
  /** True when the key pair was generated because none was given. */
  generatedKey: boolean;
}

export function parseConfigFile(text: string, source: string): EmulatorConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${source} is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const result = configFileSchema.safeParse(json);
  if (!result.success) {
    throw new Error(`${source} is not a valid emulator config: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** Flags win over the config file; the environment supplies the key pair when neither does. */
export function buildSetup(
  flags: EmulatorCliFlags,
  file: EmulatorConfigFile = {},
  env: Readonly<Record<string, string | undefined>> = {},
): EmulatorSetup {
  const { host, port } = parseListenAddress(
    flags.listen ??
      (file.host === undefined && file.port === undefined
        ? DEFAULT_LISTEN
        : formatListenAddress({ host: file.host ?? '127.0.0.1', port: file.port ?? 0 })),
    flags.listen === undefined ? "the config file's host and port" : '--listen',
  );
  const region = flags.region ?? file.regionId ?? DEFAULT_REGION;
  const zone = flags.zone ?? `${region}-k`;
  const keyId = flags.accessKeyId ?? env[ACCESS_KEY_ID_ENV];
  const keySecret = flags.accessKeySecret ?? env[ACCESS_KEY_SECRET_ENV];
  if ((keyId === undefined) !== (keySecret === undefined)) {
    throw new Error('give both --access-key-id and --access-key-secret, or neither');
  }
  const accessKeys =
    keyId !== undefined && keySecret !== undefined
      ? [{ accessKeyId: keyId, accessKeySecret: keySecret }]
      : (file.accessKeys ?? []);
  const generatedKey = accessKeys.length === 0;
  if (generatedKey)
    accessKeys.push({
      accessKeyId: `LTAI${randomBytes(8).toString('hex')}`,
      accessKeySecret: randomBytes(18).toString('base64url'),
    });

  const vswitches =
    flags.vswitch !== undefined && flags.vswitch.length > 0
      ? flags.vswitch.map((text) => parseVSwitch(text, zone))
      : (file.vswitches ?? [parseVSwitch(DEFAULT_VSWITCH, zone)]);
  const perApi = {
    ...(file.latencies?.perApi ?? {}),
    ...Object.fromEntries((flags.latency ?? []).map(parseLatency)),
  };
  const throttle = { ...(file.throttle ?? {}) };
  for (const text of flags.throttle ?? []) {
    const [target, bucket] = parseThrottle(text);
    if (target === 'mutating' || target === 'all') throttle[target] = bucket;
    else throttle.perApi = { ...(throttle.perApi ?? {}), [target]: bucket };
  }
  const instanceType = flags.instanceType ?? file.instanceType ?? DEFAULT_INSTANCE_TYPE;
  if (!knownInstanceTypes().includes(instanceType)) {
    throw new Error(
      `unknown instance type ${instanceType}; the emulator knows ${knownInstanceTypes().join(', ')}`,
    );
  }
  const fileInstances = file.instances;
  const instanceSpecs = Array.isArray(fileInstances) ? fileInstances : [];
  const instanceCount =
    flags.instances !== undefined
      ? nonNegativeInt(flags.instances, '--instances')
      : typeof fileInstances === 'number'
        ? fileInstances
        : instanceSpecs.length > 0
          ? 0
          : 1;

  const vpcId = flags.vpcId ?? file.vpcId;
  const securityGroupIds =
    flags.securityGroup !== undefined && flags.securityGroup.length > 0
      ? flags.securityGroup
      : file.securityGroupIds;
  const stateFile = flags.stateFile ?? file.stateFile;
  const requireMetadataToken = flags.requireMetadataToken ?? file.requireMetadataToken;
  const stsTtlMs =
    flags.stsTtlMs !== undefined ? nonNegativeInt(flags.stsTtlMs, '--sts-ttl-ms') : file.stsTtlMs;
  const options: EmulatorOptions = {
    host,
    port,
    accessKeys,
    regionId: region,
    vpcCidr: flags.vpcCidr ?? file.vpcCidr ?? DEFAULT_VPC_CIDR,
    vswitches,
    latencies: {
      perApi,
      ...optionalMs('attachMs', flags.attachMs, file.latencies?.attachMs),
      ...optionalMs('detachMs', flags.detachMs, file.latencies?.detachMs),
      ...optionalMs('deleteMs', flags.deleteMs, file.latencies?.deleteMs),
      ...optionalMs(
        'stuckAttachFailMs',
        flags.stuckAttachFailMs,
        file.latencies?.stuckAttachFailMs,
      ),
    },
    throttle,
    ...(vpcId === undefined ? {} : { vpcId }),
    ...(securityGroupIds === undefined ? {} : { securityGroupIds }),
    ...(stateFile === undefined ? {} : { stateFile }),
    ...(requireMetadataToken === undefined ? {} : { requireMetadataToken }),
    ...(stsTtlMs === undefined ? {} : { stsTtlMs }),
  };
  return { options, instanceCount, instanceSpecs, instanceType, generatedKey };
}

/** `<id>=<cidr>[@zone]`. */
export function parseVSwitch(
  text: string,
  defaultZone: string,
): { vswitchId: string; zoneId: string; cidr: string } {
  const match = /^([^=]+)=([^@]+)(?:@(.+))?$/.exec(text);
  if (match === null) throw new Error(`--vswitch wants <id>=<cidr>[@zone], got ${text}`);
  return { vswitchId: match[1] ?? '', cidr: match[2] ?? '', zoneId: match[3] ?? defaultZone };
}

/** `<api>=<ms>`. */
export function parseLatency(text: string): [string, number] {
  const match = /^([A-Za-z]+)=(\d+)$/.exec(text);
  if (match === null) throw new Error(`--latency wants <api>=<ms>, got ${text}`);
  return [match[1] ?? '', Number(match[2])];
}

/** `<api|mutating|all>=<rate>[/<burst>]`; the burst defaults to one second's worth (at least 1). */
export function parseThrottle(text: string): [string, BucketSpec] {
  const match = /^([A-Za-z]+)=(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(text);
  const rate = Number(match?.[2]);
  if (match === null || !(rate > 0)) {
    throw new Error(`--throttle wants <api|mutating|all>=<rate>[/<burst>], got ${text}`);
  }
  const burst = match[3] === undefined ? Math.max(1, Math.ceil(rate)) : Number(match[3]);
  if (burst < 1) throw new Error(`--throttle burst must be >= 1, got ${text}`);
  return [match[1] ?? '', { ratePerSecond: rate, burst }];
}

function nonNegativeInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${flag} wants a non-negative integer, got ${text}`);
  return Number(text);
}

function optionalMs(
  name: string,
  flag: string | undefined,
  fromFile: number | undefined,
): Record<string, number> {
  if (flag !== undefined) return { [name]: nonNegativeInt(flag, flagName(name)) };
  return fromFile === undefined ? {} : { [name]: fromFile };
}

/** `stuckAttachFailMs` → `--stuck-attach-fail-ms`, as commander spells it. */
function flagName(option: string): string {
  return `--${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** What the command prints once serving: where each API lives, the key, the instances. */
export function formatBanner(emulator: EcsEmulator, setup: EmulatorSetup): string {
  const options = setup.options;
  const key = options.accessKeys[0];
  const lines = [
    `ECS emulator serving region ${options.regionId}, VPC ${options.vpcId ?? 'vpc-emulator0'} (${options.vpcCidr})`,
    `  ECS 2014-05-26 endpoint: ${emulator.endpoint}  (SDK Config endpoint, protocol http)`,
    `  VPC 2016-04-28 endpoint: ${emulator.endpoint}`,
    `  admin API:               ${emulator.url}/admin/`,
    `  metadata:                ${emulator.url}/metadata/<instanceId>/latest/meta-data/`,
    `  access key:              ${key?.accessKeyId ?? '-'}${setup.generatedKey ? ` / ${key?.accessKeySecret} (generated)` : ''}`,
    ...options.vswitches.map((v) => `  vSwitch ${v.vswitchId}: ${v.cidr} in ${v.zoneId}`),
    ...(options.latencies?.stuckAttachFailMs === undefined
      ? []
      : [
          `  stuck attaches:          fail back to Available after ${options.latencies.stuckAttachFailMs} ms`,
        ]),
    ...(options.stateFile === undefined ? [] : [`  state file:              ${options.stateFile}`]),
    'instances:',
    ...emulator
      .instances()
      .map(
        (i) =>
          `  ${i.instanceId}  ${i.instanceType}  ${i.zoneId}  eth0 ${i.mac} ${i.primaryIp}  metadata ${emulator.metadataUrl(i.instanceId)}`,
      ),
  ];
  return lines.join('\n');
}
