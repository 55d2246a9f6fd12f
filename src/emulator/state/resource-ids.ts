/** ECS-looking identifiers and timestamps for emulated resources. */
import { randomBytes } from 'node:crypto';

import { isoSeconds, randomAlnum } from '../auth/sts-issuer.js';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** ECS ids carry 20 lower-case alphanumerics after the prefix (eni-bp1..., i-bp1...). */
const ID_LENGTH = 20;
/** Alibaba Cloud's OUI: every ECS NIC MAC starts with it. */
const MAC_PREFIX = '00:16:3e';

export function randomEniId(): string {
  return `eni-${randomAlnum(ID_LENGTH, ID_ALPHABET)}`;
}

export function randomInstanceId(): string {
  return `i-${randomAlnum(ID_LENGTH, ID_ALPHABET)}`;
}

export function randomMac(): string {
  return `${MAC_PREFIX}:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** ECS writes CreationTime to the minute: 2026-11-25T01:15Z. */
export function isoMinutes(ms: number): string {
  return isoSeconds(ms).replace(/:\d{2}Z$/, 'Z');
}
