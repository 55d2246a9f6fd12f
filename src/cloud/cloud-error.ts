import { TerwayError } from '../errors/terway-error.js';
import { CloudErrorCodes } from './provider.js';

/**
 * ECS's code for a malformed request (a count out of range, the primary IP in an unassign).
 * Not in `CloudErrorCodes` because the pool never reacts to it: it is a bug on our side.
 */
export const INVALID_PARAMETER = 'InvalidParameter';

/**
 * Codes that mean "the request was fine, the cloud was not": retrying the same call later may
 * succeed. Everything else (limits, bad ids, exhausted vSwitch) fails again until something
 * changes, so retrying it only burns the API quota.
 */
export const RETRYABLE_CLOUD_CODES: ReadonlySet<string> = new Set<string>([
  CloudErrorCodes.Throttling,
  CloudErrorCodes.InternalError,
  CloudErrorCodes.ServiceUnavailable,
]);

/** ECS also answers `Throttling.User` / `Throttling.Api`; the SDK classifies by prefix too. */
const THROTTLING_PREFIX = `${CloudErrorCodes.Throttling}.`;

export function isRetryableCloudCode(cloudCode: string): boolean {
  return RETRYABLE_CLOUD_CODES.has(cloudCode) || cloudCode.startsWith(THROTTLING_PREFIX);
}

const HINTS: Readonly<Record<string, string>> = {
  [CloudErrorCodes.EniPerInstanceLimitExceeded]:
    'the instance type allows no more ENIs; free one or use a larger instance type',
  [CloudErrorCodes.MaxEniPrivateIpsCountExceeded]:
    'the ENI holds as many private IPs as its instance type allows',
  [CloudErrorCodes.VSwitchIpNotEnough]:
    'the vSwitch has no free addresses; add a vSwitch to the config or release IPs',
  [CloudErrorCodes.EniNotFound]: 'the ENI does not exist (deleted out of band?)',
  [CloudErrorCodes.InvalidEniState]: 'the ENI is mid-transition; retry once it settles',
  [CloudErrorCodes.EniAttachFailed]:
    'ECS failed the attach; the ENI is deleted and a new one will be created',
};

export interface CloudErrorOptions {
  /** The provider operation, e.g. "AssignPrivateIpAddresses", for logs. */
  operation?: string;
  /** ECS RequestId, quoted in tickets to Alibaba Cloud support. */
  requestId?: string;
  cause?: unknown;
  /** Overrides the code table for failures it cannot know: transport errors, an unlisted 5xx. */
  retryable?: boolean;
}

/** A failed cloud call. `cloudCode` is the provider's own code (ECS `Code`). */
export class CloudError extends TerwayError {
  readonly operation: string | undefined;
  readonly requestId: string | undefined;

  constructor(cloudCode: string, detail: string, options: CloudErrorOptions = {}) {
    const retryable = options.retryable ?? isRetryableCloudCode(cloudCode);
    super('CLOUD_ERROR', CloudError.describe(cloudCode, detail, retryable, options), {
      cloudCode,
      retryable,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = 'CloudError';
    this.operation = options.operation;
    this.requestId = options.requestId;
  }

  private static describe(
    cloudCode: string,
    detail: string,
    retryable: boolean,
    options: CloudErrorOptions,
  ): string {
    const where = options.operation === undefined ? '' : `${options.operation}: `;
    const hint = HINTS[cloudCode];
    const parts = [`${where}${cloudCode}: ${detail}`];
    if (hint !== undefined) parts.push(`(${hint})`);
    if (retryable) parts.push('(retryable)');
    if (options.requestId !== undefined) parts.push(`[RequestId ${options.requestId}]`);
    return parts.join(' ');
  }
}

export function isCloudError(value: unknown, cloudCode?: string): value is CloudError {
  return value instanceof CloudError && (cloudCode === undefined || value.cloudCode === cloudCode);
}
