/**
 * IMDSv2 session tokens ("security hardening mode"): issued by `PUT /latest/api/token`, valid for
 * the TTL the caller asked for, and only for the instance that asked. Time comes from the
 * injected clock so tests can expire a token without sleeping.
 */
import { randomBytes } from 'node:crypto';

import type { Clock } from '../../util/clock.js';

export const MIN_TOKEN_TTL_SECONDS = 1;
export const MAX_TOKEN_TTL_SECONDS = 21_600;
/** 32 random bytes: unguessable, and long enough that a collision is not a concern. */
const TOKEN_BYTES = 32;
/** Expired tokens are swept on issue once the table holds this many, so it cannot grow forever. */
const SWEEP_THRESHOLD = 1_024;

interface IssuedToken {
  instanceId: string;
  expiresAt: number;
}

/** `valid`: use it; `invalid`: unknown, expired or issued to another instance (all answer 401). */
export type TokenCheck = 'valid' | 'invalid';

/**
 * Parses the `X-aliyun-ecs-metadata-token-ttl-seconds` header. Undefined when it is missing, not a
 * plain decimal integer, or outside 1..21600 (ECS answers 400 to all of these).
 */
export function parseTokenTtl(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string' || !/^\d{1,6}$/.test(header.trim())) return undefined;
  const ttl = Number(header.trim());
  return ttl >= MIN_TOKEN_TTL_SECONDS && ttl <= MAX_TOKEN_TTL_SECONDS ? ttl : undefined;
}

export class MetadataTokenStore {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(private readonly clock: Clock) {}

  issue(instanceId: string, ttlSeconds: number): string {
    if (this.tokens.size >= SWEEP_THRESHOLD) this.sweep();
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.tokens.set(token, { instanceId, expiresAt: this.clock.now() + ttlSeconds * 1000 });
    return token;
  }

  check(token: string, instanceId: string): TokenCheck {
    const issued = this.tokens.get(token);
    if (issued === undefined) return 'invalid';
    if (this.clock.now() >= issued.expiresAt) {
      this.tokens.delete(token);
      return 'invalid';
    }
    return issued.instanceId === instanceId ? 'valid' : 'invalid';
  }

  /** Forgets every token, as an IMDS restart would: clients must notice the 401 and re-fetch. */
  revokeAll(): void {
    this.tokens.clear();
  }

  size(): number {
    return this.tokens.size;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [token, issued] of this.tokens) {
      if (now >= issued.expiresAt) this.tokens.delete(token);
    }
  }
}
