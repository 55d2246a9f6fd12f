/** The exchange over node:net: the fallback where the shim's addon is not installed. */
import { connect } from 'node:net';

import { DEADLINE_EXCEEDED, failure, UNAVAILABLE } from '../grpc-unary-response.js';
import type { Exchange } from './exchange.js';

export const netExchange: Exchange = (target, request, handlers) => {
  let settled = false;
  const socket = connect(target.socketPath);
  const settle = (): void => {
    settled = true;
    clearTimeout(timer);
    socket.destroy();
  };
  const fail: typeof handlers.onFailure = (outcome) => {
    if (settled) return;
    settle();
    handlers.onFailure(outcome);
  };
  const timer = setTimeout(
    () => fail(failure(DEADLINE_EXCEEDED, 'Deadline exceeded')),
    target.timeoutMs,
  );
  const send = (bytes: Buffer): void => {
    socket.write(bytes);
  };
  socket.on('error', fail);
  socket.on('close', () => fail(failure(UNAVAILABLE, 'terwayd closed the connection mid-call')));
  socket.on('data', (chunk: Buffer) => {
    if (!settled && handlers.onData(chunk, send)) settle();
  });
  socket.write(request);
};
