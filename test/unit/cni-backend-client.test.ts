/**
 * The shim's hand-framed HTTP/2 client, through both exchanges (node:net, and the blocking one
 * over the shim's addon), against Node's own HTTP/2 server (nghttp2), which frames replies the
 * way grpc-js does: HPACK with Huffman strings and a dynamic table, CONTINUATION for a big header
 * block, several DATA frames for a big body, RST_STREAM and GOAWAY. The server runs in a worker
 * thread (test/support/h2-scenario-server.mjs): the blocking exchange stops this thread's loop.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { invokeBackend } from '../../src/cni/backend-client.js';
import { CNI_CODES, CniError } from '../../src/cni/cni-error.js';
import type { UdsAddon } from '../../src/cni/transport/blocking-exchange.js';
import { blockingExchange, loadUdsAddon } from '../../src/cni/transport/blocking-exchange.js';
import type { Exchange } from '../../src/cni/transport/exchange.js';
import { netExchange } from '../../src/cni/transport/net-exchange.js';
import { BACKEND_METHODS } from '../../src/rpc/generated/backend-methods.js';
import { builtShimAddon, REPO_ROOT } from '../support/bins.js';

function builtUdsAddon(): UdsAddon {
  const addon = loadUdsAddon(builtShimAddon());
  if (addon instanceof Error) throw addon;
  return addon;
}

let dir: string;
let socketPath: string;
let worker: Worker;

function ask<T>(
  message: object,
  answer: (reply: Record<string, unknown>) => T | undefined,
): Promise<T> {
  return new Promise((resolve) => {
    const listener = (reply: Record<string, unknown>) => {
      const value = answer(reply);
      if (value === undefined) return;
      worker.off('message', listener);
      resolve(value);
    };
    worker.on('message', listener);
    worker.postMessage(message);
  });
}

const scenario = (name: string, body?: Buffer) =>
  ask({ scenario: name, body }, (reply) => (reply.ready === true ? true : undefined));

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

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tn-h2-'));
  socketPath = join(dir, 'eni.sock');
  worker = new Worker(join(REPO_ROOT, 'test', 'support', 'h2-scenario-server.mjs'), {
    workerData: { socketPath },
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => resolve());
  });
});

afterAll(async () => {
  await ask({ close: true }, (reply) => (reply.closed === true ? true : undefined));
  await worker.terminate();
  rmSync(dir, { recursive: true, force: true });
});

const exchanges: Array<[string, () => Exchange]> = [
  ['node:net', () => netExchange],
  ['the blocking addon', () => blockingExchange(builtUdsAddon())],
];

describe.each(exchanges)('invokeBackend over a hand-framed HTTP/2 connection (%s)', (_, make) => {
  let exchange: Exchange;
  beforeAll(() => {
    exchange = make();
  });

  const call = (timeoutMs = 2_000, path = socketPath) =>
    invokeBackend({ socketPath: path, timeoutMs }, 'Status', {}, undefined, exchange);

  async function callError(timeoutMs = 2_000, path = socketPath): Promise<CniError> {
    const error = await call(timeoutMs, path).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(CniError);
    return error as CniError;
  }

  test('sends a well-formed gRPC request and decodes headers, body and trailers', async () => {
    await scenario('ok', statusReply('all good'));
    const reply = await call();
    expect(reply).toMatchObject({ ready: true, canAllocate: true, reason: 'all good' });
    const seen = await ask({ report: true }, (answer) =>
      'seen' in answer
        ? (answer.seen as { headers: Record<string, string>; body: number[] })
        : undefined,
    );
    expect(seen.headers).toMatchObject({
      ':method': 'POST',
      ':path': '/terway.v1.Backend/Status',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '2000m',
    });
    // An empty StatusRequest: the 5-byte gRPC prefix and nothing else.
    expect(seen.body).toEqual([0, 0, 0, 0, 0]);
  });

  test('a 200 KB reply crosses several DATA frames and the default 64 KiB window', async () => {
    await scenario('ok', statusReply('x'.repeat(200_000)));
    const reply = await call();
    expect(reply.reason).toHaveLength(200_000);
  });

  test('a trailers-only error keeps its status, message and terway metadata', async () => {
    await scenario('trailers-only');
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('no idle IP: pool empty');
    expect(error.details).toContain('terway-error-code POOL_EXHAUSTED');
  });

  test('trailers too big for one frame arrive through CONTINUATION frames', async () => {
    await scenario('continuation');
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.INTERNAL);
    expect(error.message).toContain('d'.repeat(40_000));
  });

  test('a stream reset by the server is a retryable failure, not a hang', async () => {
    await scenario('reset');
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('reset the stream (HTTP/2 error 2)');
  });

  test('a body without trailers is refused as a missing gRPC status', async () => {
    await scenario('no-trailers', statusReply('no trailers'));
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('without a gRPC status');
  });

  test('a non-200 HTTP status is named', async () => {
    await scenario('status-503');
    const error = await callError();
    expect(error.message).toMatch(/HTTP status 503|without a gRPC status/);
  });

  test('a silent server runs into the deadline, named in seconds', async () => {
    await scenario('silent');
    const started = Date.now();
    const error = await callError(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain('did not answer Status within 0.3s');
  });

  test('a server that goes away mid-call (GOAWAY with an error) is reported', async () => {
    await scenario('goaway');
    const error = await callError();
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toMatch(/HTTP\/2 error 11: calm down|closed the connection/);
  });

  test('no daemon at the socket is a retryable "not reachable"', async () => {
    const absent = join(dir, 'absent.sock');
    const error = await callError(2_000, absent);
    expect(error.code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(error.message).toContain(`terwayd is not reachable at ${absent}`);
  });
});
