import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { TerwayError } from '../errors/terway-error.js';
import { MAX_SOCKET_PATH_BYTES } from '../rpc/socket-address.js';

const LIVENESS_PROBE_TIMEOUT_MS = 500;

/**
 * Readies the path for binding: the directory exists, and a socket file left by a dead daemon
 * is removed. A socket someone still answers on is never taken over.
 */
export async function prepareSocketPath(socketPath: string): Promise<string> {
  const path = resolve(socketPath);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `--socket ${path} is ${Buffer.byteLength(path)} bytes; unix sockets allow at most ${MAX_SOCKET_PATH_BYTES}`,
    );
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return path;
  }
  if (!stat.isSocket()) {
    throw new TerwayError('INVALID_CONFIG', `--socket ${path} exists and is not a socket`);
  }
  if (await answers(path)) {
    throw new TerwayError('ALREADY_RUNNING', `another process is serving on ${path}`);
  }
  unlinkSync(path);
  return path;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect(path);
    const done = (alive: boolean) => {
      socket.destroy();
      resolveAnswer(alive);
    };
    socket.setTimeout(LIVENESS_PROBE_TIMEOUT_MS, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
