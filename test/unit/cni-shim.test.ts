import { describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../src/cni/cni-env.js';
import { runShim } from '../../src/cni/shim.js';

const NO_DAEMON = join(mkdtempSync(join(tmpdir(), 'cni-shim-')), 'eni.socket');
const CONF = { cniVersion: '1.0.0', name: 'terway', type: 'terway', daemon_socket: NO_DAEMON };
const ADD_ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc',
  CNI_NETNS: '/var/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx',
};

async function run(env: Env, stdin: string | object) {
  const text = typeof stdin === 'string' ? stdin : JSON.stringify(stdin);
  const outcome = await runShim({ env, readStdin: () => Promise.resolve(Buffer.from(text)) });
  return { ...outcome, json: outcome.stdout === '' ? undefined : JSON.parse(outcome.stdout) };
}

describe('runShim', () => {
  test('VERSION answers without judging the configuration', async () => {
    const { exitCode, json } = await run({ CNI_COMMAND: 'VERSION' }, '');
    expect(exitCode).toBe(0);
    expect(json).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    expect((await run({ CNI_COMMAND: 'VERSION' }, { cniVersion: '0.4.0' })).json.cniVersion).toBe(
      '0.4.0',
    );
  });

  test.each([
    ['a missing CNI_COMMAND', {}, CONF, 4, 'CNI_COMMAND'],
    ['an unknown CNI_COMMAND', { CNI_COMMAND: 'FROB' }, CONF, 4, 'CNI_COMMAND'],
    ['empty stdin', ADD_ENV, '', 6, 'stdin is empty'],
    ['truncated JSON', ADD_ENV, '{"cniVersion":"1.0.0","na', 6, 'failed to decode'],
    ['a wrong-typed key', ADD_ENV, { ...CONF, name: [] }, 7, '"name"'],
    ['an unsupported version', ADD_ENV, { ...CONF, cniVersion: '2.0.0' }, 1, '"2.0.0"'],
    ['STATUS before 1.1.0', { CNI_COMMAND: 'STATUS' }, CONF, 1, 'STATUS'],
    ['GC before 1.1.0', { CNI_COMMAND: 'GC' }, CONF, 1, 'GC'],
    [
      'CHECK under 0.3.1',
      { ...ADD_ENV, CNI_COMMAND: 'CHECK' },
      { ...CONF, cniVersion: '0.3.1' },
      1,
      'CHECK',
    ],
    ['CHECK without prevResult', { ...ADD_ENV, CNI_COMMAND: 'CHECK' }, CONF, 7, 'prevResult'],
    [
      'GC without attachments',
      { CNI_COMMAND: 'GC' },
      { ...CONF, cniVersion: '1.1.0' },
      7,
      'valid-attachments',
    ],
    ['ADD without pod args', { ...ADD_ENV, CNI_ARGS: '' }, CONF, 4, 'K8S_POD_NAMESPACE'],
    [
      'ADD with a bad container id',
      { ...ADD_ENV, CNI_CONTAINERID: 'a/b' },
      CONF,
      4,
      'CNI_CONTAINERID',
    ],
    ['ADD without a daemon', ADD_ENV, CONF, 11, NO_DAEMON],
    [
      'DEL without a daemon',
      { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' },
      CONF,
      11,
      NO_DAEMON,
    ],
    [
      'STATUS without a daemon',
      { CNI_COMMAND: 'STATUS' },
      { ...CONF, cniVersion: '1.1.0' },
      50,
      NO_DAEMON,
    ],
  ] as const)('%s is code %#', async (_what, env, stdin, code, text) => {
    const { exitCode, json } = await run(env, stdin);
    expect(exitCode).toBe(1);
    expect(json.code).toBe(code);
    expect(json.msg).toContain(text);
  });

  test('errors carry the configuration version when it is readable', async () => {
    expect((await run({}, { ...CONF, cniVersion: '0.4.0' })).json.cniVersion).toBe('0.4.0');
    expect((await run(ADD_ENV, '{')).json.cniVersion).toBe('1.1.0');
  });

  test('a failed stdin read is code 5', async () => {
    const outcome = await runShim({
      env: ADD_ENV,
      readStdin: () => Promise.reject(new Error('EIO: i/o error, read')),
    });
    expect(outcome.exitCode).toBe(1);
    expect(JSON.parse(outcome.stdout)).toMatchObject({
      code: 5,
      msg: expect.stringContaining('EIO'),
    });
  });
});
