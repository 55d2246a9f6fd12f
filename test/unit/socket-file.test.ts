import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareSocketPath } from '../../src/daemon/socket-file.js';
import { TerwayError } from '../../src/errors/terway-error.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'terway-socket-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function listen(path: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.end());
    server.listen(path, () => resolve(server));
  });
}

/** A socket file whose listener is gone, as a daemon killed with SIGKILL leaves it. */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
  if (!existsSync(path)) throw new Error('the test could not leave a stale socket behind');
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return error instanceof TerwayError ? error.code : String(error);
  }
}

describe('prepareSocketPath', () => {
  test('creates the parent directory of a new socket path', async () => {
    const path = join(dir, 'run', 'eni', 'eni.socket');
    expect(await prepareSocketPath(path)).toBe(path);
    expect(existsSync(join(dir, 'run', 'eni'))).toBe(true);
  });

  test('removes a stale socket nobody answers on', async () => {
    const path = join(dir, 'eni.socket');
    await staleSocket(path);
    expect(await prepareSocketPath(path)).toBe(path);
    expect(existsSync(path)).toBe(false);
  });

  test('never takes over a socket a live process serves', async () => {
    const path = join(dir, 'eni.socket');
    const server = await listen(path);
    try {
      expect(await codeOf(prepareSocketPath(path))).toBe('ALREADY_RUNNING');
      expect(existsSync(path)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('refuses a path that is a regular file and leaves it alone', async () => {
    const path = join(dir, 'eni.socket');
    writeFileSync(path, 'not a socket');
    expect(await codeOf(prepareSocketPath(path))).toBe('INVALID_CONFIG');
    expect(existsSync(path)).toBe(true);
  });

  test('refuses a path longer than a unix socket address allows', async () => {
    const path = join(dir, 'x'.repeat(120), 'eni.socket');
    expect(await codeOf(prepareSocketPath(path))).toBe('INVALID_CONFIG');
  });
});
