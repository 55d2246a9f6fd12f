import { describe, expect, test } from '@jest/globals';
import { ClientError, ServerError, ThrottlingError } from '@alicloud/openapi-core';

import { CloudError } from '../../src/cloud/cloud-error.js';
import {
  classifySdkError,
  isRetryableSdkError,
  NETWORK_ERROR_CODE,
  REQUEST_TIMEOUT_CODE,
  retryAfterMs,
  toCloudError,
  UNKNOWN_ERROR_CODE,
} from '../../src/cloud/aliyun/sdk-error.js';

/** Builds the map openapi-core's client.js passes to its error classes for a 4xx/5xx answer. */
function sdkErrorMap(
  statusCode: number,
  code: string,
  message: string,
  requestId: string | undefined,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const data = { RequestId: requestId, HostId: 'ecs.aliyuncs.com', Code: code, Message: message };
  return {
    statusCode,
    code: `${code}`,
    message: `code: ${statusCode}, ${message} request id: ${requestId}`,
    detail: `${undefined}`,
    description: `${undefined}`,
    data,
    requestId: `${requestId}`,
    ...extra,
  };
}

function nodeError(code: string, message: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(message);
  error.code = code;
  return error;
}

describe('classifySdkError on the real openapi-core classes', () => {
  test('ThrottlingError: throttled, retryable, with its retry-after, status and RequestId', () => {
    const error = new ThrottlingError(
      sdkErrorMap(400, 'Throttling.User', 'Request was denied due to user flow control.', 'R-1', {
        retryAfter: 1500,
      }),
    );
    const info = classifySdkError(error);
    expect(info).toMatchObject({
      kind: 'api',
      cloudCode: 'Throttling.User',
      statusCode: 400,
      requestId: 'R-1',
      retryable: true,
      throttled: true,
      retryAfterMs: 1500,
    });
    expect(info.detail).toBe('Request was denied due to user flow control. (HTTP 400)');
  });

  test('ClientError IpNotEnough: not retryable; the CloudError keeps code, RequestId, api, cause', () => {
    const error = new ClientError(
      sdkErrorMap(
        403,
        'InvalidVSwitchId.IpNotEnough',
        'The specified VSwitch has not enough IpAddress.',
        'R-2',
      ),
    );
    expect(isRetryableSdkError(error)).toBe(false);
    const cloud = toCloudError(error, 'CreateNetworkInterface');
    expect(cloud).toBeInstanceOf(CloudError);
    expect(cloud.cloudCode).toBe('InvalidVSwitchId.IpNotEnough');
    expect(cloud.requestId).toBe('R-2');
    expect(cloud.operation).toBe('CreateNetworkInterface');
    expect(cloud.retryable).toBe(false);
    expect(cloud.cause).toBe(error);
    expect(cloud.message).toContain('CreateNetworkInterface: InvalidVSwitchId.IpNotEnough:');
    expect(cloud.message).toContain('The specified VSwitch has not enough IpAddress. (HTTP 403)');
    expect(cloud.message).toContain('[RequestId R-2]');
    // The SDK's own wrapping ("code: 403, ... request id: ...") is not repeated.
    expect(cloud.message).not.toContain('request id:');
  });

  test.each([
    ['InvalidParameter', 400],
    ['EniPerInstanceLimitExceeded', 403],
    ['InvalidEniId.NotFound', 404],
    ['IdempotentParameterMismatch', 400],
    ['MaxEniPrivateIpsCountExceeded', 403],
    ['InvalidOperation.InvalidEniState', 400],
  ])('ClientError %s is not retryable', (code, status) => {
    const error = new ClientError(sdkErrorMap(status, code, 'nope', 'R-x'));
    expect(classifySdkError(error)).toMatchObject({ cloudCode: code, retryable: false });
    expect(toCloudError(error, 'X').retryable).toBe(false);
  });

  test.each([
    ['InternalError', 500],
    ['ServiceUnavailable', 503],
    ['InternalError.Dispatch', 500],
    ['SomethingNew', 502],
  ])('ServerError %s (%d) is retryable, even with an unknown code', (code, status) => {
    const error = new ServerError(sdkErrorMap(status, code, 'try later', 'R-5'));
    const cloud = toCloudError(error, 'AssignPrivateIpAddresses');
    expect(cloud.cloudCode).toBe(code);
    expect(cloud.retryable).toBe(true);
    expect(cloud.message).toContain('(retryable)');
  });

  test('a 5xx without any Code is still retryable', () => {
    const error = new ServerError(sdkErrorMap(502, `${undefined}`, 'bad gateway', undefined));
    const info = classifySdkError(error);
    expect(info).toMatchObject({ cloudCode: UNKNOWN_ERROR_CODE, statusCode: 502, retryable: true });
    // The SDK stringifies an absent RequestId; it must not reach the logs as "undefined".
    expect(info.requestId).toBeUndefined();
  });

  test('a Throttling code is throttled whatever the status', () => {
    const error = new ThrottlingError(sdkErrorMap(429, 'Throttling', 'slow down', 'R-9'));
    expect(classifySdkError(error)).toMatchObject({ throttled: true, retryAfterMs: undefined });
  });
});

