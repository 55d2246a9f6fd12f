import * as grpc from '@grpc/grpc-js';
import type { BackendClient } from '../rpc/generated/terway/v1/Backend.js';
import type { IntrospectionClient } from '../rpc/generated/terway/v1/Introspection.js';
import type { ListFlowsReply__Output } from '../rpc/generated/terway/v1/ListFlowsReply.js';
import type { ListFlowsRequest } from '../rpc/generated/terway/v1/ListFlowsRequest.js';
import type { ListMappingsReply__Output } from '../rpc/generated/terway/v1/ListMappingsReply.js';
import type { ShowServicesReply__Output } from '../rpc/generated/terway/v1/ShowServicesReply.js';
import type { StatusReply__Output } from '../rpc/generated/terway/v1/StatusReply.js';
import type { ShowFactoryReply__Output } from '../rpc/generated/terway/v1/ShowFactoryReply.js';
import { terwayProto } from '../rpc/proto.js';
import { compareIp } from '../util/ipv4.js';
import { unixTarget } from '../rpc/socket-address.js';

/** An operator waits on a prompt: a hung daemon must turn into an error, not a frozen shell. */
export const CALL_DEADLINE_MS = 5_000;

export type CliErrorCode = 'UNREACHABLE' | 'RPC_FAILED' | 'NOT_READY';

/** A failure already phrased for the operator; main prints the message and exits 1. */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
  }
}

/** The read-only calls the cli makes; an interface so main can be tested without a daemon. */
export interface Introspection {
  showFactory(socketPath: string): Promise<ShowFactoryReply__Output>;
  listMappings(socketPath: string): Promise<ListMappingsReply__Output>;
  showServices(socketPath: string, filter: string): Promise<ShowServicesReply__Output>;
  listFlows(socketPath: string, request: ListFlowsRequest): Promise<ListFlowsReply__Output>;
  /** The Backend service's Status, as the CNI STATUS verb asks it: is terwayd serving? */
  status(socketPath: string): Promise<StatusReply__Output>;
}

export const grpcIntrospection: Introspection = {
  showFactory: (socketPath) =>
    unary<ShowFactoryReply__Output>(
      socketPath,
      'ShowFactory',
      introspectionClient,
      (client, options, done) => client.ShowFactory({}, options, done),
    ),
  listMappings: (socketPath) =>
    unary<ListMappingsReply__Output>(
      socketPath,
      'ListMappings',
      introspectionClient,
      (client, options, done) => client.ListMappings({}, options, done),
    ),
  showServices: (socketPath, filter) =>
    streamed<ShowServicesReply__Output>(socketPath, 'ShowServices', (client, options) =>
      client.ShowServices({ filter }, options),
    ).then((parts) => {
      // The daemon streams frontends in its map's hash order; a person reads them by address.
      const reply = mergeParts(parts, 'frontends');
      reply.frontends.sort(
        (a, b) =>
          compareIp(a.address, b.address) ||
          a.port - b.port ||
          a.protocol.localeCompare(b.protocol),
      );
      return reply;
    }),
  listFlows: (socketPath, request) =>
    streamed<ListFlowsReply__Output>(socketPath, 'ListFlows', (client, options) =>
      client.ListFlows(request, options),
    ).then((parts) => mergeParts(parts, 'flows')),
  status: (socketPath) =>
    unary<StatusReply__Output, BackendClient>(
      socketPath,
      'Status',
      (target) => new (terwayProto().terway.v1.Backend)(target, grpc.credentials.createInsecure()),
      (client, options, done) => client.Status({}, options, done),
    ),
};

/**
 * A listing streams in parts while the daemon keeps serving pods between them; all of a full flow
 * map (262,144 records) takes seconds, so a listing gets longer than a single call before the cli
 * gives up.
 */
export const STREAM_DEADLINE_MS = 120_000;

type Invoke<T, C> = (client: C, options: grpc.CallOptions, done: grpc.requestCallback<T>) => void;

function introspectionClient(target: string): IntrospectionClient {
  return new (terwayProto().terway.v1.Introspection)(target, grpc.credentials.createInsecure());
}

