/**
 * How the installed shim reaches terwayd: through its addon (terway_uds.node, copied beside it)
 * with blocking syscalls, or through node:net when the addon is not there. The daemon here is
 * Node's own HTTP/2 server answering Status as grpc-js frames it; the shim is a real process.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http2';
import type { Http2Server } from 'node:http2';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { BACKEND_METHODS } from '../../src/rpc/generated/backend-methods.js';
import { BINS, requireBuilt } from '../support/bins.js';
import { runProcess } from '../support/processes.js';

let dir: string;
let server: Http2Server;
let calls = 0;
const socketPath = () => join(dir, 'eni.sock');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tn-shim-transport-'));
  server = createServer();
  server.on('stream', (stream) => {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      calls += 1;
      const message = BACKEND_METHODS.Status.responseType
        .encode({ ready: true, canAllocate: true, reason: '' })
        .finish();
      const body = Buffer.alloc(5 + message.length);
      body.writeUInt32BE(message.length, 1);
      Buffer.from(message).copy(body, 5);
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc' },
        { waitForTrailers: true },
      );
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath(), resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** The shim's files in a fresh directory, as an operator copies them; the addon optional. */
function install(withAddon: boolean): string {
  const target = mkdtempSync(join(dir, 'bin-'));
  const bundle = dirname(requireBuilt(BINS.terway));
  copyFileSync(BINS.terway, join(target, 'terway'));
  copyFileSync(join(bundle, 'terway-main.cjs'), join(target, 'terway-main.cjs'));
  if (withAddon) copyFileSync(join(bundle, 'terway_uds.node'), join(target, 'terway_uds.node'));
  return target;
}

function status(bin: string, transport?: string) {
  return runProcess(join(bin, 'terway'), [], {
    stdin: JSON.stringify({
      cniVersion: '1.1.0',
      name: 'terway',
      type: 'terway',
      daemon_socket: socketPath(),
    }),
    env: {
      CNI_COMMAND: 'STATUS',
      ...(transport === undefined ? {} : { TERWAY_SHIM_TRANSPORT: transport }),
    },
  });
}

describe('the shim transport', () => {
  test('with its addon installed, the shim calls terwayd through it', async () => {
    const bin = install(true);
    const before = calls;
    const result = await status(bin, 'blocking');
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
    expect((await status(bin)).status).toBe(0);
    expect(calls - before).toBe(2);
  });

  test('without it, the shim falls back to node:net', async () => {
    const bin = install(false);
    const before = calls;
    const result = await status(bin);
    expect(result.status).toBe(0);
    expect(calls - before).toBe(1);
  });

  test('asking for the blocking transport without the addon fails the call and says why', async () => {
    const result = await status(install(false), 'blocking');
    expect(result.status).toBe(1);
    const error = JSON.parse(result.stdout) as { code: number; msg: string };
    expect(error.msg).toContain('TERWAY_SHIM_TRANSPORT=blocking');
    expect(error.msg).toContain('terway_uds.node');
  });
});
