/**
 * Parsers for IMDS bodies (ECS-API.md §4). Each one checks the documented format and names the
 * path and the offending value on failure, because a malformed answer from 100.100.100.200 is
 * rare enough that the log line has to explain it alone. The one exception is the RAM role's
 * credentials: that body holds secrets, so its errors name fields, never values.
 */
import { isIPv4, parseCidr } from '../../util/ipv4.js';
import { MetadataError, MetadataErrorCodes } from './metadata-error.js';

const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Ids and names: one token of printable ASCII, as every ECS id and RAM role name is. */
const ID_PATTERN = /^[\x21-\x7e]+$/;
/** Longest value quoted in an error message; metadata bodies are short unless something broke. */
const MAX_QUOTED_CHARS = 200;

export interface RoleCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

function quote(value: string): string {
  const text = value.length > MAX_QUOTED_CHARS ? `${value.slice(0, MAX_QUOTED_CHARS)}...` : value;
  return JSON.stringify(text);
}

function malformed(path: string, expected: string, value: string): MetadataError {
  return new MetadataError(
    MetadataErrorCodes.Malformed,
    path,
    `expected ${expected}, got ${quote(value)}`,
  );
}

/** True for a lower-case, colon-separated MAC (the form every module here uses). */
export function isMac(text: string): boolean {
  return MAC_PATTERN.test(text);
}

export function normalizeMac(text: string): string {
  return text.trim().toLowerCase();
}

export function parseId(path: string, body: string): string {
  const value = body.trim();
  if (!ID_PATTERN.test(value)) throw malformed(path, 'an id', body);
  return value;
}

export function parseMac(path: string, body: string): string {
  const mac = normalizeMac(body);
  if (!isMac(mac)) throw malformed(path, 'a MAC address', body);
  return mac;
}

export function parseIpv4(path: string, body: string): string {
  const ip = body.trim();
  if (!isIPv4(ip)) throw malformed(path, 'an IPv4 address', body);
  return ip;
}

export function parseIpv4Cidr(path: string, body: string): string {
  const cidr = body.trim();
  try {
    parseCidr(cidr);
  } catch {
    throw malformed(path, 'an IPv4 CIDR', body);
  }
  return cidr;
}

/** A directory listing of MACs: one `mac/` per line; the trailing `/` is dropped. */
export function parseMacList(path: string, body: string): string[] {
  const macs: string[] = [];
  for (const line of body.split('\n')) {
    const entry = normalizeMac(line).replace(/\/$/, '');
    if (entry === '') continue;
    if (!isMac(entry)) throw malformed(path, 'one MAC address per line', line);
    macs.push(entry);
  }
  return macs;
}

/**
 * `private-ipv4s`: a JSON array of quoted strings. The bracketed, unquoted form that `ipv6s` uses
 * is accepted too, so one spelling slip in the service does not take the node down.
 */
export function parseIpv4List(path: string, body: string): string[] {
  const text = body.trim();
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    if (!text.startsWith('[') || !text.endsWith(']')) {
      throw malformed(path, 'a JSON array of IPv4 addresses', body);
    }
    const inner = text.slice(1, -1).trim();
    items = inner === '' ? [] : inner.split(',').map((item) => item.trim());
  }
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string' && isIPv4(item))) {
    throw malformed(path, 'a JSON array of IPv4 addresses', body);
  }
  return items as string[];
}

/** The role name listed by `ram/security-credentials/`; undefined when the listing is empty. */
export function parseRoleName(path: string, body: string): string | undefined {
  const first = body
    .split('\n')
    .map((line) => line.trim().replace(/\/$/, ''))
    .find((line) => line !== '');
  if (first === undefined) return undefined;
  if (!ID_PATTERN.test(first)) throw malformed(path, 'a RAM role name', first);
  return first;
}

function credentialsError(path: string, detail: string): MetadataError {
  return new MetadataError(MetadataErrorCodes.Malformed, path, detail);
}

/** `ram/security-credentials/<role>`: JSON with Code "Success". Errors never quote the body. */
export function parseRoleCredentials(path: string, body: string): RoleCredentials {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch {
    // No `cause`: V8's JSON.parse message quotes the input, and the input holds the secret.
    throw credentialsError(path, 'RAM role credentials are not valid JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw credentialsError(path, 'RAM role credentials are not a JSON object');
  }
  const fields = document as Record<string, unknown>;
  if (fields.Code !== 'Success') {
    const code = typeof fields.Code === 'string' ? quote(fields.Code) : 'missing';
    throw credentialsError(path, `RAM role credentials have Code ${code}, not "Success"`);
  }
  const text = (name: string): string => {
    const value = fields[name];
    if (typeof value !== 'string' || value === '') {
      throw credentialsError(path, `RAM role credentials lack a string ${name}`);
    }
    return value;
  };
  const expiration = text('Expiration');
  const expiresAt = Date.parse(expiration);
  if (Number.isNaN(expiresAt)) {
    throw malformed(path, 'an ISO 8601 Expiration', expiration);
  }
  return {
    accessKeyId: text('AccessKeyId'),
    accessKeySecret: text('AccessKeySecret'),
    securityToken: text('SecurityToken'),
    expiresAt,
  };
}
