/**
 * Chooses the cloud. `cloud: auto` (the default) means real ECS when any credential source is
 * configured (access_key/access_secret, credential_path, the ALIBABA_CLOUD_* environment, or a
 * RAM role named in ALIBABA_CLOUD_ECS_METADATA), and otherwise the built-in emulator. Either way
 * the daemon talks through the same SDK client; only the endpoints and credentials differ.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

import { connectAliyunCloud } from '../cloud/aliyun/connect.js';
import { ENV_ACCESS_KEY_ID, ENV_ECS_ROLE } from '../cloud/aliyun/credential-sources.js';
import type { CredentialProvider } from '../cloud/aliyun/credentials.js';
import { resolveCredentialProvider } from '../cloud/aliyun/credentials.js';
import { MetadataClient } from '../cloud/aliyun/metadata-client.js';
import type { CloudProvider } from '../cloud/provider.js';
import type { DaemonConfig } from '../config/eni-conf.js';
import { TerwayError } from '../errors/terway-error.js';
import type { Clock } from '../util/clock.js';
import type { EmbeddedEmulator } from './embedded-emulator.js';
import { startEmbeddedEmulator } from './embedded-emulator.js';

/** Where every ECS instance reaches its own metadata. */
export const METADATA_ENDPOINT = 'http://100.100.100.200';
const ENV_CREDENTIAL_KEYS = [ENV_ACCESS_KEY_ID, ENV_ECS_ROLE];

export interface CloudHandle {
  cloud: CloudProvider;
  mode: 'ecs' | 'emulator';
  /** The instance's zone, from instance metadata (the emulator's in emulator mode). */
  zoneId: string;
  /** The embedded emulator, when running on it (the demo and tests reach it through this). */
  emulator?: EmbeddedEmulator;
  close(): Promise<void>;
}

export interface CreateCloudOptions {
  config: DaemonConfig;
  stateDir: string;
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  registry?: Registry;
}

export function chooseCloudMode(config: DaemonConfig, env: NodeJS.ProcessEnv): 'ecs' | 'emulator' {
  if (config.cloud !== 'auto') return config.cloud;
  const configured =
    config.credentials !== undefined ||
    config.credentialPath !== undefined ||
    ENV_CREDENTIAL_KEYS.some((key) => (env[key] ?? '') !== '');
  return configured ? 'ecs' : 'emulator';
}

export async function createCloud(options: CreateCloudOptions): Promise<CloudHandle> {
  const { config, clock, log } = options;
  const env = options.env ?? process.env;
  const mode = chooseCloudMode(config, env);
  let emulator: EmbeddedEmulator | undefined;
  let metadataUrl = config.metadataEndpoint ?? METADATA_ENDPOINT;
  let endpoints;
  let credentialInput: Parameters<typeof resolveCredentialProvider>[0]['credentials'];
  if (mode === 'emulator') {
    emulator = await startEmbeddedEmulator(config.emulator, options.stateDir, log);
    metadataUrl = emulator.metadataUrl;
    endpoints = {
      ecs: emulator.emulator.endpoint,
      vpc: emulator.emulator.endpoint,
      protocol: 'http' as const,
    };
    credentialInput = { accessKey: emulator.accessKeyId, accessSecret: emulator.accessKeySecret };
  } else {
    credentialInput = config.credentials;
  }
  try {
    const metadata = new MetadataClient({ baseUrl: metadataUrl, clock, log });
    const credentials = requireCredentials(
      resolveCredentialProvider({
        ...(credentialInput === undefined ? {} : { credentials: credentialInput }),
        ...(mode === 'ecs' && config.credentialPath !== undefined
          ? { credentialPath: config.credentialPath }
          : {}),
        env: mode === 'ecs' ? env : {},
        metadata,
        clock,
        log,
        useRamRole: mode === 'ecs',
      }),
    );
    const connected = await connectAliyunCloud({
      config: mode === 'emulator' ? { ...config, regionId: config.emulator.regionId } : config,
      kindLabel: mode === 'emulator' ? 'ecs (embedded emulator)' : 'ecs',
      metadata,
      credentials,
      ...(endpoints === undefined ? {} : { endpoints }),
      clock,
      log,
      ...(options.registry === undefined ? {} : { registry: options.registry }),
    });
    return {
      cloud: connected.cloud,
      mode,
      zoneId: connected.zoneId,
      ...(emulator === undefined ? {} : { emulator }),
      close: async () => {
        connected.cloud.close();
        await emulator?.stop();
      },
    };
  } catch (error) {
    await emulator?.stop();
    throw error;
  }
}

function requireCredentials(provider: CredentialProvider | undefined): CredentialProvider {
  if (provider !== undefined) return provider;
  throw new TerwayError(
    'INVALID_CONFIG',
    'cloud is "ecs" but no credentials are configured: set access_key/access_secret or credential_path, the ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET environment, or a RAM role (ALIBABA_CLOUD_ECS_METADATA)',
  );
}
