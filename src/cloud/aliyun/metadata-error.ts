/**
 * Failures of the instance metadata service. They are `CloudError`s like any other cloud
 * failure (code CLOUD_ERROR, operation "metadata <path>"); the `cloudCode` says which kind, and
 * `path` names what was asked for so a log line is enough to reproduce the request with curl.
 */
import { CloudError } from '../cloud-error.js';

export const MetadataErrorCodes = {
  /** 404: the path does not exist, e.g. a MAC that is not (or no longer) attached. */
  NotFound: 'MetadataNotFound',
  /** 401 even with a freshly fetched token. */
  Unauthorized: 'MetadataUnauthorized',
  /** 403: a token is required, or the request went through a proxy (X-Forwarded-For). */
  Forbidden: 'MetadataForbidden',
  /** 429, 5xx, a network error or a timeout, still failing after the retries. */
  Unavailable: 'MetadataUnavailable',
  /** Any other HTTP status. */
  HttpError: 'MetadataHttpError',
  /** The body is not in the documented format. */
  Malformed: 'MetadataMalformed',
} as const;

export type MetadataErrorCode = (typeof MetadataErrorCodes)[keyof typeof MetadataErrorCodes];

const RETRYABLE: ReadonlySet<string> = new Set([MetadataErrorCodes.Unavailable]);

export class MetadataError extends CloudError {
  /** The request path, e.g. `/latest/meta-data/instance-id`. */
  readonly path: string;
  /** The HTTP status, when the service answered at all. */
  readonly status: number | undefined;

  constructor(
    cloudCode: MetadataErrorCode,
    path: string,
    detail: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(cloudCode, detail, {
      operation: `instance metadata ${path}`,
      retryable: RETRYABLE.has(cloudCode),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = 'MetadataError';
    this.path = path;
    this.status = options.status;
  }
}

export function isMetadataError(
  value: unknown,
  cloudCode?: MetadataErrorCode,
): value is MetadataError {
  return (
    value instanceof MetadataError && (cloudCode === undefined || value.cloudCode === cloudCode)
  );
}
