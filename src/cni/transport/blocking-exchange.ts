/**
 * The exchange as plain blocking syscalls, through the shim's addon (native/src/uds.c): connect,
 * write, then poll and read until the call settles or its deadline passes. The shim is a one-call
 * process with nothing else to do, and node:net costs it more to load and run cold (about 10 ms)
 * than the whole call takes.
 */
import { DEADLINE_EXCEEDED, failure, UNAVAILABLE } from '../grpc-unary-response.js';
import type { Exchange } from './exchange.js';

export interface UdsAddon {
  udsConnect(path: string, timeoutMs: number): number;
  udsWrite(fd: number, bytes: Buffer, timeoutMs: number): void;
  /** An empty buffer: the peer closed. Throws with code ETIMEDOUT when nothing came in time. */
  udsRead(fd: number, timeoutMs: number): Buffer;
  udsClose(fd: number): void;
}

function isUdsAddon(value: unknown): value is UdsAddon {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<UdsAddon>).udsRead === 'function'
  );
}

/** Loads terway_uds.node from `path`; the reason it cannot, as an Error, otherwise. */
export function loadUdsAddon(path: string): UdsAddon | Error {
  const module = { exports: {} as unknown };
  try {
    process.dlopen(module, path);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  return isUdsAddon(module.exports) ? module.exports : new Error(`${path} is not the shim's addon`);
}

function timedOut(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'ETIMEDOUT';
}

export function blockingExchange(addon: UdsAddon): Exchange {
  return (target, request, handlers) => {
    const deadline = Date.now() + target.timeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    let fd: number;
    try {
      fd = addon.udsConnect(target.socketPath, Math.max(1, left()));
    } catch (error) {
      handlers.onFailure(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const send = (bytes: Buffer): void => addon.udsWrite(fd, bytes, Math.max(1, left()));
    try {
      send(request);
      for (;;) {
        const chunk = addon.udsRead(fd, left());
        if (chunk.length === 0) {
          handlers.onFailure(failure(UNAVAILABLE, 'terwayd closed the connection mid-call'));
          return;
        }
        if (handlers.onData(chunk, send)) return;
      }
    } catch (error) {
      handlers.onFailure(
        timedOut(error)
          ? failure(DEADLINE_EXCEEDED, 'Deadline exceeded')
          : error instanceof Error
            ? error
            : new Error(String(error)),
      );
    } finally {
      addon.udsClose(fd);
    }
  };
}
