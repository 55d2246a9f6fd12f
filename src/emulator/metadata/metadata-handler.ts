import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../util/clock.js';
import type { MetadataSource } from './metadata-source.js';

export interface MetadataHandlerOptions {
  clock: Clock;
  /** When true, a GET without a valid token gets 403 (ECS `HttpTokens=required`). */
  requireToken?: boolean;
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

/** Placeholder until the metadata service lands: every path is unknown. */
export function createMetadataHandler(
  _source: MetadataSource,
  _options: MetadataHandlerOptions,
): MetadataRequestHandler {
  return (_request, response) => {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('Not Found');
  };
}
