/**
 * Decides whether a request is signed by a key this account knows, the way the ECS gateway
 * does: a known AccessKeyId (static or emulator-issued STS), a signature that matches, a
 * timestamp within 15 minutes, and a nonce not seen before. It also separates the signature's
 * own query parameters from the business ones for the legacy RPC form.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { Clock } from '../../util/clock.js';
import { ApiError } from '../wire/api-error.js';
import {
  acs3Signature,
  canonicalHeaders,
  parseAcs3Authorization,
  rpcSignature,
} from './signature.js';
import type { HeaderBag } from './signature.js';
import type { StsIssuer } from './sts-issuer.js';

/** ECS refuses a timestamp further than this from its own clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** A nonce is remembered as long as its timestamp could still be accepted. */
const NONCE_MEMORY_MS = 2 * MAX_CLOCK_SKEW_MS;

/** Query parameters of the legacy RPC form that belong to the signature, not to the API. */
const RPC_COMMON_PARAMS: ReadonlySet<string> = new Set([
  'Action',
  'Version',
  'Format',
  'Timestamp',
  'SignatureNonce',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureType',
  'AccessKeyId',
  'SecurityToken',
  'Signature',
]);

export interface RawRequest {
  method: string;
  headers: HeaderBag;
  /** Decoded query parameters, every one of them. */
  query: Readonly<Record<string, string>>;
  body: Buffer;
}

export interface AuthenticatedRequest {
  accessKeyId: string;
  action: string;
  version: string;
  /** Business parameters only. */
  params: Record<string, string>;
  /** Instance whose role credentials signed the request; undefined for a static key. */
  stsInstanceId?: string;
}

export class Authenticator {
  private readonly nonces = new Map<string, number>();

  constructor(
    private readonly secrets: ReadonlyMap<string, string>,
    private readonly sts: StsIssuer,
    private readonly clock: Clock,
  ) {}

  authenticate(request: RawRequest): AuthenticatedRequest {
    return request.query.Signature !== undefined
      ? this.authenticateRpc(request)
      : this.authenticateAcs3(request);
  }

  private authenticateAcs3(request: RawRequest): AuthenticatedRequest {
    const headers = request.headers;
    const authorization = single(headers.authorization);
    if (authorization === undefined) {
      throw new ApiError(
        400,
        'IncompleteSignature',
        'The request signature does not conform to Aliyun standards: no Authorization header.',
      );
    }
    const parsed = parseAcs3Authorization(authorization);
    if (parsed === undefined) {
      throw new ApiError(
        400,
        'IncompleteSignature',
        'The request signature does not conform to Aliyun standards: malformed Authorization header.',
      );
    }
    const expected = canonicalHeaders(headers).names;
    const missing = expected.filter((name) => !parsed.signedHeaders.includes(name));
    if (!parsed.signedHeaders.includes('host') || missing.length > 0) {
      throw new ApiError(
        400,
        'IncompleteSignature',
        `The request signature does not conform to Aliyun standards: SignedHeaders must cover ${[...new Set(['host', ...missing])].join(';')}.`,
      );
    }
    const action = single(headers['x-acs-action']);
    const version = single(headers['x-acs-version']);
    if (!action)
      throw new ApiError(
        400,
        'MissingParameter',
        'The input parameter "x-acs-action" that is mandatory for processing this request is not supplied.',
      );
    if (!version)
      throw new ApiError(
        400,
        'MissingParameter',
        'The input parameter "x-acs-version" that is mandatory for processing this request is not supplied.',
      );

    const token = single(headers['x-acs-security-token']);
    const key = this.resolveSecret(parsed.accessKeyId, token);
    // The signature covers only what the client said it signed, and the body as it arrived.
    const signedHeaders: Record<string, string | string[] | undefined> = {};
    for (const name of parsed.signedHeaders) signedHeaders[name] = headers[name];
    const signature = acs3Signature(key.secret, {
      method: request.method,
      query: request.query,
      headers: signedHeaders,
      bodySha256: createHash('sha256').update(request.body).digest('hex'),
    });
    if (!sameText(signature, parsed.signature)) {
      throw new ApiError(
        400,
        'SignatureDoesNotMatch',
        'Specified signature is not matched with our calculation.',
      );
    }
    this.checkTimestamp(single(headers['x-acs-date']));
    this.checkNonce(single(headers['x-acs-signature-nonce']));
    return {
      accessKeyId: parsed.accessKeyId,
      action,
      version,
      params: { ...request.query },
      ...(key.instanceId === undefined ? {} : { stsInstanceId: key.instanceId }),
    };
  }

