import type { MetadataLike } from '../rpc/error-metadata.js';
import { CLOUD_CODE_METADATA_KEY, errorCodeOf } from '../rpc/error-metadata.js';
import { CNI_CODES, CniError } from './cni-error.js';

/** What a failed call was doing, so the message can say it in the operator's terms. */
export interface CallContext {
  method: string;
  socketPath: string;
  timeoutMs: number;
  /** "namespace/name" when the call is about one pod. */
  subject: string | undefined;
}

interface ServiceErrorLike {
  code: number;
  details?: string;
  message?: string;
  metadata?: MetadataLike;
}

/** gRPC status codes (grpc-js's \`status\` enum), without loading grpc-js into the shim. */
enum GrpcStatus {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

function isServiceError(value: unknown): value is ServiceErrorLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'number'
  );
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

function forSubject(ctx: CallContext): string {
  return ctx.subject === undefined ? '' : ` for ${ctx.subject}`;
}

/**
 * Maps a failed RPC to the CNI code the runtime acts on: 11 makes kubelet retry the sandbox, so
 * it is reserved for conditions that clear by themselves (daemon down or starting, pool empty,
 * cloud hiccup); anything else is 999 with the daemon's own words.
 */
export function mapBackendError(error: unknown, ctx: CallContext): CniError {
  if (!isServiceError(error)) {
    const text = error instanceof Error ? error.message : String(error);
    return new CniError(
      CNI_CODES.TRY_AGAIN_LATER,
      `terwayd is not reachable at ${ctx.socketPath}: ${text}`,
    );
  }
  // grpc-js appends an empty "Resolution note:" to connection failures on unix targets.
  const details = (error.details ?? error.message ?? '').replace(/\s*Resolution note:\s*$/, '');
  const terwayCode = errorCodeOf(error);
  const statusName = GrpcStatus[error.code] ?? String(error.code);
  const trace = `${ctx.method} failed with gRPC status ${statusName}${
    terwayCode === undefined ? '' : ` (terway-error-code ${terwayCode})`
  }`;
  const retry = (msg: string): CniError => new CniError(CNI_CODES.TRY_AGAIN_LATER, msg, trace);
  const other = (msg: string): CniError => new CniError(CNI_CODES.INTERNAL, msg, trace);

  switch (terwayCode) {
    case 'NOT_READY':
      return retry(`terwayd is not ready yet: ${details}`);
    case 'CLOUD_ERROR': {
      const cloudCode = error.metadata?.get(CLOUD_CODE_METADATA_KEY)[0];
      const suffix = typeof cloudCode === 'string' ? ` [${cloudCode}]` : '';
      return retry(
        `terwayd's cloud API call failed${forSubject(ctx)}, retry later: ${details}${suffix}`,
      );
    }
    case 'POOL_EXHAUSTED':
      return retry(
        `terwayd's IP pool had no free IP${forSubject(ctx)} before the ${seconds(ctx.timeoutMs)} deadline: ${details}`,
      );
    case 'ENI_LINK_MISSING':
      return retry(`terwayd cannot wire the pod${forSubject(ctx)} yet: ${details}`);
    case 'NETNS_NOT_FOUND':
      return new CniError(
        CNI_CODES.INVALID_ENVIRONMENT,
        `CNI_NETNS is not usable: ${details}`,
        trace,
      );
    case 'KERNEL_ERROR':
    case 'BPF_ERROR':
      return other(`terwayd could not program the datapath${forSubject(ctx)}: ${details}`);
    case 'POOL_AT_CAPACITY':
      return retry(
        `terwayd's IP pool is at capacity${forSubject(ctx)} (every ENI and IP slot is in use): ${details}`,
      );
    default:
      break;
  }

  switch (error.code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.CANCELLED:
      return retry(`terwayd is not reachable at ${ctx.socketPath}: ${details}`);
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return retry(`terwayd's IP pool had no free IP${forSubject(ctx)}: ${details}`);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return retry(
        ctx.method === 'AllocateIP'
          ? `terwayd's IP pool had no free IP${forSubject(ctx)} before the ${seconds(ctx.timeoutMs)} deadline (or the daemon did not answer)`
          : `terwayd did not answer ${ctx.method}${forSubject(ctx)} within ${seconds(ctx.timeoutMs)}`,
      );
    case GrpcStatus.NOT_FOUND:
      return other(`terwayd has no record${forSubject(ctx)}: ${details}`);
    case GrpcStatus.UNIMPLEMENTED:
      return other(
        `terwayd does not implement ${ctx.method}; is the daemon older than the plugin?`,
      );
    case GrpcStatus.INVALID_ARGUMENT:
      return other(`terwayd rejected ${ctx.method}${forSubject(ctx)}: ${details}`);
    default:
      return other(`terwayd failed ${ctx.method}${forSubject(ctx)}: ${details}`);
  }
}
