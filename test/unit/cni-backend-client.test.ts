/**
 * The shim's hand-framed HTTP/2 client against Node's own HTTP/2 server (nghttp2), which frames
 * replies the way grpc-js does: HPACK with Huffman strings and a dynamic table, CONTINUATION for
 * a big header block, several DATA frames for a big body, RST_STREAM and GOAWAY.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http2';
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { invokeBackend } from '../../src/cni/backend-client.js';
import { CNI_CODES, CniError } from '../../src/cni/cni-error.js';
import { BACKEND_METHODS } from '../../src/rpc/generated/backend-methods.js';

type Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer) => void;

let dir: string;
let server: Http2Server;
let socketPath: string;
let handler: Handler;

function grpcBody(message: Uint8Array): Buffer {
  const body = Buffer.alloc(5 + message.length);
  body.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(body, 5);
  return body;
}

function statusReply(reason: string): Buffer {
  return grpcBody(
    BACKEND_METHODS.Status.responseType.encode({ ready: true, canAllocate: true, reason }).finish(),
  );
}

function call(timeoutMs = 2_000) {
  return invokeBackend({ socketPath, timeoutMs }, 'Status', {}, undefined);
}

async function callError(timeoutMs = 2_000): Promise<CniError> {
  const error = await call(timeoutMs).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(CniError);
  return error as CniError;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tn-h2-'));
  socketPath = join(dir, 'eni.sock');
  server = createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    // Resets and GOAWAYs are what some tests are about: the server side's errors are expected.
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => handler(stream, headers, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('invokeBackend over a hand-framed HTTP/2 connection', () => {
  test('sends a well-formed gRPC request and decodes headers, body and trailers', async () => {
    let seen: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
    handler = (stream, headers, body) => {
      seen = { headers, body };
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc+proto' },
        {
          waitForTrailers: true,
        },
      );
      stream.on('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' }),
      );
      stream.end(statusReply('all good'));
    };
    const reply = await call();
    expect(reply).toMatchObject({ ready: true, canAllocate: true, reason: 'all good' });
    expect(seen?.headers).toMatchObject({
      ':method': 'POST',
      ':path': '/terway.v1.Backend/Status',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '2000m',
    });
    // An empty StatusRequest: the 5-byte gRPC prefix and nothing else.
    expect([...(seen?.body ?? [])]).toEqual([0, 0, 0, 0, 0]);
  });

  test('a 200 KB reply crosses several DATA frames and the default 64 KiB window', async () => {
    const reason = 'x'.repeat(200_000);
    handler = (stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(statusReply(reason));
    };
    const reply = await call();
    expect(reply.reason).toHaveLength(200_000);
  });

  test('a trailers-only error keeps its status, message and terway metadata', async () => {
    handler = (stream) => {
      stream.respond(
        {
          ':status': 200,
          'grpc-status': '8',
          'grpc-message': encodeURIComponent('no idle IP: pool empty'),
          'terway-error-code': 'POOL_EXHAUSTED',
        },
        { endStream: true },
      );
    };
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('no idle IP: pool empty');
    expect(error.details).toContain('terway-error-code POOL_EXHAUSTED');
  });

  test('trailers too big for one frame arrive through CONTINUATION frames', async () => {
    const long = 'd'.repeat(40_000);
    handler = (stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers({
          'grpc-status': '3',
          'grpc-message': long,
          'terway-error-code': 'INVALID_ARGUMENT',
        }),
      );
      stream.end();
    };
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.INTERNAL);
    expect(error.message).toContain(long);
  });

  test('a stream reset by the server is a retryable failure, not a hang', async () => {
    handler = (stream) => stream.close(2); // INTERNAL_ERROR
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('reset the stream (HTTP/2 error 2)');
  });

  test('a body without trailers is refused as a missing gRPC status', async () => {
    handler = (stream) => {
      stream.respond({ ':status': 200 });
      stream.end(statusReply('no trailers'));
    };
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('without a gRPC status');
  });

  test('a non-200 HTTP status is named', async () => {
    handler = (stream) => stream.respond({ ':status': 503 }, { endStream: true });
    const error = await callError();
    expect(error.message).toMatch(/HTTP status 503|without a gRPC status/);
  });

  test('a silent server runs into the deadline, named in seconds', async () => {
    handler = () => undefined;
    const started = Date.now();
    const error = await callError(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('did not answer Status within 0.3s');
  });

  test('a server that goes away mid-call (GOAWAY with an error) is reported', async () => {
    handler = (stream) => stream.session?.goaway(11, 0, Buffer.from('calm down'));
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toMatch(/HTTP\/2 error 11: calm down|closed the connection/);
  });

  test('no daemon at the socket is a retryable "not reachable"', async () => {
    socketPath = join(dir, 'absent.sock');
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain(`terwayd is not reachable at ${socketPath}`);
  });
});