describe('transport failures', () => {
  test('RequestTimeoutError maps to RequestTimeout, retryable', () => {
    const error = new Error('ReadTimeout(3000). POST http://ecs.aliyuncs.com/ failed.');
    error.name = 'RequestTimeoutError';
    const cloud = toCloudError(error, 'AttachNetworkInterface');
    expect(cloud.cloudCode).toBe(REQUEST_TIMEOUT_CODE);
    expect(cloud.retryable).toBe(true);
    expect(cloud.message).toContain('ReadTimeout(3000)');
  });

  test.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'UND_ERR_SOCKET'])(
    '%s maps to NetworkError, retryable',
    (errno) => {
      const info = classifySdkError(nodeError(errno, `connect ${errno} 1.2.3.4:443`));
      expect(info).toMatchObject({
        kind: 'network',
        cloudCode: NETWORK_ERROR_CODE,
        retryable: true,
      });
      expect(info.detail).toContain(errno);
    },
  );

  test("a socket error wrapped in fetch's cause is found", () => {
    const error = new TypeError('fetch failed', {
      cause: nodeError('UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error'),
    });
    const info = classifySdkError(error);
    expect(info.cloudCode).toBe(NETWORK_ERROR_CODE);
    expect(info.detail).toBe('UND_ERR_CONNECT_TIMEOUT: fetch failed');
  });

  test('a non-JSON error body (SyntaxError) is not retried', () => {
    const info = classifySdkError(new SyntaxError('Unexpected token < in JSON at position 0'));
    expect(info).toMatchObject({
      kind: 'unknown',
      cloudCode: UNKNOWN_ERROR_CODE,
      retryable: false,
    });
  });

  test('a thrown non-error is described, not crashed on', () => {
    expect(classifySdkError('boom').detail).toBe('non-error thrown: boom');
  });
});

describe('toCloudError and retryAfterMs details', () => {
  test('an existing CloudError passes through unchanged', () => {
    const original = new CloudError('InvalidEniId.NotFound', 'gone', { operation: 'X' });
    expect(toCloudError(original, 'Y')).toBe(original);
    expect(classifySdkError(original)).toMatchObject({ cloudCode: 'InvalidEniId.NotFound' });
  });

  test('very long messages are clipped to one short line', () => {
    const long = `first line\n${'x'.repeat(2000)}`;
    const error = new ClientError(sdkErrorMap(400, 'InvalidParameter', long, 'R-3'));
    const detail = classifySdkError(error).detail;
    expect(detail.length).toBeLessThanOrEqual(301);
    expect(detail).not.toContain('\n');
  });

  test('falls back to the SDK message when the body has no Message', () => {
    const error = new ClientError({
      statusCode: 404,
      code: 'InvalidEniId.NotFound',
      message: 'code: 404, The ENI does not exist. request id: R-4',
      data: {},
      requestId: 'R-4',
    });
    expect(classifySdkError(error).detail).toBe('The ENI does not exist. (HTTP 404)');
  });

  test('retryAfterMs reads numbers and numeric strings, ignores junk', () => {
    expect(retryAfterMs({ retryAfter: 250 })).toBe(250);
    expect(retryAfterMs({ retryAfter: '750' })).toBe(750);
    expect(retryAfterMs({ retryAfter: Number.NaN })).toBeUndefined();
    expect(retryAfterMs({ retryAfter: -1 })).toBeUndefined();
    expect(retryAfterMs({})).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});
