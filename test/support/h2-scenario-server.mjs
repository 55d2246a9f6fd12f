// An HTTP/2 server on a unix socket in a worker thread, for the shim client's tests: the
// blocking exchange stops the test's own event loop while it waits, so the server must run on
// another. Node's HTTP/2 (nghttp2) frames replies as grpc-js does: HPACK with Huffman and a
// dynamic table, CONTINUATION for a big header block, several DATA frames for a big body.
//
// workerData: { socketPath }. Messages in: { scenario, body? } (answered { ready: true });
// { report: true } (answered with what the last request carried). Posts { listening: true }.
// Plain JavaScript so a worker runs it directly; every global it uses is imported.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http2';
import { parentPort, workerData } from 'node:worker_threads';

let scenario = { scenario: 'silent' };
let seen;

const SCENARIOS = {
  ok(stream, body) {
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc+proto' },
      { waitForTrailers: true },
    );
    stream.on('wantTrailers', () =>
      stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' }),
    );
    stream.end(body);
  },
  'trailers-only'(stream) {
    stream.respond(
      {
        ':status': 200,
        'grpc-status': '8',
        'grpc-message': encodeURIComponent('no idle IP: pool empty'),
        'terway-error-code': 'POOL_EXHAUSTED',
      },
      { endStream: true },
    );
  },
  continuation(stream) {
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () =>
      stream.sendTrailers({
        'grpc-status': '3',
        'grpc-message': 'd'.repeat(40_000),
        'terway-error-code': 'INVALID_ARGUMENT',
      }),
    );
    stream.end();
  },
  reset(stream) {
    stream.close(2); // INTERNAL_ERROR
  },
  'no-trailers'(stream, body) {
    stream.respond({ ':status': 200 });
    stream.end(body);
  },
  'status-503'(stream) {
    stream.respond({ ':status': 503 }, { endStream: true });
  },
  silent() {},
  goaway(stream) {
    stream.session?.goaway(11, 0, Buffer.from('calm down'));
  },
};

const server = createServer();
server.on('stream', (stream, headers) => {
  const chunks = [];
  // Resets and GOAWAYs are what some scenarios are about: the server side's errors are expected.
  stream.on('error', () => undefined);
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('end', () => {
    seen = { headers: { ...headers }, body: [...Buffer.concat(chunks)] };
    SCENARIOS[scenario.scenario](
      stream,
      scenario.body === undefined ? undefined : Buffer.from(scenario.body),
    );
  });
});
server.listen(workerData.socketPath, () => parentPort.postMessage({ listening: true }));

parentPort.on('message', (message) => {
  if (message.report === true) {
    parentPort.postMessage({ seen });
    return;
  }
  if (message.close === true) {
    server.close(() => parentPort.postMessage({ closed: true }));
    return;
  }
  if (!(message.scenario in SCENARIOS)) throw new Error(`unknown scenario ${message.scenario}`);
  scenario = message;
  seen = undefined;
  parentPort.postMessage({ ready: true });
});
