import { createHash } from 'node:crypto';
import { realpathSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { connect, createServer } from 'node:net';
import { TerwayError } from '../errors/terway-error.js';

/** How long a refused daemon waits to learn the holder's pid. */
const HOLDER_QUERY_TIMEOUT_MS = 500;
/** Socket file inside the state dir: the lock as seen from other network namespaces. */
const LOCK_SOCKET_FILE = 'terwayd.lock';

export interface StateDirLock {
  release(): Promise<void>;
}

/**
 * Makes sure only one terwayd uses a state directory, with two sockets that answer the holder's
 * pid and that the kernel releases the instant the holder dies (even on `kill -9`):
 * - an abstract unix socket named after the directory's real path: bind() is atomic, so two
 *   daemons starting at once in one network namespace cannot both win;
 * - a socket file in the directory itself, because abstract sockets belong to a network
 *   namespace, and a daemon in another one (a lab node, a misconfigured pod) must be refused too.
 *   A file nobody answers on is left over from a dead holder and is replaced.
 */
export async function lockStateDir(stateDir: string): Promise<StateDirLock> {
  const real = realpathSync(stateDir);
  const name = `\0terway-node/state/${createHash('sha256').update(real).digest('hex').slice(0, 48)}`;
  const abstract = await holdSocket(name, real);
  let file: Server;
  try {
    const path = join(real, LOCK_SOCKET_FILE);
    // A file nobody answers on was left by a holder that died. Nobody in this namespace can be
    // racing us for it, since we already hold the abstract lock.
    file = await holdSocket(path, real, () => unlinkSync(path));
  } catch (error) {
    await close(abstract);
    throw error;
  }
  return {
    release: async () => {
      await close(file);
      await close(abstract);
    },
  };
}

/**
 * Listens on `address`, or refuses with the pid of whoever answers there. When the address is
 * taken but nobody answers, `clearStale` (if given) removes the leftover and we try once more.
 */
async function holdSocket(
  address: string,
  stateDir: string,
  clearStale?: () => void,
): Promise<Server> {
  const server = createServer((socket) => socket.end(`${process.pid}\n`));
  if (!(await tryListen(server, address))) {
    const holder = await queryHolder(address);
    if (holder !== undefined || clearStale === undefined) throw alreadyRunning(stateDir, holder);
    clearStale();
    if (!(await tryListen(server, address))) throw alreadyRunning(stateDir, undefined);
  }
  server.unref();
  return server;
}

/** False when the address is taken; other errors propagate. */
async function tryListen(server: Server, address: string): Promise<boolean> {
  try {
    await listen(server, address);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
    throw error;
  }
}

function alreadyRunning(stateDir: string, holder: string | undefined): TerwayError {
  return new TerwayError(
    'ALREADY_RUNNING',
    `another terwayd${holder === undefined ? '' : ` (pid ${holder})`} already uses state dir ${stateDir}`,
  );
}

function close(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
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
