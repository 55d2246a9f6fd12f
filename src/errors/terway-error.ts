/**
 * Every failure the daemon reports is data with a code, so the gRPC layer, the shim and the logs
 * can act on it without parsing messages.
 */
export const ERROR_CODES = [
  /** The caller sent something malformed (missing pod name, bad container id, ...). */
  'INVALID_ARGUMENT',
  /** The configuration file is invalid; startup refuses it. */
  'INVALID_CONFIG',
  /** No idle IP appeared before the caller's deadline. */
  'POOL_EXHAUSTED',
  /** The pool cannot grow: every ENI slot and IP slot is used. */
  'POOL_AT_CAPACITY',
  /** The daemon is starting or stopping and does not serve yet. */
  'NOT_READY',
  /** A cloud API call failed; `cloudCode` carries the provider's own code. */
  'CLOUD_ERROR',
  /** The durable store could not be read or written. */
  'STORE_ERROR',
  /** Another daemon already owns the state directory or socket. */
  'ALREADY_RUNNING',
  /** Programming a link, address, route, rule or neighbour failed. */
  'KERNEL_ERROR',
  /** The pod's network namespace does not exist (or is not a namespace). */
  'NETNS_NOT_FOUND',
  /** The pod's ENI has no link on the node (not attached yet, or removed behind our back). */
  'ENI_LINK_MISSING',
  /** CHECK found the kernel state different from what the daemon configured. */
  'DATAPATH_DRIFT',
  /** Loading, pinning or attaching the BPF program, or reading or writing its maps, failed. */
  'BPF_ERROR',
  /** The Kubernetes API failed or answered something unusable (list, watch, decode). */
  'KUBERNETES_ERROR',
  /** Anything else: a bug, or an environment problem we did not anticipate. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class TerwayError extends Error {
  readonly code: ErrorCode;
  /** Provider error code (e.g. ECS `InvalidVSwitchId.IpNotEnough`) when code is CLOUD_ERROR. */
  readonly cloudCode: string | undefined;
  /** True when retrying the same operation later may succeed. */
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; cloudCode?: string; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TerwayError';
    this.code = code;
    this.cloudCode = options.cloudCode;
    this.retryable = options.retryable ?? false;
  }
}

export function isTerwayError(value: unknown): value is TerwayError {
  return value instanceof TerwayError;
}

/** Wraps anything thrown into a TerwayError, keeping the original as `cause`. */
export function toTerwayError(value: unknown, fallback: ErrorCode = 'INTERNAL'): TerwayError {
  if (value instanceof TerwayError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new TerwayError(fallback, message, { cause: value });
}
