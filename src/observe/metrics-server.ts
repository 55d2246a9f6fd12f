/**
 * Serves a Prometheus registry at `GET /metrics` over plain HTTP (--metrics-address). Nothing else
 * is served: the daemon's control surface is its unix socket, root only, and this port is
 * read-only by construction.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

import { TerwayError } from '../errors/terway-error.js';
import { formatListenAddress, type ListenAddress } from '../util/listen-address.js';

export const METRICS_PATH = '/metrics';

export interface MetricsServer {
  /** Where it listens, with the port the kernel chose for port 0. */
  readonly address: ListenAddress;
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

export async function serveMetrics(options: {
  address: ListenAddress;
  registry: Registry;
  log: Logger;
}): Promise<MetricsServer> {
  const { registry, log } = options;
  const server = createServer((request, response) => {
    answer(registry, request, response).catch((error: unknown) => {
      log.warn({ err: error }, 'collecting the metrics failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`collecting the metrics failed: ${String(error)}\n`);
    });
  });
  await listen(server, options.address);
  const bound = server.address() as AddressInfo;
  const address = { host: options.address.host, port: bound.port };
  return {
    address,
    url: `http://${formatListenAddress(address)}${METRICS_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scrape still collecting (a slow collector) would hold close() open until it ended.
        server.closeAllConnections();
      }),
  };
}

async function answer(
  registry: Registry,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? '').split('?')[0];
  if (path !== METRICS_PATH) {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(`not found: only ${METRICS_PATH} is served here\n`);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
    response.end(`${request.method ?? ''} is not allowed: ${METRICS_PATH} is read-only\n`);
    return;
  }
  const body = await registry.metrics();
  response.writeHead(200, {
    'content-type': registry.contentType,
    'content-length': Buffer.byteLength(body),
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function listen(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = `${address.host}:${address.port}`;
      reject(
        error.code === 'EADDRINUSE'
          ? new TerwayError(
              'ALREADY_RUNNING',
              `the metrics address ${where} is in use (another terwayd, or another exporter on ` +
                'that port): choose another with --metrics-address',
            )
          : new TerwayError(
              'INVALID_CONFIG',
              `cannot serve metrics on ${where}: ${error.code ?? error.message}` +
                (error.code === 'EADDRNOTAVAIL' ? ' (no such address on this host)' : ''),
            ),
      );
    };
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
