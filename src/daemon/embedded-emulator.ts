/**
 * The default cloud when no credentials are configured: the ECS + VPC + metadata emulator, run
 * inside terwayd on loopback. The daemon then talks to it through the official SDK exactly as it
 * would to ECS, so the emulator mode exercises the same client code as production.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';

import type { EmulatorConfig } from '../config/eni-conf.js';
import { EMULATED_APIS } from '../emulator/api/api-routes.js';
import { EcsEmulator } from '../emulator/ecs-emulator.js';
import { parseListenAddress } from '../util/listen-address.js';

const EMULATOR_STATE_FILE = 'emulator-state.json';
/** Without `emulator.listen`: loopback, on a port the kernel picks. */
const LOOPBACK_ANY_PORT = '127.0.0.1:0';
/** A fixed id, so a restarted daemon finds its own instance (and ENIs) in the saved state. */
export const EMBEDDED_INSTANCE_ID = 'i-terwaynode0emulated';
const EMULATED_VPC_CIDR = '10.0.0.0/8';
const MUTATING_APIS = EMULATED_APIS.filter((api) => !api.startsWith('Describe'));

export interface EmbeddedEmulator {
  emulator: EcsEmulator;
  instanceId: string;
  metadataUrl: string;
  accessKeyId: string;
  accessKeySecret: string;
  stop(): Promise<void>;
}

export async function startEmbeddedEmulator(
  config: EmulatorConfig,
  stateDir: string,
  log: Logger,
): Promise<EmbeddedEmulator> {
  // A fresh key pair per run: nothing outside this process needs to sign requests to it.
  const accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
  const accessKeySecret = randomBytes(24).toString('base64url');
  const { host, port } = parseListenAddress(config.listen ?? LOOPBACK_ANY_PORT, 'emulator.listen');
  const perApi = Object.fromEntries(EMULATED_APIS.map((api) => [api, config.apiLatencyMs]));
  const emulator = await EcsEmulator.start({
    host,
    port,
    accessKeys: [{ accessKeyId, accessKeySecret }],
    regionId: config.regionId,
    vpcCidr: EMULATED_VPC_CIDR,
    vswitches: [{ vswitchId: config.vswitchId, zoneId: config.zoneId, cidr: config.vswitchCidr }],
    latencies: {
      perApi,
      attachMs: config.attachLatencyMs,
      detachMs: config.attachLatencyMs,
      deleteMs: config.attachLatencyMs,
    },
    stateFile: config.stateFile ?? join(stateDir, EMULATOR_STATE_FILE),
  });
  if (config.failureRate > 0) {
    for (const api of MUTATING_APIS) {
      emulator.setFault(api, { errorRate: config.failureRate, errorCode: 'InternalError' });
    }
  }
  const restored = emulator.metadataSource().instance(EMBEDDED_INSTANCE_ID) !== undefined;
  const instance = restored
    ? EMBEDDED_INSTANCE_ID
    : emulator.addInstance({
        instanceId: EMBEDDED_INSTANCE_ID,
        instanceType: config.instanceType,
        zoneId: config.zoneId,
        vswitchId: config.vswitchId,
        hostname: 'terway-node-emulated',
      }).instanceId;
  const metadataUrl = emulator.metadataUrl(instance);
  log.warn(
    {
      instanceType: config.instanceType,
      vswitchCidr: config.vswitchCidr,
      ecsEndpoint: emulator.endpoint,
      metadataUrl,
    },
    'NO CLOUD CREDENTIALS CONFIGURED: running on the built-in ECS emulator; pod IPs are simulated',
  );
  return {
    emulator,
    instanceId: instance,
    metadataUrl,
    accessKeyId,
    accessKeySecret,
    stop: () => emulator.stop(),
  };
}
