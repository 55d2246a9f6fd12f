/**
 * An ECS/VPC error as the wire carries it: an HTTP status, a dotted code and a message. Handlers
 * throw it; the server turns it into the JSON error body the SDK parses (ECS-API.md §1.6).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. x-acs-retry-after on Throttling. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Statuses of codes a test may inject by name (FaultSpec.errorCode). Anything not listed is a
 * 400, the status ECS uses for most client errors.
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  InternalError: 500,
  ServiceUnavailable: 503,
  Throttling: 400,
  'Throttling.User': 400,
  'Throttling.Api': 400,
  'InvalidEniId.NotFound': 404,
  'InvalidInstanceId.NotFound': 403,
  'InvalidVSwitchId.NotFound': 404,
  'InvalidVSwitchId.IpNotEnough': 403,
  EniPerInstanceLimitExceeded: 403,
  MaxEniPrivateIpsCountExceeded: 403,
  MaxEniCountExceeded: 403,
  'Operation.Conflict': 403,
  'InvalidIp.IpUnassigned': 403,
  IdempotentProcessing: 403,
};

const MESSAGE_BY_CODE: Readonly<Record<string, string>> = {
  InternalError: 'The request processing has failed due to some unknown error.',
  ServiceUnavailable: 'The request has failed due to a temporary failure of the server.',
  Throttling: 'Request was denied due to request throttling.',
  'Operation.Conflict': 'The operation may conflicts with others, please try again later.',
};

export function statusOfCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 400;
}

/** The error a fault injection raises: the code's real status and its usual message. */
export function injectedError(code: string): ApiError {
  return new ApiError(
    statusOfCode(code),
    code,
    MESSAGE_BY_CODE[code] ?? `Injected fault: ${code}.`,
  );
}

export function missingParameter(name: string, status = 400): ApiError {
  return new ApiError(
    status,
    'MissingParameter',
    `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
  );
}

export function invalidParameter(name: string, detail: string): ApiError {
  return new ApiError(
    400,
    'InvalidParameter',
    `The specified parameter "${name}" is not valid: ${detail}`,
  );
}

export function parameterConflict(a: string, b: string): ApiError {
  return new ApiError(
    400,
    'InvalidParameter.Conflict',
    `The parameters "${a}" and "${b}" cannot be specified at the same time.`,
  );
}

export function eniNotFound(eniId: string): ApiError {
  return new ApiError(
    404,
    'InvalidEniId.NotFound',
    `The specified network interface ${eniId} does not exist.`,
  );
}

export function invalidEniState(eniId: string, status: string, operation: string): ApiError {
  return new ApiError(
    400,
    'InvalidOperation.InvalidEniState',
    `The operation ${operation} is not allowed in the current status (${status}) of ENI ${eniId}.`,
  );
}

export function throttled(retryAfterMs: number | undefined): ApiError {
  const headers: Record<string, string> =
    retryAfterMs === undefined
      ? {}
      : { 'x-acs-retry-after': String(Math.max(1, Math.ceil(retryAfterMs))) };
  return new ApiError(400, 'Throttling', 'Request was denied due to request throttling.', headers);
}
