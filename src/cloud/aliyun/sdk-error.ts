/**
 * Reads what the Alibaba Cloud SDK throws (openapi-core's ThrottlingError / ClientError /
 * ServerError, `RequestTimeoutError`, plain Node socket errors) into one shape the ApiCaller can
 * decide on, and into the CloudError the rest of the daemon understands.
 *
 * Duck-typed rather than `instanceof`: the legacy openapi-client path and a second copy of
 * openapi-core in node_modules throw look-alike classes that `instanceof` would miss.
 */
import { CloudError, isCloudError } from '../cloud-error.js';

/** Our code for "no HTTP answer": refused, reset, DNS, TLS, ... */
export const NETWORK_ERROR_CODE = 'NetworkError';
/** Our code for the SDK's read/connect timeout (`RequestTimeoutError`). */
export const REQUEST_TIMEOUT_CODE = 'RequestTimeout';
/** Something that is neither an API answer nor a transport failure (a bug, a proxy's HTML page). */
export const UNKNOWN_ERROR_CODE = 'UnknownError';

/** The SDK itself classifies throttling by this substring in the code, whatever the status. */
const THROTTLING_MARK = 'Throttling';
/** ECS's transient server-side codes, also seen with suffixes (`InternalError.Dispatch`). */
const TRANSIENT_CODE_PREFIXES = ['InternalError', 'ServiceUnavailable'];
const SERVER_ERROR_STATUS = 500;

/** Node / undici errno codes that mean the request may never have reached ECS. */
const NETWORK_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
]);
const UNDICI_ERRNO_PREFIX = 'UND_ERR_';
/** fetch wraps the socket error in `cause`; a few levels is plenty. */
const MAX_CAUSE_DEPTH = 4;
/** Messages go into logs and gRPC errors: long enough for ECS's sentence, no stack dumps. */
const MAX_DETAIL_CHARS = 300;

export type SdkErrorKind = 'api' | 'network' | 'timeout' | 'unknown';

export interface SdkErrorInfo {
  kind: SdkErrorKind;
  /** The ECS code, or NetworkError / RequestTimeout / UnknownError. */
  cloudCode: string;
  statusCode: number | undefined;
  requestId: string | undefined;
  /** Short, human: ECS's Message and the HTTP status, or the socket error. */
  detail: string;
  retryable: boolean;
  throttled: boolean;
  /** x-acs-retry-after, in ms, when ECS sent it. */
  retryAfterMs: number | undefined;
}

type Bag = Record<string, unknown>;

function asBag(value: unknown): Bag | undefined {
  return typeof value === 'object' && value !== null ? (value as Bag) : undefined;
}

function stringField(bag: Bag | undefined, ...keys: string[]): string | undefined {
  if (bag === undefined) return undefined;
  for (const key of keys) {
    const value = bag[key];
    // The SDK stringifies absent fields: `${undefined}` reaches us as "undefined".
    if (typeof value === 'string' && value !== '' && value !== 'undefined') return value;
  }
  return undefined;
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_DETAIL_CHARS ? oneLine : `${oneLine.slice(0, MAX_DETAIL_CHARS)}…`;
}

export function isThrottlingCode(code: string): boolean {
  return code.includes(THROTTLING_MARK);
}

function isTransientCode(code: string): boolean {
  return TRANSIENT_CODE_PREFIXES.some((prefix) => code === prefix || code.startsWith(`${prefix}.`));
}

/** The server's x-acs-retry-after in ms, when the error carries a usable one. */
export function retryAfterMs(error: unknown): number | undefined {
  const raw = asBag(error)?.['retryAfter'];
  const value = typeof raw === 'string' ? Number.parseInt(raw, 10) : raw;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function networkErrno(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    const bag = asBag(current);
    if (bag === undefined) return undefined;
    const code = bag['code'];
    if (
      typeof code === 'string' &&
      (NETWORK_ERRNOS.has(code) || code.startsWith(UNDICI_ERRNO_PREFIX))
    )
      return code;
    current = bag['cause'];
  }
  return undefined;
}