  private authenticateRpc(request: RawRequest): AuthenticatedRequest {
    const query = request.query;
    const action = query.Action ?? single(request.headers['x-acs-action']);
    const version = query.Version ?? single(request.headers['x-acs-version']);
    const accessKeyId = query.AccessKeyId;
    if (!accessKeyId)
      throw new ApiError(
        400,
        'MissingParameter',
        'The input parameter "AccessKeyId" that is mandatory for processing this request is not supplied.',
      );
    if (!action)
      throw new ApiError(
        400,
        'MissingParameter',
        'The input parameter "Action" that is mandatory for processing this request is not supplied.',
      );
    if (!version)
      throw new ApiError(
        400,
        'MissingParameter',
        'The input parameter "Version" that is mandatory for processing this request is not supplied.',
      );
    if (query.SignatureMethod !== undefined && query.SignatureMethod !== 'HMAC-SHA1') {
      throw new ApiError(
        400,
        'InvalidParameter.SignatureMethod',
        `Specified signature method ${query.SignatureMethod} is not supported.`,
      );
    }
    const key = this.resolveSecret(accessKeyId, query.SecurityToken);
    if (!sameText(rpcSignature(key.secret, request.method, query), query.Signature ?? '')) {
      throw new ApiError(
        400,
        'SignatureDoesNotMatch',
        'Specified signature is not matched with our calculation.',
      );
    }
    this.checkTimestamp(query.Timestamp);
    this.checkNonce(query.SignatureNonce);
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(query))
      if (!RPC_COMMON_PARAMS.has(name)) params[name] = value;
    return {
      accessKeyId,
      action,
      version,
      params,
      ...(key.instanceId === undefined ? {} : { stsInstanceId: key.instanceId }),
    };
  }

  private resolveSecret(
    accessKeyId: string,
    securityToken: string | undefined,
  ): { secret: string; instanceId?: string } {
    if (securityToken === undefined || securityToken === '') {
      const secret = this.secrets.get(accessKeyId);
      if (secret === undefined) {
        throw new ApiError(
          404,
          'InvalidAccessKeyId.NotFound',
          'Specified access key is not found.',
        );
      }
      return { secret };
    }
    const issued = this.sts.lookup(securityToken);
    if (issued === undefined) {
      throw new ApiError(
        400,
        'InvalidSecurityToken.Malformed',
        'Specified SecurityToken is malformed.',
      );
    }
    if (issued.accessKeyId !== accessKeyId) {
      throw new ApiError(
        400,
        'InvalidSecurityToken.MismatchWithAccessKey',
        'Specified SecurityToken mismatch with the AccessKey.',
      );
    }
    if (issued.expiresAt <= this.clock.now()) {
      throw new ApiError(
        400,
        'InvalidSecurityToken.Expired',
        'Specified SecurityToken is expired.',
      );
    }
    return { secret: issued.accessKeySecret, instanceId: issued.instanceId };
  }

  private checkTimestamp(value: string | undefined): void {
    const at = value === undefined ? NaN : Date.parse(value);
    if (
      value === undefined ||
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value) ||
      Number.isNaN(at)
    ) {
      throw new ApiError(
        400,
        'InvalidTimeStamp.Format',
        'Specified time stamp or date value is not well formatted.',
      );
    }
    if (Math.abs(at - this.clock.now()) > MAX_CLOCK_SKEW_MS) {
      throw new ApiError(
        400,
        'InvalidTimeStamp.Expired',
        'Specified time stamp or date value is expired.',
      );
    }
  }

  private checkNonce(nonce: string | undefined): void {
    if (nonce === undefined || nonce === '') return;
    const now = this.clock.now();
    if (this.nonces.size > 10_000) {
      for (const [seen, at] of this.nonces)
        if (at + NONCE_MEMORY_MS < now) this.nonces.delete(seen);
    }
    const seenAt = this.nonces.get(nonce);
    if (seenAt !== undefined && seenAt + NONCE_MEMORY_MS >= now) {
      throw new ApiError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    }
    this.nonces.set(nonce, now);
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
