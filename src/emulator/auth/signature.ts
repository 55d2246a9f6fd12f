/**
 * The two request signatures the SDK can produce, as pure functions so the server and the unit
 * tests share one implementation: ACS3-HMAC-SHA256 (the v3 default) and the legacy RPC
 * HMAC-SHA1 (`signatureAlgorithm: 'v2'`). ECS-API.md §1.4 and §1.5.
 */
import { createHash, createHmac } from 'node:crypto';

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';
export const EMPTY_BODY_SHA256 = createHash('sha256').update('').digest('hex');

/** Header names that take part in a v3 signature besides every `x-acs-*`. */
const PLAIN_SIGNED_HEADERS: ReadonlySet<string> = new Set(['host', 'content-type']);

/** RFC 3986 percent-encoding: encodeURIComponent plus the sub-delims it leaves raw. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Keys sorted, each key and value percent-encoded, as both signatures canonicalise a query. */
export function canonicalQuery(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .sort()
    .map((key) => `${percentEncode(key)}=${percentEncode(params[key] ?? '')}`)
    .join('&');
}

export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

export interface CanonicalHeaders {
  /** `name:value\n` per signed header, sorted by name. */
  text: string;
  /** The sorted names, the SignedHeaders list a correct client sends. */
  names: string[];
}

/** host, content-type and every x-acs-* header; several values are sorted and joined with ','. */
export function canonicalHeaders(headers: HeaderBag): CanonicalHeaders {
  const values = new Map<string, string[]>();
  for (const [rawName, rawValue] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (!name.startsWith('x-acs-') && !PLAIN_SIGNED_HEADERS.has(name)) continue;
    if (rawValue === undefined) continue;
    const list = values.get(name) ?? [];
    for (const value of Array.isArray(rawValue) ? rawValue : [rawValue]) list.push(value.trim());
    values.set(name, list);
  }
  const names = [...values.keys()].sort();
  const text = names
    .map((name) => `${name}:${(values.get(name) ?? []).sort().join(',')}\n`)
    .join('');
  return { text, names };
}

export interface Acs3Input {
  method: string;
  /** Decoded query parameters. */
  query: Readonly<Record<string, string>>;
  headers: HeaderBag;
  /** hex sha256 of the body as received. */
  bodySha256: string;
}

export function acs3CanonicalRequest(input: Acs3Input): string {
  const headers = canonicalHeaders(input.headers);
  return [
    input.method.toUpperCase(),
    '/',
    canonicalQuery(input.query),
    headers.text,
    headers.names.join(';'),
    input.bodySha256,
  ].join('\n');
}

export function acs3StringToSign(canonicalRequest: string): string {
  return `${ACS3_ALGORITHM}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
}

export function acs3Signature(secret: string, input: Acs3Input): string {
  return createHmac('sha256', secret)
    .update(acs3StringToSign(acs3CanonicalRequest(input)))
    .digest('hex');
}

export interface Acs3Authorization {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex`; undefined when malformed. */
export function parseAcs3Authorization(header: string): Acs3Authorization | undefined {
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space) !== ACS3_ALGORITHM) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKeyId || signedHeaders === undefined || !signature) return undefined;
  return { accessKeyId, signedHeaders: signedHeaders.split(';').filter(Boolean), signature };
}

/** The legacy RPC signature: base64(HMAC-SHA1(secret + '&', METHOD&%2F&enc(query))). */
export function rpcSignature(
  secret: string,
  method: string,
  params: Readonly<Record<string, string>>,
): string {
  const signed = { ...params };
  delete signed.Signature;
  const stringToSign = `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonicalQuery(signed))}`;
  return createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
}
