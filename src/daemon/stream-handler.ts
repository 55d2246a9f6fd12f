/**
 * Adapts an async producer of reply parts to a grpc-js server-streaming handler. The daemon
 * serves ADDs and DELs on the same event loop, so after each part it yields a full turn of the
 * loop before the producer computes the next: a long listing is paid for in small slices, and a
 * pod waiting for its IP waits for one slice at most. A producer yields undefined to pause without
 * sending anything (a filtered listing that has scanned much and found little). A thrown error
 * ends the stream with its status, as a unary handler's would; a caller that went away stops the
 * producer.
 */
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';

import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { toTerwayError } from '../errors/terway-error.js';
import { toGrpcError } from '../rpc/error-status.js';

export function streamed<Req, Res>(
  method: string,
  log: Logger,
  produce: (request: Req) => Iterable<Res | undefined> | AsyncIterable<Res | undefined>,
): (call: ServerWritableStream<Req, Res>) => void {
  return (call) => {
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
    });
    const run = async (): Promise<void> => {
      for await (const part of produce(call.request)) {
        if (cancelled) return;
        if (part !== undefined && !call.write(part)) await once(call, 'drain');
        await nextTurn();
        if (cancelled) return;
      }
      call.end();
    };
    run().catch((thrown: unknown) => {
      const error = toTerwayError(thrown);
      const level = error.code === 'INTERNAL' ? 'error' : 'warn';
      log[level]({ method, code: error.code, err: error }, `${method} failed: ${error.message}`);
      if (!cancelled) call.emit('error', toGrpcError(error));
    });
  };
}
