/**
 * Reading requests and writing answers the way ECS does: JSON bodies, a fresh upper-case UUID
 * RequestId in the body and in `x-acs-request-id`, and the JSON error body the SDK parses.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';

import type { ApiError } from './api-error.js';

/** The SDK sends an empty body; anything this large is not an ECS call. */
const MAX_BODY_BYTES = 1024 * 1024;
const ERROR_HOST_ID = 'ecs.aliyuncs.com';

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

/** Decodes a query string; a repeated key keeps its first value, as ECS reads it. */
export function decodeQuery(search: string): Record<string, string> {
  const parsed = parseQueryString(search.startsWith('?') ? search.slice(1) : search);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value) ? (value[0] ?? '') : value;
  }
  return out;
}

export function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (response.destroyed || response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

export function sendApiResult(
  response: ServerResponse,
  requestId: string,
  body: Record<string, unknown>,
): void {
  sendJson(response, 200, { RequestId: requestId, ...body }, { 'x-acs-request-id': requestId });
}

export function sendApiError(
  response: ServerResponse,
  requestId: string,
  error: ApiError,
  product = 'Ecs',
): void {
  sendJson(
    response,
    error.status,
    {
      RequestId: requestId,
      HostId: product === 'Vpc' ? 'vpc.aliyuncs.com' : ERROR_HOST_ID,
      Code: error.code,
      Message: error.message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(error.code)}&product=${product}&requestId=${requestId}`,
    },
    { 'x-acs-request-id': requestId, ...error.headers },
  );
}
