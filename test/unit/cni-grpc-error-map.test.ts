import { describe, expect, test } from '@jest/globals';
import { Metadata, status } from '@grpc/grpc-js';
import type { CallContext } from '../../src/cni/grpc-error-map.js';
import { mapBackendError } from '../../src/cni/grpc-error-map.js';
import { toGrpcError, TerwayError } from '../../src/rpc/error-status.js';
import type { ErrorCode } from '../../src/errors/terway-error.js';

const ADD: CallContext = {
  method: 'AllocateIP',
  socketPath: '/var/run/eni/eni.socket',
  timeoutMs: 60_000,
  subject: 'default/nginx',
};

function grpcError(code: status, details: string, metadata = new Metadata()) {
  return { code, details, message: `${code} ${status[code]}: ${details}`, metadata };
}

function fromDaemon(code: ErrorCode, message: string) {
  const wire = toGrpcError(new TerwayError(code, message));
  return grpcError(wire.code, wire.details, wire.metadata);
}

describe('mapBackendError', () => {
  test('an unreachable daemon is 11 and names the socket', () => {
    const error = mapBackendError(
      grpcError(
        status.UNAVAILABLE,
        'No connection established. Last error: connect ENOENT. Resolution note: ',
      ),
      ADD,
    );
    expect(error.code).toBe(11);
    expect(error.message).toBe(
      'terwayd is not reachable at /var/run/eni/eni.socket: No connection established. Last error: connect ENOENT.',
    );
  });

  test('a connect error that is not a gRPC status is also 11', () => {
    expect(mapBackendError(new Error('connect ECONNREFUSED'), ADD).code).toBe(11);
  });

  test('DEADLINE_EXCEEDED on ADD says the pool had no IP before the deadline', () => {
    const error = mapBackendError(grpcError(status.DEADLINE_EXCEEDED, 'Deadline exceeded'), ADD);
    expect(error.code).toBe(11);
    expect(error.message).toContain('no free IP for default/nginx before the 60s deadline');
  });

  test('DEADLINE_EXCEEDED elsewhere says the daemon did not answer', () => {
    const error = mapBackendError(grpcError(status.DEADLINE_EXCEEDED, 'Deadline exceeded'), {
      ...ADD,
      method: 'ReleaseIP',
      timeoutMs: 30_000,
    });
    expect(error.code).toBe(11);
    expect(error.message).toContain('did not answer ReleaseIP for default/nginx within 30s');
  });

  test.each([
    ['POOL_EXHAUSTED', 11, 'no free IP for default/nginx before the 60s deadline'],
    ['POOL_AT_CAPACITY', 11, 'at capacity'],
    ['NOT_READY', 11, 'not ready'],
    ['CLOUD_ERROR', 11, 'cloud API'],
    ['INVALID_ARGUMENT', 999, 'rejected AllocateIP'],
    ['STORE_ERROR', 999, 'failed AllocateIP'],
    ['INTERNAL', 999, 'failed AllocateIP'],
  ] as const)('terway-error-code %s maps to %i', (code, cni, text) => {
    const error = mapBackendError(fromDaemon(code, 'daemon says so'), ADD);
    expect(error.code).toBe(cni);
    expect(error.message).toContain(text);
    expect(error.message).toContain('daemon says so');
    expect(error.details).toContain(code);
  });

  test('RESOURCE_EXHAUSTED without a daemon code is still 11', () => {
    expect(mapBackendError(grpcError(status.RESOURCE_EXHAUSTED, 'empty'), ADD).code).toBe(11);
  });

  test('the cloud error code rides along in the message', () => {
    const wire = toGrpcError(
      new TerwayError('CLOUD_ERROR', 'throttled', { cloudCode: 'Throttling.User' }),
    );
    const error = mapBackendError(grpcError(wire.code, wire.details, wire.metadata), ADD);
    expect(error.message).toContain('[Throttling.User]');
  });

  test.each([
    [status.UNIMPLEMENTED, 'does not implement AllocateIP'],
    [status.NOT_FOUND, 'no record for default/nginx'],
    [status.INTERNAL, 'failed AllocateIP'],
    [status.UNKNOWN, 'failed AllocateIP'],
  ])('gRPC status %i is 999', (code, text) => {
    const error = mapBackendError(grpcError(code, 'boom'), ADD);
    expect(error.code).toBe(999);
    expect(error.message).toContain(text);
    expect(error.details).toContain(status[code]);
  });
});
