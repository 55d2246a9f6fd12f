import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { toTerwayError } from '../errors/terway-error.js';
import type { CallObserver } from '../observe/cni-metrics.js';
import { toGrpcError } from '../rpc/error-status.js';

/**
 * Adapts an async handler to grpc-js: results go to the callback, thrown errors become a status
 * with the TerwayError code in the trailers, every failure is logged with its method, and
 * `observe` (metrics) hears of every call's outcome and duration.
 */
export function unary<Req, Res>(
  method: string,
  log: Logger,
  handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  observe?: CallObserver,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const started = performance.now();
    const done = (outcome: string) =>
      observe?.(method, outcome, (performance.now() - started) / 1000);
    handler(call.request, call).then(
      (reply) => {
        done('OK');
        callback(null, reply);
      },
      (thrown: unknown) => {
        const error = toTerwayError(thrown);
        const level = error.code === 'INTERNAL' || error.code === 'STORE_ERROR' ? 'error' : 'warn';
        log[level]({ method, code: error.code, err: error }, `${method} failed: ${error.message}`);
        done(error.code);
        callback(toGrpcError(error), null);
      },
    );
  };
}

/** An AbortSignal that fires when the client gives up on the call (deadline, cancel, exit). */
export function callAbortSignal(call: ServerUnaryCall<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort(new Error('the caller cancelled the call')));
  return controller.signal;
}
