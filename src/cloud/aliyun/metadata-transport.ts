/**
 * HTTP to the instance metadata service: the IMDSv2 token (cached for half its TTL, as terway
 * does), one re-fetch after a 401, retries with backoff for 429, 5xx and network errors, and a
 * per-request timeout. Tokens never reach the logs.
 */
import { TerwayError } from '../../errors/terway-error.js';
import type { Logger } from '../../log/logger.js';
import { sleep } from '../../util/clock.js';
import type { Clock } from '../../util/clock.js';
import { MetadataError, MetadataErrorCodes } from './metadata-error.js';

export const DEFAULT_TOKEN_TTL_SECONDS = 21_600;
export const MAX_TOKEN_TTL_SECONDS = 21_600;
/** Long enough for a loaded host, short enough that a missing IMDS fails startup quickly. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;
const MAX_REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 3;
const MAX_RETRIES = 10;
const RETRY_BASE_DELAY_MS = 200;
const RETRY_MAX_DELAY_MS = 2_000;
/** A token is re-fetched once this fraction of its TTL has passed, well before it expires. */
const TOKEN_REUSE_FRACTION = 0.5;

const TOKEN_PATH = '/latest/api/token';
const TOKEN_HEADER = 'X-aliyun-ecs-metadata-token';
const TOKEN_TTL_HEADER = 'X-aliyun-ecs-metadata-token-ttl-seconds';

export interface MetadataTransportOptions {
  baseUrl: string;
  clock: Clock;
  log: Logger;
  tokenTtlSeconds?: number;
  requestTimeoutMs?: number;
  maxRetries?: number;
}

interface CachedToken {
  value: string;
  refreshAt: number;
}

interface HttpAnswer {
  status: number;
  body: string;
}

function retryDelay(attempt: number): number {
  return Math.min(RETRY_BASE_DELAY_MS * 2 ** attempt, RETRY_MAX_DELAY_MS);
}

function tokenHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { [TOKEN_HEADER]: token };
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `metadata client: ${name} must be an integer in ${min}..${max}, got ${value}`,
    );
  }
}

export class MetadataTransport {
  private readonly baseUrl: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly tokenTtlSeconds: number;
  private readonly requestTimeoutMs: number;
  private readonly maxRetries: number;
  private token: CachedToken | undefined;
  private tokenInFlight: Promise<string | undefined> | undefined;
  /** Set once the service turns out to have no token endpoint (very old IMDS). */
  private tokenless = false;

  constructor(options: MetadataTransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.clock = options.clock;
    this.log = options.log;
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    checkRange('tokenTtlSeconds', this.tokenTtlSeconds, 1, MAX_TOKEN_TTL_SECONDS);
    checkRange('requestTimeoutMs', this.requestTimeoutMs, 1, MAX_REQUEST_TIMEOUT_MS);
    checkRange('maxRetries', this.maxRetries, 0, MAX_RETRIES);
  }

  /** GETs `path` (from the service root, e.g. `/latest/meta-data/instance-id`). */
  async get(path: string): Promise<string> {
    for (let retries = 0; ; retries++) {
      try {
        return await this.getOnce(path);
      } catch (error) {
        const retryable = error instanceof MetadataError && error.retryable;
        if (!retryable || retries >= this.maxRetries) throw error;
        const delayMs = retryDelay(retries);
        this.log.warn(
          { path, retry: retries + 1, delayMs, reason: (error as Error).message },
          'instance metadata request failed; retrying',
        );
        await sleep(this.clock, delayMs);
      }
    }
  }

  private async getOnce(path: string): Promise<string> {
    let token = await this.currentToken();
    let answer = await this.send('GET', path, tokenHeaders(token));
    if (answer.status === 401 && token !== undefined) {
      // The service forgot the token (a restart) or expired it early: one fresh token, at once.
      this.dropToken(token);
      token = await this.currentToken();
      answer = await this.send('GET', path, tokenHeaders(token));
    }
    if (answer.status === 200) return answer.body;
    throw this.statusError(path, answer);
  }

  /** The cached token, a fresh one, or undefined when the service predates tokens. */
  private async currentToken(): Promise<string | undefined> {
    if (this.tokenless) return undefined;
    if (this.token !== undefined && this.clock.now() < this.token.refreshAt) {
      return this.token.value;
    }
    // Single flight: a burst of GETs at startup shares one PUT.
    this.tokenInFlight ??= this.fetchToken().finally(() => {
      this.tokenInFlight = undefined;
    });
    return this.tokenInFlight;
  }

  private dropToken(token: string): void {
    // Another request may already have replaced it; keep the newer one.
    if (this.token?.value === token) this.token = undefined;
  }

  private async fetchToken(): Promise<string | undefined> {
    const requestedAt = this.clock.now();
    const answer = await this.send('PUT', TOKEN_PATH, {
      [TOKEN_TTL_HEADER]: String(this.tokenTtlSeconds),
    });
    if (answer.status === 404 || answer.status === 405) {
      this.tokenless = true;
      this.log.warn(
        { status: answer.status },
        'instance metadata has no token endpoint; using token-less (IMDSv1) requests',
      );
      return undefined;
    }
    if (answer.status !== 200) throw this.statusError(TOKEN_PATH, answer);
    const value = answer.body.trim();
    if (value === '') {
      throw new MetadataError(MetadataErrorCodes.Malformed, TOKEN_PATH, 'empty token', {
        status: answer.status,
      });
    }
    const reuseMs = this.tokenTtlSeconds * 1000 * TOKEN_REUSE_FRACTION;
    this.token = { value, refreshAt: requestedAt + reuseMs };
    this.log.debug({ ttlSeconds: this.tokenTtlSeconds }, 'fetched an instance metadata token');
    return value;
  }

  private async send(
    method: 'GET' | 'PUT',
    path: string,
    headers: Record<string, string>,
  ): Promise<HttpAnswer> {
    try {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
        redirect: 'error',
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      const timedOut = describeThrown(error).name === 'TimeoutError';
      const detail = timedOut
        ? `no answer within ${this.requestTimeoutMs} ms`
        : `request failed: ${networkReason(error)}`;
      throw new MetadataError(MetadataErrorCodes.Unavailable, path, detail, { cause: error });
    }
  }

  private statusError(path: string, answer: HttpAnswer): MetadataError {
    const { status } = answer;
    const options = { status };
    if (status === 404) {
      return new MetadataError(MetadataErrorCodes.NotFound, path, 'not found (404)', options);
    }
    if (status === 401) {
      return new MetadataError(
        MetadataErrorCodes.Unauthorized,
        path,
        'token refused (401) even after fetching a new one',
        options,
      );
    }
    if (status === 403) {
      return new MetadataError(
        MetadataErrorCodes.Forbidden,
        path,
        'forbidden (403): a token is required, or the request went through a proxy',
        options,
      );
    }
    if (status === 429 || status >= 500) {
      return new MetadataError(MetadataErrorCodes.Unavailable, path, `HTTP ${status}`, options);
    }
    return new MetadataError(MetadataErrorCodes.HttpError, path, `HTTP ${status}`, options);
  }
}

/** The fields of a thrown value; duck-typed because fetch's errors may come from another realm. */
function describeThrown(error: unknown): { name?: unknown; message?: unknown; cause?: unknown } {
  return typeof error === 'object' && error !== null ? error : { message: String(error) };
}

/** undici hides the useful part ("ECONNREFUSED") in `cause`. */
function networkReason(error: unknown): string {
  const { message, cause } = describeThrown(error);
  const { code } = describeThrown(cause) as { code?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' ? `${text} (${code})` : text;
}
