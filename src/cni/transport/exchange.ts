/**
 * How the shim's one gRPC call reaches terwayd: bytes out, bytes in, over the daemon's unix
 * socket. Two ways to do it (choose-exchange.ts): blocking syscalls through the shim's small addon,
 * or node:net when the addon is missing.
 */
import type { CallFailure } from '../grpc-unary-response.js';

export interface ExchangeHandlers {
  /**
   * Each chunk terwayd sends, with a way to answer on the connection (SETTINGS and PING acks).
   * Returns true once the call has its outcome; the exchange then closes the connection.
   */
  onData(chunk: Buffer, send: (bytes: Buffer) => void): boolean;
  /** The connection failed, closed, or outlived the deadline before onData said it was done. */
  onFailure(outcome: CallFailure | Error): void;
}

export interface ExchangeTarget {
  socketPath: string;
  timeoutMs: number;
}

/** Sends `request` and feeds the replies to `handlers` until one of them settles the call. */
export type Exchange = (
  target: ExchangeTarget,
  request: Buffer,
  handlers: ExchangeHandlers,
) => void;
