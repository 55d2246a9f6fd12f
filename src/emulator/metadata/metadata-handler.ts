/**
 * The emulated instance metadata service (100.100.100.200) for one instance at a time: the
 * IMDSv2 token handshake, the token rules of ECS "security hardening mode", and the path tree.
 * Status codes and bodies follow ECS-API.md §4 so the real client cannot tell the difference.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Clock } from '../../util/clock.js';
import { lookupMetadata } from './metadata-paths.js';
import type { MetadataSource } from './metadata-source.js';
import { MetadataTokenStore, parseTokenTtl } from './metadata-tokens.js';

export const TOKEN_PATH = '/latest/api/token';
/** Node lower-cases incoming header names. */
export const TOKEN_HEADER = 'x-aliyun-ecs-metadata-token';
export const TOKEN_TTL_HEADER = 'x-aliyun-ecs-metadata-token-ttl-seconds';
const FORWARDED_FOR_HEADER = 'x-forwarded-for';

const BODY_BAD_TTL = 'Missing or Invalid Parameters';
const BODY_FORWARDED = 'Forbidden: requests through a proxy (X-Forwarded-For) are refused';
const BODY_TOKEN_REQUIRED = 'Forbidden: a metadata token is required';
const BODY_BAD_TOKEN = 'Unauthorized: invalid or expired metadata token';

export interface MetadataHandlerOptions {
  clock: Clock;
  /** When true, a GET without a valid token gets 403 (ECS `HttpTokens=required`). */
  requireToken?: boolean;
  /**
   * The token table; pass one to share it between handlers or to revoke every token from a test
   * (as an IMDS restart would). Default: a private table on `clock`.
   */
  tokens?: MetadataTokenStore;
}

/**
 * Serves one instance's metadata. `path` is what follows the instance's URL prefix, e.g.
 * `/latest/meta-data/instance-id` or `/latest/api/token`.
 */
export type MetadataRequestHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  instanceId: string,
  path: string,
) => void;

function reply(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  response.end(body);
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function pathOnly(path: string): string {
  return path.split('?', 1)[0] ?? '';
}

export function createMetadataHandler(
  source: MetadataSource,
  options: MetadataHandlerOptions,
): MetadataRequestHandler {
  const tokens = options.tokens ?? new MetadataTokenStore(options.clock);
  const requireToken = options.requireToken ?? false;

  function issueToken(request: IncomingMessage, response: ServerResponse, instanceId: string) {
    if (headerValue(request, FORWARDED_FOR_HEADER) !== undefined) {
      reply(response, 403, BODY_FORWARDED);
      return;
    }
    const ttl = parseTokenTtl(request.headers[TOKEN_TTL_HEADER]);
    if (ttl === undefined) {
      reply(response, 400, BODY_BAD_TTL);
      return;
    }
    reply(response, 200, tokens.issue(instanceId, ttl), { [TOKEN_TTL_HEADER]: String(ttl) });
  }

  function serveGet(
    request: IncomingMessage,
    response: ServerResponse,
    instanceId: string,
    path: string,
  ) {
    const token = headerValue(request, TOKEN_HEADER);
    if (token !== undefined && tokens.check(token, instanceId) !== 'valid') {
      reply(response, 401, BODY_BAD_TOKEN);
      return;
    }
    if (token === undefined && requireToken) {
      reply(response, 403, BODY_TOKEN_REQUIRED);
      return;
    }
    // Read on every request: ENIs attach and detach, IPs come and go.
    const view = source.instance(instanceId);
    const found = view === undefined ? undefined : lookupMetadata(source, view, path);
    if (found === undefined || !found.found) {
      reply(response, 404, 'Not Found');
      return;
    }
    reply(response, 200, found.body);
  }

  return (request, response, instanceId, path) => {
    // Nothing here reads a body; drain it so a keep-alive connection stays usable.
    request.resume();
    const method = request.method ?? 'GET';
    const isTokenPath = pathOnly(path) === TOKEN_PATH;
    // The token path takes PUT only, every other path GET only.
    if (method !== (isTokenPath ? 'PUT' : 'GET')) {
      reply(response, 405, 'Method Not Allowed', { allow: isTokenPath ? 'PUT' : 'GET' });
      return;
    }
    if (source.instance(instanceId) === undefined) {
      reply(response, 404, 'Not Found');
      return;
    }
    if (method === 'PUT') issueToken(request, response, instanceId);
    else serveGet(request, response, instanceId, path);
  };
}
