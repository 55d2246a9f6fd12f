import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import type { Server } from 'node:net';
import { connect, createServer } from 'node:net';
import { TerwayError } from '../errors/terway-error.js';

/** How long a refused daemon waits to learn the holder's pid. */
const HOLDER_QUERY_TIMEOUT_MS = 500;

export interface StateDirLock {
  release(): Promise<void>;
}

/**
 * Makes sure only one terwayd uses a state directory. The lock is a Linux abstract unix socket
 * named after the directory's real path: the kernel frees it the instant the holder dies, even on
 * `kill -9`, so there is never a stale lock to clean up and no race between two starters.
 * Abstract sockets live in the network namespace, which is fine: terwayd runs with hostNetwork.
 */
export async function lockStateDir(stateDir: string): Promise<StateDirLock> {
  const real = realpathSync(stateDir);
  const name = `\0terway-node/state/${createHash('sha256').update(real).digest('hex').slice(0, 48)}`;
  const server = createServer((socket) => socket.end(`${process.pid}\n`));
  try {
    await listen(server, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    const holder = await queryHolder(name);
    throw new TerwayError(
      'ALREADY_RUNNING',
      `another terwayd${holder === undefined ? '' : ` (pid ${holder})`} already uses state dir ${real}`,
    );
  }
  server.unref();
  return {
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function listen(server: Server, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(name, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function queryHolder(name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(name);
    const done = (value: string | undefined) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(HOLDER_QUERY_TIMEOUT_MS, () => done(undefined));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => done(answer.trim() || undefined));
    socket.on('error', () => done(undefined));
  });
}
