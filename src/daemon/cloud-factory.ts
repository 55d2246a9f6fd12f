import { join } from 'node:path';
import type { Logger } from 'pino';
import { MemoryCloud } from '../cloud/memory/memory-cloud.js';
import type { CloudProvider } from '../cloud/provider.js';
import type { DaemonConfig } from '../config/eni-conf.js';
import { TerwayError } from '../errors/terway-error.js';

const MEMORY_CLOUD_STATE_FILE = 'memory-cloud.json';

/**
 * Chooses the cloud: with credentials, ECS (a later release); without, the built-in in-memory
 * cloud, persisted in the state dir so a restarted daemon finds the ENIs it had.
 */
export function createCloud(config: DaemonConfig, stateDir: string, log: Logger): CloudProvider {
  if (config.credentials !== undefined || config.credentialPath !== undefined) {
    throw new TerwayError(
      'INVALID_CONFIG',
      'cloud credentials are configured, but this release has no ECS client yet; remove access_key/access_secret/credential_path to use the built-in in-memory cloud',
    );
  }
  const memory = config.memoryCloud;
  const stateFile = memory.stateFile ?? join(stateDir, MEMORY_CLOUD_STATE_FILE);
  log.warn(
    { instanceType: memory.instanceType, vswitchCidr: memory.vswitchCidr, stateFile },
    'NO CLOUD CREDENTIALS CONFIGURED: using the built-in in-memory cloud; pod IPs are simulated',
  );
  return new MemoryCloud({ ...memory, stateFile });
}
