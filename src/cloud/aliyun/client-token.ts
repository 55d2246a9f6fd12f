/**
 * ECS idempotency tokens. A mutating call carries one ClientToken for all its attempts: if an
 * attempt timed out after ECS acted, the retry returns that first result instead of creating a
 * second ENI or assigning a second batch of IPs.
 */
import { randomUUID } from 'node:crypto';

import { TerwayError } from '../../errors/terway-error.js';

/** ECS: "ClientToken ... no more than 64 ASCII characters" (case-sensitive). */
export const MAX_CLIENT_TOKEN_LENGTH = 64;

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** A fresh token: a v4 UUID, 36 characters, unique without coordination between nodes. */
export function newClientToken(): string {
  return randomUUID();
}

export function isValidClientToken(token: string): boolean {
  return token.length <= MAX_CLIENT_TOKEN_LENGTH && PRINTABLE_ASCII.test(token);
}

/** The caller's token when it is one ECS accepts; a fresh one when none was given. */
export function resolveClientToken(token: string | undefined): string {
  if (token === undefined) return newClientToken();
  if (!isValidClientToken(token)) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `ClientToken must be 1-${MAX_CLIENT_TOKEN_LENGTH} printable ASCII characters, got ${JSON.stringify(token.slice(0, 80))}`,
    );
  }
  return token;
}
