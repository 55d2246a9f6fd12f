import { readFileSync, writeSync } from 'node:fs';
import { asCniError } from './cni-error.js';
import { LATEST_VERSION } from './cni-version.js';
import type { ShimOutcome } from './shim.js';

let finished = false;

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks);
}

/** The whole of stdin; a closed or absent stdin reads as empty. */
export async function readStdin(): Promise<Buffer> {
  try {
    // One blocking read is the cheapest way to drain a pipe in a process that does nothing else.
    return readFileSync(0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A parent may hand us a non-blocking pipe; the stream API copes with that.
    if (code === 'EAGAIN') return readStream(process.stdin);
    if (code === 'EOF' || code === 'EBADF') return Buffer.alloc(0);
    throw error;
  }
}

/**
 * Prints the outcome and exits. Straight to fd 1: process.stdout would load Node's stream
 * machinery (a few milliseconds of every VERSION) just to write one line.
 */
export function finish(outcome: ShimOutcome): void {
  if (finished) return;
  finished = true;
  process.exitCode = outcome.exitCode;
  const exit = (): never => process.exit(outcome.exitCode);
  let rest = Buffer.from(outcome.stdout);
  try {
    while (rest.length > 0) rest = rest.subarray(writeSync(1, rest));
  } catch (error) {
    // A parent may hand us a non-blocking pipe that is full: the stream API waits for it.
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
      process.stdout.on('error', exit);
      process.stdout.write(rest, exit);
      return;
    }
    // Anything else (EPIPE: the runtime stopped listening) must not turn into a crash report.
  }
  exit();
}

/** Whatever escapes, the runtime still gets a spec-shaped error and never a stack trace. */
export function installCrashGuards(): void {
  const crash = (error: unknown): void =>
    finish({
      stdout: `${JSON.stringify(asCniError(error).toResult(LATEST_VERSION))}\n`,
      exitCode: 1,
    });
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}