function unary<T, C extends grpc.Client = IntrospectionClient>(
  socketPath: string,
  method: string,
  connect: (target: string) => C,
  invoke: Invoke<T, C>,
): Promise<T> {
  const client = connect(unixTarget(socketPath));
  return new Promise<T>((resolve, reject) => {
    invoke(client, { deadline: Date.now() + CALL_DEADLINE_MS }, (error, reply) => {
      // One call per process: close now so the channel's timers do not hold the exit.
      client.close();
      if (error) reject(describeCallError(error, socketPath, method));
      else if (reply === undefined) {
        reject(
          new CliError('RPC_FAILED', `terwayd at ${socketPath} sent an empty ${method} reply`),
        );
      } else resolve(reply);
    });
  });
}

/**
 * Collects every part of a server-streamed listing. A stream that ends in an error is the error,
 * not a partial listing.
 */
function streamed<T>(
  socketPath: string,
  method: string,
  open: (client: IntrospectionClient, options: grpc.CallOptions) => grpc.ClientReadableStream<T>,
): Promise<T[]> {
  const client = introspectionClient(unixTarget(socketPath));
  return new Promise<T[]>((resolve, reject) => {
    const parts: T[] = [];
    const stream = open(client, { deadline: Date.now() + STREAM_DEADLINE_MS });
    stream.on('data', (part: T) => parts.push(part));
    stream.on('error', (error: grpc.ServiceError) => {
      client.close();
      reject(describeCallError(error, socketPath, method, STREAM_DEADLINE_MS));
    });
    stream.on('end', () => {
      client.close();
      if (parts.length === 0) {
        reject(
          new CliError('RPC_FAILED', `terwayd at ${socketPath} sent an empty ${method} reply`),
        );
      } else resolve(parts);
    });
  });
}

/** One reply from a listing's parts: the first part's other fields, every part's `list`. */
export function mergeParts<T extends object, K extends keyof T>(parts: readonly T[], list: K): T {
  const items = parts.flatMap((part) => part[list] as unknown[]);
  return { ...parts[0]!, [list]: items };
}

/** Turns a gRPC status into one line an operator can act on. */
export function describeCallError(
  error: grpc.ServiceError,
  socketPath: string,
  method: string,
  deadlineMs: number = CALL_DEADLINE_MS,
): CliError {
  const reason = connectionReason(error.details || error.message);
  switch (error.code) {
    case grpc.status.UNAVAILABLE:
      return new CliError(
        'UNREACHABLE',
        `cannot reach terwayd at ${socketPath}: ${reason} (is the daemon running? use --socket)`,
        { cause: error },
      );
    case grpc.status.DEADLINE_EXCEEDED:
      return new CliError(
        'UNREACHABLE',
        `terwayd at ${socketPath} did not answer ${method} within ${deadlineMs / 1000}s` +
          ' (is the daemon stuck or still starting?)',
        { cause: error },
      );
    case grpc.status.UNIMPLEMENTED:
      return new CliError(
        'RPC_FAILED',
        `terwayd at ${socketPath} does not serve ${method} (is it an older version than this cli?)`,
        { cause: error },
      );
    default:
      return new CliError(
        'RPC_FAILED',
        `terwayd at ${socketPath} failed ${method}: ${reason} (${grpc.status[error.code] ?? error.code})`,
        { cause: error },
      );
  }
}

/**
 * grpc-js wraps the socket error as "No connection established. Last error: Error: connect
 * ENOENT /path (...)"; the operator needs only the errno part.
 */
function connectionReason(details: string): string {
  const match = /connect (E[A-Z]+)\b/.exec(details);
  if (match?.[1] !== undefined) return CONNECT_ERRNO_TEXT[match[1]] ?? match[1];
  return details.replace(/\s+/g, ' ').trim() || 'unknown error';
}

const CONNECT_ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such socket (ENOENT)',
  ECONNREFUSED: 'connection refused, nothing is listening (ECONNREFUSED)',
  EACCES: 'permission denied, try as root (EACCES)',
  ENOTSOCK: 'not a socket (ENOTSOCK)',
};