function statusOf(bag: Bag): number | undefined {
  const status = bag['statusCode'];
  return typeof status === 'number' && Number.isInteger(status) ? status : undefined;
}

/** ECS's own sentence, without the SDK's "code: 403, ... request id: ..." wrapping. */
function apiMessage(bag: Bag, code: string): string {
  const data = asBag(bag['data']);
  const fromBody = stringField(data, 'Message', 'message');
  if (fromBody !== undefined) return fromBody;
  const message = stringField(bag, 'message') ?? '';
  return message
    .replace(new RegExp(`^${code.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), '')
    .replace(/^code: \d+, /, '')
    .replace(/ request id: \S*$/, '');
}

export function classifySdkError(error: unknown): SdkErrorInfo {
  if (isCloudError(error)) {
    return {
      kind: 'api',
      cloudCode: error.cloudCode ?? UNKNOWN_ERROR_CODE,
      statusCode: undefined,
      requestId: error.requestId,
      detail: clip(error.message),
      retryable: error.retryable,
      throttled: isThrottlingCode(error.cloudCode ?? ''),
      retryAfterMs: undefined,
    };
  }
  const bag = asBag(error) ?? {};
  const name = stringField(bag, 'name');
  const code = stringField(bag, 'code');
  const statusCode = statusOf(bag);
  const requestId = stringField(bag, 'requestId') ?? stringField(asBag(bag['data']), 'RequestId');

  // An API answer: the SDK saw a 4xx/5xx body with a Code.
  if (statusCode !== undefined) {
    const cloudCode = code ?? UNKNOWN_ERROR_CODE;
    const throttled = isThrottlingCode(cloudCode);
    const message = apiMessage(bag, cloudCode);
    return {
      kind: 'api',
      cloudCode,
      statusCode,
      requestId,
      detail: clip(message === '' ? `HTTP ${statusCode}` : `${message} (HTTP ${statusCode})`),
      retryable: throttled || isTransientCode(cloudCode) || statusCode >= SERVER_ERROR_STATUS,
      throttled,
      retryAfterMs: retryAfterMs(error),
    };
  }
  if (name === 'RequestTimeoutError') {
    return transport('timeout', REQUEST_TIMEOUT_CODE, stringField(bag, 'message') ?? 'timed out');
  }
  const errno = networkErrno(error);
  if (errno !== undefined) {
    const message = stringField(bag, 'message') ?? errno;
    return transport(
      'network',
      NETWORK_ERROR_CODE,
      message.includes(errno) ? message : `${errno}: ${message}`,
    );
  }
  const text =
    error instanceof Error
      ? `${error.name}: ${error.message}`
      : `non-error thrown: ${String(error)}`;
  return {
    kind: 'unknown',
    cloudCode: UNKNOWN_ERROR_CODE,
    statusCode,
    requestId,
    detail: clip(text),
    retryable: false,
    throttled: false,
    retryAfterMs: undefined,
  };
}

function transport(kind: 'network' | 'timeout', cloudCode: string, detail: string): SdkErrorInfo {
  return {
    kind,
    cloudCode,
    statusCode: undefined,
    requestId: undefined,
    detail: clip(detail),
    retryable: true,
    throttled: false,
    retryAfterMs: undefined,
  };
}

/** Whether one more attempt of the same request (same ClientToken) may succeed. */
export function isRetryableSdkError(error: unknown): boolean {
  return classifySdkError(error).retryable;
}

/** The CloudError for `api`: ECS's code and RequestId, a short message, the SDK error as cause. */
export function toCloudError(error: unknown, api: string): CloudError {
  if (isCloudError(error)) return error;
  const info = classifySdkError(error);
  return new CloudError(info.cloudCode, info.detail, {
    operation: api,
    ...(info.requestId === undefined ? {} : { requestId: info.requestId }),
    cause: error,
    retryable: info.retryable,
  });
}
