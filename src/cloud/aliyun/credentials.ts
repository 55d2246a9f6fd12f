/**
 * The cloud credentials the SDK signs with: which source wins (config, then credential_path, then
 * the environment, then the RAM role), and when temporary credentials are renewed. The SDK asks
 * before every request, so renewal happens here, ahead of expiry, with one load at a time, and a
 * failed renewal keeps using credentials that are still valid. Secrets never reach the logs:
 * only the source, the role and the expiry are logged.
 */
import { TerwayError } from '../../errors/terway-error.js';
import { CloudError } from '../cloud-error.js';
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import {
  environmentCredentials,
  environmentRoleName,
  ENV_ACCESS_KEY_ID,
  ENV_ECS_ROLE,
  fileLoader,
  ramRoleLoader,
  staticLoader,
} from './credential-sources.js';
import type {
  CloudCredentials,
  CredentialLoader,
  CredentialSourceKind,
} from './credential-sources.js';
import type { MetadataClient } from './metadata-client.js';

export type { CloudCredentials, CredentialSourceKind } from './credential-sources.js';

/** Renew once less than this fraction of the credentials' lifetime remains... */
export const REFRESH_REMAINING_FRACTION = 1 / 3;
/** ...or less than this much time, whichever comes first. */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
/**
 * Credentials this close to expiry are treated as expired: a request signed now must still be
 * valid when ECS checks it.
 */
export const EXPIRY_SAFETY_MS = 10_000;
/** After a renewal attempt, wait this long before the next while the current ones still work. */
export const MIN_REFRESH_INTERVAL_MS = 10_000;

export const CredentialErrorCodes = {
  /** Nothing could be loaded, and nothing valid is cached. */
  Unavailable: 'CredentialsUnavailable',
  /** The cached credentials expired and could not be renewed. */
  Expired: 'CredentialsExpired',
} as const;

/** What the SDK's `credential` hook returns (`@alicloud/credentials` CredentialModel). */
export interface SdkCredentialModel {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  type: string;
  providerName: string;
}

export interface CredentialProvider {
  readonly source: CredentialSourceKind;
  /** Current credentials, renewed ahead of expiry; one load at a time. */
  get(): Promise<CloudCredentials>;
  /** The object passed as the SDK Config's `credential`. */
  sdkCredential(): { getCredential(): Promise<SdkCredentialModel> };
}

export interface ResolveCredentialsInput {
  /** eni_conf access_key / access_secret. */
  credentials?: { accessKey: string; accessSecret: string };
  /** eni_conf credential_path. */
  credentialPath?: string;
  env: NodeJS.ProcessEnv;
  /** Needed for the RAM role. */
  metadata?: MetadataClient;
  clock: Clock;
  log: Logger;
  /** Try the instance's RAM role when nothing else is configured. */
  useRamRole?: boolean;
}

/** `x-acs-credentials-provider`, spelled as `@alicloud/credentials` names its providers. */
const PROVIDER_NAMES: Record<CredentialSourceKind, string> = {
  config: 'static',
  credential_path: 'credential_file',
  environment: 'env',
  ram_role: 'ecs_ram_role',
};

interface Cached {
  credentials: CloudCredentials;
  loadedAt: number;
}

function iso(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}

export class RefreshingCredentialProvider implements CredentialProvider {
  private cached: Cached | undefined;
  private inFlight: Promise<CloudCredentials> | undefined;
  private lastAttemptAt: number | undefined;

