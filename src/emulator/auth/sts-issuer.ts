/**
 * Temporary RAM-role credentials, as the metadata service hands them to an instance. The same
 * issuer is the authority the request authenticator asks, so a token is valid exactly while the
 * emulator says it is.
 */
import { randomBytes } from 'node:crypto';

import type { StsCredentials } from '../metadata/metadata-source.js';
import type { Clock } from '../../util/clock.js';

/** ECS renews role credentials well before expiry; a client re-reading metadata gets new ones. */
export const DEFAULT_STS_TTL_MS = 60 * 60 * 1000;
/** Renew once less than this fraction of the lifetime is left. */
const RENEW_WHEN_REMAINING_FRACTION = 1 / 3;
/** Expired credentials are forgotten this long after expiry, so an old token still reads as expired. */
const FORGET_AFTER_EXPIRY_MS = 24 * 60 * 60 * 1000;

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export interface IssuedCredentials {
  instanceId: string;
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  issuedAt: number;
  expiresAt: number;
}

export function randomAlnum(length: number, alphabet = ALNUM): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

/** ISO 8601 without milliseconds, the form ECS metadata uses (2026-11-25T07:00:00Z). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class StsIssuer {
  private readonly byToken = new Map<string, IssuedCredentials>();
  private readonly current = new Map<string, IssuedCredentials>();
  /** Called after new credentials are issued (persistence hangs here). */
  onIssued: () => void = () => {};

  constructor(
    private readonly clock: Clock,
    readonly ttlMs: number = DEFAULT_STS_TTL_MS,
  ) {}

  /** The instance's current credentials, renewed when less than a third of their life is left. */
  credentialsFor(instanceId: string): StsCredentials {
    const now = this.clock.now();
    let issued = this.current.get(instanceId);
    if (
      issued === undefined ||
      issued.expiresAt - now < this.ttlMs * RENEW_WHEN_REMAINING_FRACTION
    ) {
      issued = this.issue(instanceId, now);
    }
    return {
      accessKeyId: issued.accessKeyId,
      accessKeySecret: issued.accessKeySecret,
      securityToken: issued.securityToken,
      expiration: isoSeconds(issued.expiresAt),
      lastUpdated: isoSeconds(issued.issuedAt),
    };
  }

  lookup(securityToken: string): IssuedCredentials | undefined {
    return this.byToken.get(securityToken);
  }

  snapshot(): IssuedCredentials[] {
    return [...this.byToken.values()].map((c) => ({ ...c }));
  }

  restore(credentials: readonly IssuedCredentials[]): void {
    for (const c of credentials) {
      this.byToken.set(c.securityToken, { ...c });
      const current = this.current.get(c.instanceId);
      if (current === undefined || current.issuedAt < c.issuedAt)
        this.current.set(c.instanceId, { ...c });
    }
  }

  private issue(instanceId: string, now: number): IssuedCredentials {
    this.forgetExpired(now);
    const issued: IssuedCredentials = {
      instanceId,
      accessKeyId: `STS.${randomAlnum(24)}`,
      accessKeySecret: randomAlnum(44),
      securityToken: `CAIS${randomAlnum(120)}`,
      issuedAt: now,
      expiresAt: now + this.ttlMs,
    };
    this.byToken.set(issued.securityToken, issued);
    this.current.set(instanceId, issued);
    this.onIssued();
    return issued;
  }

  private forgetExpired(now: number): void {
    for (const [token, c] of this.byToken) {
      if (c.expiresAt + FORGET_AFTER_EXPIRY_MS < now) this.byToken.delete(token);
    }
  }
}
