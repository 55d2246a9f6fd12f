/**
 * Shared by the metadata and credentials tests: a fake MetadataSource (a plain object the test
 * mutates), the real handler on 127.0.0.1, fault injection in front of it, and a logger whose
 * output is kept so tests can assert that secrets never reach it.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import pino from 'pino';

import { createMetadataHandler } from '../../src/emulator/metadata/metadata-handler.js';
import type {
  MetadataInstanceView,
  MetadataNic,
  MetadataSource,
  StsCredentials,
} from '../../src/emulator/metadata/metadata-source.js';
import { MetadataTokenStore } from '../../src/emulator/metadata/metadata-tokens.js';
import { LOG_REDACTION } from '../../src/log/logger.js';
import type { Logger } from '../../src/log/logger.js';
import type { FakeClock } from '../../src/util/fake-clock.js';

export const INSTANCE_ID = 'i-bp1testinstance';
export const PRIMARY_MAC = '00:16:3e:0a:0b:01';
export const SECONDARY_MAC = '00:16:3e:0a:0b:02';
export const ROLE = 'TerwayNodeRole';
export const STS_SECRET = 'sts-secret-DO-NOT-LOG-7f3a';
export const STS_TOKEN = 'sts-token-DO-NOT-LOG-CAES+9a';

export function primaryNic(): MetadataNic {
  return {
    mac: PRIMARY_MAC,
    eniId: 'eni-primary',
    primaryIp: '192.168.1.10',
    privateIps: ['192.168.1.10'],
    gateway: '192.168.1.253',
    netmask: '255.255.255.0',
    vswitchId: 'vsw-primary',
    vswitchCidr: '192.168.1.0/24',
    vpcId: 'vpc-test',
    vpcCidr: '192.168.0.0/16',
  };
}

export function secondaryNic(): MetadataNic {
  return {
    ...primaryNic(),
    mac: SECONDARY_MAC,
    eniId: 'eni-secondary',
    primaryIp: '192.168.1.20',
    privateIps: ['192.168.1.20', '192.168.1.21', '192.168.1.22'],
  };
}

export function instanceView(overrides: Partial<MetadataInstanceView> = {}): MetadataInstanceView {
  return {
    instanceId: INSTANCE_ID,
    instanceType: 'ecs.g6e.large',
    regionId: 'cn-hangzhou',
    zoneId: 'cn-hangzhou-i',
    hostname: 'iZbp1testinstanceZ',
    ownerAccountId: '1234567890123456',
    nics: [primaryNic()],
    ramRoleName: ROLE,
    ...overrides,
  };
}

/** A MetadataSource over plain maps; tests change them between requests. */
export class FakeMetadataSource implements MetadataSource {
  readonly views = new Map<string, MetadataInstanceView>();
  readonly credentials = new Map<string, StsCredentials>();
  credentialReads = 0;

  instance(instanceId: string): MetadataInstanceView | undefined {
    return this.views.get(instanceId);
  }

  roleCredentials(instanceId: string): StsCredentials | undefined {
    this.credentialReads++;
    return this.credentials.get(instanceId);
  }
}

export function stsCredentials(clock: FakeClock, lifetimeMs: number, suffix = ''): StsCredentials {
  return {
    accessKeyId: `STS.access-id${suffix}`,
    accessKeySecret: `${STS_SECRET}${suffix}`,
    securityToken: `${STS_TOKEN}${suffix}`,
    expiration: new Date(clock.now() + lifetimeMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    lastUpdated: new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

export interface RecordedRequest {
  method: string;
  path: string;
  token: string | undefined;
}

/** Runs before the handler; returning true means it answered the request itself. */
export type Interceptor = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface MetadataServer {
  baseUrl: string;
  /** The base URL of one instance's metadata, as the emulator's metadataUrl(instanceId). */
  url(instanceId?: string): string;
  requests: RecordedRequest[];
  tokens: MetadataTokenStore;
  /** Fault injection, consulted in order before the real handler. */
  interceptors: Interceptor[];
  close(): Promise<void>;
}

const PREFIX = '/instances/';

export async function startMetadataServer(
  source: MetadataSource,
  options: { clock: FakeClock; requireToken?: boolean },
): Promise<MetadataServer> {
  const tokens = new MetadataTokenStore(options.clock);
  const handler = createMetadataHandler(source, {
    clock: options.clock,
    tokens,
    ...(options.requireToken === undefined ? {} : { requireToken: options.requireToken }),
  });
  const requests: RecordedRequest[] = [];
  const interceptors: Interceptor[] = [];
  const server: Server = createServer((request, response) => {
    const url = request.url ?? '/';
    const token = request.headers['x-aliyun-ecs-metadata-token'];
    requests.push({
      method: request.method ?? '',
      path: url,
      token: typeof token === 'string' ? token : undefined,
    });
    for (const intercept of interceptors) {
      if (intercept(request, response)) return;
    }
    if (!url.startsWith(PREFIX)) {
      response.writeHead(404).end();
      return;
    }
    const rest = url.slice(PREFIX.length);
    const slash = rest.indexOf('/');
    const instanceId = slash < 0 ? rest : rest.slice(0, slash);
    handler(request, response, instanceId, slash < 0 ? '/' : rest.slice(slash));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    url: (instanceId = INSTANCE_ID) => `${baseUrl}${PREFIX}${instanceId}`,
    requests,
    tokens,
    interceptors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers the next `count` requests matching `method` with `status`. */
export function failNext(
  server: MetadataServer,
  status: number,
  count: number,
  method = 'GET',
): void {
  let remaining = count;
  server.interceptors.push((request, response) => {
    if (remaining <= 0 || request.method !== method) return false;
    remaining--;
    response.writeHead(status, { 'content-type': 'text/plain' }).end(`injected ${status}`);
    return true;
  });
}

export interface CapturedLog {
  log: Logger;
  text(): string;
  lines(): Array<Record<string, unknown>>;
}

/** A pino logger configured like the daemon's (same redaction), writing into memory. */
export function captureLog(): CapturedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const log = pino({ level: 'trace', ...LOG_REDACTION }, sink);
  return {
    log,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/**
 * Awaits `promise` while moving the fake clock forward, so retries that back off on the clock
 * (and real HTTP in between) both make progress.
 */
export async function drive<T>(clock: FakeClock, promise: Promise<T>, stepMs = 100): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => {
    settled = true;
  });
  // Keep a rejection from being reported as unhandled while we are still stepping.
  watched.catch(() => undefined);
  for (let steps = 0; !settled && steps < 10_000; steps++) {
    await clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return watched;
}
