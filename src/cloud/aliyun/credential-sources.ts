/**
 * Where cloud credentials come from: the config file's static keys, a credential file that
 * something else keeps fresh (`credential_path`), the process environment, or the instance's RAM
 * role via metadata. Each source only knows how to load once; `credentials.ts` decides when.
 * Error messages here name files, fields and roles, never a key, a secret or a token.
 */
import { readFile } from 'node:fs/promises';

import { TerwayError } from '../../errors/terway-error.js';
import { CloudError } from '../cloud-error.js';
import type { MetadataClient } from './metadata-client.js';

export type CredentialSourceKind = 'config' | 'credential_path' | 'environment' | 'ram_role';

export interface CloudCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** Present for STS credentials. */
  securityToken?: string;
  /** Epoch milliseconds; absent for long-lived access keys. */
  expiresAt?: number;
}

/** Loads the source's current credentials once. */
export type CredentialLoader = (() => Promise<CloudCredentials>) & {
  /** What to log about where the credentials came from (a role name, a file); never a secret. */
  describe?: () => Record<string, string>;
};

export const ENV_ACCESS_KEY_ID = 'ALIBABA_CLOUD_ACCESS_KEY_ID';
export const ENV_ACCESS_KEY_SECRET = 'ALIBABA_CLOUD_ACCESS_KEY_SECRET';
export const ENV_SECURITY_TOKEN = 'ALIBABA_CLOUD_SECURITY_TOKEN';
/** The RAM role name, as `@alicloud/credentials` reads it. */
export const ENV_ECS_ROLE = 'ALIBABA_CLOUD_ECS_METADATA';

/** A credential file's keys, as the STS AssumeRole response and terway's secret spell them. */
const FILE_KEYS = {
  accessKeyId: 'AccessKeyId',
  accessKeySecret: 'AccessKeySecret',
  securityToken: 'SecurityToken',
  expiration: 'Expiration',
} as const;

function sourceError(message: string, cause?: unknown): TerwayError {
  return new TerwayError('INVALID_CONFIG', message, cause === undefined ? {} : { cause });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

export function staticLoader(credentials: CloudCredentials): CredentialLoader {
  const copy = { ...credentials };
  return () => Promise.resolve({ ...copy });
}

export type EnvironmentCredentials =
  | { kind: 'none' }
  | { kind: 'credentials'; credentials: CloudCredentials }
  /** Only one of the id and the secret is set: a mistake to report, not to guess around. */
  | { kind: 'incomplete'; missing: string };

export function environmentCredentials(env: NodeJS.ProcessEnv): EnvironmentCredentials {
  const accessKeyId = nonEmpty(env[ENV_ACCESS_KEY_ID]);
  const accessKeySecret = nonEmpty(env[ENV_ACCESS_KEY_SECRET]);
  if (accessKeyId === undefined && accessKeySecret === undefined) return { kind: 'none' };
  if (accessKeyId === undefined) return { kind: 'incomplete', missing: ENV_ACCESS_KEY_ID };
  if (accessKeySecret === undefined) return { kind: 'incomplete', missing: ENV_ACCESS_KEY_SECRET };
  const securityToken = nonEmpty(env[ENV_SECURITY_TOKEN]);
  return {
    kind: 'credentials',
    credentials: {
      accessKeyId,
      accessKeySecret,
      ...(securityToken !== undefined && { securityToken }),
    },
  };
}

export function environmentRoleName(env: NodeJS.ProcessEnv): string | undefined {
  return nonEmpty(env[ENV_ECS_ROLE]?.trim());
}

/**
 * Parses a credential file: JSON `{AccessKeyId, AccessKeySecret, SecurityToken?, Expiration?}`
 * with Expiration in ISO 8601. Exported for tests.
 */
export function parseCredentialFile(path: string, text: string): CloudCredentials {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // No `cause`: V8's JSON.parse message quotes the input, and the input holds the secret.
    throw sourceError(`credential file ${path} is not valid JSON`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw sourceError(`credential file ${path} is not a JSON object`);
  }
  const fields = document as Record<string, unknown>;
  const field = (name: string, required: boolean): string | undefined => {
    const value = fields[name];
    if (value === undefined || value === null || value === '') {
      if (required) throw sourceError(`credential file ${path} has no ${name}`);
      return undefined;
    }
    if (typeof value !== 'string') {
      throw sourceError(`credential file ${path}: ${name} is not a string`);
    }
    return value;
  };
  const accessKeyId = field(FILE_KEYS.accessKeyId, true) as string;
  const accessKeySecret = field(FILE_KEYS.accessKeySecret, true) as string;
  const securityToken = field(FILE_KEYS.securityToken, false);
  const expiration = field(FILE_KEYS.expiration, false);
  let expiresAt: number | undefined;
  if (expiration !== undefined) {
    expiresAt = Date.parse(expiration);
    if (Number.isNaN(expiresAt)) {
      throw sourceError(
        `credential file ${path}: Expiration ${JSON.stringify(expiration)} is not an ISO 8601 time`,
      );
    }
  }
  return {
    accessKeyId,
    accessKeySecret,
    ...(securityToken !== undefined && { securityToken }),
    ...(expiresAt !== undefined && { expiresAt }),
  };
}

/** Re-reads the file on every load: whatever keeps it fresh may have rewritten it. */
export function fileLoader(path: string): CredentialLoader {
  return async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw sourceError(`cannot read credential file ${path}: ${reason}`, error);
    }
    return parseCredentialFile(path, text);
  };
}

/**
 * The RAM role's STS credentials from metadata. Without a configured name the role is
 * discovered from `ram/security-credentials/` on first use and kept: an instance's role does
 * not change under a running daemon often enough to re-ask every hour.
 */
export function ramRoleLoader(
  metadata: MetadataClient,
  configuredRole: string | undefined,
): CredentialLoader & { roleName(): string | undefined } {
  let role = configuredRole;
  const load = async (): Promise<CloudCredentials> => {
    if (role === undefined) {
      const discovered = await metadata.ramRoleName();
      if (discovered === undefined) {
        throw new CloudError(
          'NoRamRole',
          'the instance has no RAM role (metadata ram/security-credentials/ is empty)',
          { operation: 'credentials' },
        );
      }
      role = discovered;
    }
    const sts = await metadata.ramRoleCredentials(role);
    return {
      accessKeyId: sts.accessKeyId,
      accessKeySecret: sts.accessKeySecret,
      securityToken: sts.securityToken,
      expiresAt: sts.expiresAt,
    };
  };
  return Object.assign(load, {
    roleName: () => role,
    describe: (): Record<string, string> => (role === undefined ? {} : { role }),
  });
}