  constructor(
    readonly source: CredentialSourceKind,
    private readonly load: CredentialLoader,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async get(): Promise<CloudCredentials> {
    const now = this.clock.now();
    const cached = this.cached;
    // While a load is under way everyone waits for it, so all callers move to the new keys at once.
    if (cached !== undefined && this.inFlight === undefined && this.isUsable(cached, now)) {
      const recentlyTried =
        this.lastAttemptAt !== undefined && now - this.lastAttemptAt < MIN_REFRESH_INTERVAL_MS;
      if (!this.needsRefresh(cached, now) || recentlyTried) return { ...cached.credentials };
    }
    this.inFlight ??= this.refresh().finally(() => {
      this.inFlight = undefined;
    });
    return { ...(await this.inFlight) };
  }

  sdkCredential(): { getCredential(): Promise<SdkCredentialModel> } {
    return {
      getCredential: async () => {
        const credentials = await this.get();
        const sts = credentials.securityToken !== undefined;
        return {
          accessKeyId: credentials.accessKeyId,
          accessKeySecret: credentials.accessKeySecret,
          securityToken: credentials.securityToken ?? '',
          type: sts ? 'sts' : 'access_key',
          providerName: PROVIDER_NAMES[this.source],
        };
      },
    };
  }

  private async refresh(): Promise<CloudCredentials> {
    const previous = this.cached;
    this.lastAttemptAt = this.clock.now();
    try {
      const credentials = await this.load();
      const loaded = { credentials, loadedAt: this.clock.now() };
      if (!this.isUsable(loaded, loaded.loadedAt)) {
        throw new CloudError(
          CredentialErrorCodes.Expired,
          `the ${this.source} credentials expired at ${iso(credentials.expiresAt)}`,
          { operation: 'credentials' },
        );
      }
      this.cached = loaded;
      this.log.info(
        { source: this.source, ...this.load.describe?.(), expiresAt: iso(credentials.expiresAt) },
        previous === undefined ? 'cloud credentials loaded' : 'cloud credentials renewed',
      );
      return credentials;
    } catch (error) {
      const now = this.clock.now();
      const reason = error instanceof Error ? error.message : String(error);
      if (previous !== undefined && this.isUsable(previous, now)) {
        this.log.warn(
          { source: this.source, expiresAt: iso(previous.credentials.expiresAt), reason },
          'cannot renew cloud credentials; using the current ones until they expire',
        );
        return previous.credentials;
      }
      const cloudCode =
        previous === undefined ? CredentialErrorCodes.Unavailable : CredentialErrorCodes.Expired;
      const what =
        previous === undefined
          ? `cannot load cloud credentials from ${this.source}`
          : `cloud credentials from ${this.source} expired and cannot be renewed`;
      throw new CloudError(cloudCode, `${what}: ${reason}`, {
        operation: 'credentials',
        retryable: true,
        cause: error,
      });
    }
  }

  private isUsable(cached: Cached, now: number): boolean {
    const { expiresAt } = cached.credentials;
    return expiresAt === undefined || now < expiresAt - EXPIRY_SAFETY_MS;
  }

  private needsRefresh(cached: Cached, now: number): boolean {
    const { expiresAt } = cached.credentials;
    if (expiresAt === undefined) return false;
    const remaining = expiresAt - now;
    const lifetime = expiresAt - cached.loadedAt;
    return (
      remaining < REFRESH_BEFORE_EXPIRY_MS || remaining < lifetime * REFRESH_REMAINING_FRACTION
    );
  }
}

/**
 * Picks the first configured source: config, then credential_path, then the environment, then
 * the RAM role (named by ALIBABA_CLOUD_ECS_METADATA, or discovered when `useRamRole`).
 * Undefined when nothing is configured.
 */
export function resolveCredentialProvider(
  input: ResolveCredentialsInput,
): CredentialProvider | undefined {
  const { clock, log } = input;
  const make = (source: CredentialSourceKind, load: CredentialLoader, detail: object = {}) => {
    log.info({ source, ...detail }, `using cloud credentials from ${source}`);
    return new RefreshingCredentialProvider(source, load, clock, log);
  };
  if (input.credentials !== undefined) {
    const { accessKey, accessSecret } = input.credentials;
    return make('config', staticLoader({ accessKeyId: accessKey, accessKeySecret: accessSecret }));
  }
  if (input.credentialPath !== undefined) {
    return make('credential_path', fileLoader(input.credentialPath), {
      path: input.credentialPath,
    });
  }
  const env = environmentCredentials(input.env);
  if (env.kind === 'incomplete') {
    throw new TerwayError(
      'INVALID_CONFIG',
      `${env.missing} is not set: set both ${ENV_ACCESS_KEY_ID} and its secret, or neither`,
    );
  }
  if (env.kind === 'credentials') {
    return make('environment', staticLoader(env.credentials), {
      sts: env.credentials.securityToken !== undefined,
    });
  }
  const role = environmentRoleName(input.env);
  if (role === undefined && input.useRamRole !== true) return undefined;
  if (input.metadata === undefined) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `the RAM role${role === undefined ? '' : ` (${ENV_ECS_ROLE}=${role})`} needs the metadata client`,
    );
  }
  return make('ram_role', ramRoleLoader(input.metadata, role), {
    role: role ?? '(discovered from metadata)',
  });
}
