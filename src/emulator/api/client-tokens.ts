/**
 * ClientToken idempotency (ECS-API.md §2.3): the same token with the same parameters replays the
 * first successful answer; the same token with other parameters is IdempotentParameterMismatch.
 * Failures are not remembered, so a retry after an error really retries.
 */
import { ApiError, invalidParameter } from '../wire/api-error.js';
import type { Params } from '../wire/params.js';
import type { ResponseBody } from '../wire/response-body.js';

/** Oldest tokens are forgotten beyond this, bounding memory in long runs. */
const MAX_REMEMBERED_TOKENS = 10_000;
const MAX_TOKEN_LENGTH = 64;

interface Remembered {
  fingerprint: string;
  body: ResponseBody;
}

export class ClientTokenCache {
  private readonly entries = new Map<string, Remembered>();

  run(api: string, params: Params, compute: () => ResponseBody): ResponseBody {
    const token = params.optional('ClientToken');
    if (token === undefined) return compute();
    if (token.length > MAX_TOKEN_LENGTH || !/^[\x20-\x7e]+$/.test(token)) {
      throw invalidParameter('ClientToken', `at most ${MAX_TOKEN_LENGTH} ASCII characters`);
    }
    const key = `${api}\n${token}`;
    const fingerprint = fingerprintOf(params.all());
    const seen = this.entries.get(key);
    if (seen !== undefined) {
      if (seen.fingerprint !== fingerprint) {
        throw new ApiError(
          400,
          'IdempotentParameterMismatch',
          'The request is retried with updated parameters.',
        );
      }
      return structuredClone(seen.body);
    }
    const body = compute();
    this.entries.set(key, { fingerprint, body: structuredClone(body) });
    if (this.entries.size > MAX_REMEMBERED_TOKENS) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return body;
  }
}

function fingerprintOf(params: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.keys(params)
      .filter((name) => name !== 'ClientToken')
      .sort()
      .map((name) => [name, params[name]]),
  );
}
