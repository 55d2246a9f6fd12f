import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { ErrorCode } from '../errors/terway-error.js';
import { TerwayError } from '../errors/terway-error.js';
import { CLOUD_CODE_METADATA_KEY, ERROR_CODE_METADATA_KEY } from './error-metadata.js';

export { CLOUD_CODE_METADATA_KEY, ERROR_CODE_METADATA_KEY, errorCodeOf } from './error-metadata.js';

const STATUS_BY_CODE: Record<ErrorCode, GrpcStatus> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  INVALID_CONFIG: GrpcStatus.FAILED_PRECONDITION,
  POOL_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  POOL_AT_CAPACITY: GrpcStatus.RESOURCE_EXHAUSTED,
  NOT_READY: GrpcStatus.UNAVAILABLE,
  CLOUD_ERROR: GrpcStatus.UNAVAILABLE,
  STORE_ERROR: GrpcStatus.INTERNAL,
  ALREADY_RUNNING: GrpcStatus.FAILED_PRECONDITION,
  KERNEL_ERROR: GrpcStatus.INTERNAL,
  NETNS_NOT_FOUND: GrpcStatus.FAILED_PRECONDITION,
  ENI_LINK_MISSING: GrpcStatus.UNAVAILABLE,
  DATAPATH_DRIFT: GrpcStatus.FAILED_PRECONDITION,
  BPF_ERROR: GrpcStatus.INTERNAL,
  KUBERNETES_ERROR: GrpcStatus.UNAVAILABLE,
  INTERNAL: GrpcStatus.INTERNAL,
};

export interface GrpcServiceError {
  code: GrpcStatus;
  details: string;
  metadata: Metadata;
}

export function toGrpcError(error: TerwayError): GrpcServiceError {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, error.code);
  if (error.cloudCode !== undefined) metadata.set(CLOUD_CODE_METADATA_KEY, error.cloudCode);
  return { code: STATUS_BY_CODE[error.code], details: error.message, metadata };
}

export { TerwayError };
