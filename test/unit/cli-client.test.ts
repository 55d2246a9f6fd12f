import { describe, expect, test } from '@jest/globals';
import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { CALL_DEADLINE_MS, describeCallError } from '../../src/cli/introspection-client.js';

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

const SOCKET = '/var/run/eni/eni.socket';

describe('describeCallError', () => {
  test.each([
    ['ENOENT', 'no such socket (ENOENT)'],
    ['ECONNREFUSED', 'connection refused, nothing is listening (ECONNREFUSED)'],
    ['EACCES', 'permission denied, try as root (EACCES)'],
  ])('an unavailable daemon (%s) names the socket and the fix', (errno, reason) => {
    const details = `No connection established. Last error: Error: connect ${errno} ${SOCKET} (2025-01-15T12:00:00.000Z)`;
    const error = describeCallError(
      serviceError(status.UNAVAILABLE, details),
      SOCKET,
      'ShowFactory',
    );
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toBe(
      `cannot reach terwayd at ${SOCKET}: ${reason} (is the daemon running? use --socket)`,
    );
  });

  test('an unknown transport failure keeps grpc’s text on one line', () => {
    const error = describeCallError(
      serviceError(status.UNAVAILABLE, 'Connection dropped\nby peer'),
      SOCKET,
      'ListMappings',
    );
    expect(error.message).toBe(
      `cannot reach terwayd at ${SOCKET}: Connection dropped by peer (is the daemon running? use --socket)`,
    );
  });

  test('a deadline says how long the cli waited', () => {
    const error = describeCallError(
      serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded'),
      SOCKET,
      'ShowFactory',
    );
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toContain(
      `did not answer ShowFactory within ${CALL_DEADLINE_MS / 1000}s`,
    );
  });

  test('an older daemon without the method is told apart from a failure', () => {
    const error = describeCallError(serviceError(status.UNIMPLEMENTED, ''), SOCKET, 'ListMappings');
    expect(error.code).toBe('RPC_FAILED');
    expect(error.message).toContain('does not serve ListMappings');
  });

  test('other statuses carry the daemon’s details and the status name', () => {
    const error = describeCallError(
      serviceError(status.FAILED_PRECONDITION, 'daemon is starting'),
      SOCKET,
      'ShowFactory',
    );
    expect(error.message).toBe(
      `terwayd at ${SOCKET} failed ShowFactory: daemon is starting (FAILED_PRECONDITION)`,
    );
  });
});
