/**
 * The trailer keys that carry a TerwayError across gRPC, and reading them back. Free of
 * @grpc/grpc-js, so the CNI shim can map errors without loading it.
 */
import type { ErrorCode } from '../errors/terway-error.js';
import { ERROR_CODES } from '../errors/terway-error.js';

/** Trailer carrying the TerwayError code across gRPC, so clients need not parse messages. */
export const ERROR_CODE_METADATA_KEY = 'terway-error-code';
export const CLOUD_CODE_METADATA_KEY = 'terway-cloud-code';

/** What errorCodeOf needs of grpc-js Metadata (or of the shim's own trailer view). */
export interface MetadataLike {
  get(key: string): Array<string | Buffer>;
}

/** The TerwayError code a failed call carried, if the daemon set one. */
export function errorCodeOf(error: { metadata?: MetadataLike }): ErrorCode | undefined {
  const value = error.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
    ? (value as ErrorCode)
    : undefined;
}
