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

  test.each<{ what: string; env: Env; stdin: string | object; code: number; text: string }>([
    { what: 'a missing CNI_COMMAND', env: {}, stdin: CONF, code: 4, text: 'CNI_COMMAND' },
    {
      what: 'an unknown CNI_COMMAND',
      env: { CNI_COMMAND: 'FROB' },
      stdin: CONF,
      code: 4,
      text: 'CNI_COMMAND',
    },
    { what: 'empty stdin', env: ADD_ENV, stdin: '', code: 6, text: 'stdin is empty' },
    {
      what: 'truncated JSON',
      env: ADD_ENV,
      stdin: '{"cniVersion":"1.0.0","na',
      code: 6,
      text: 'failed to decode',
    },
    {
      what: 'a wrong-typed key',
      env: ADD_ENV,
      stdin: { ...CONF, name: [] },
      code: 7,
      text: '"name"',
    },
    {
      what: 'an unsupported version',
      env: ADD_ENV,
      stdin: { ...CONF, cniVersion: '2.0.0' },
      code: 1,
      text: '"2.0.0"',
    },
    {
      what: 'STATUS before 1.1.0',
      env: { CNI_COMMAND: 'STATUS' },
      stdin: CONF,
      code: 1,
      text: 'STATUS',
    },
    { what: 'GC before 1.1.0', env: { CNI_COMMAND: 'GC' }, stdin: CONF, code: 1, text: 'GC' },
    {
      what: 'CHECK under 0.3.1',
      env: { ...ADD_ENV, CNI_COMMAND: 'CHECK' },
      stdin: { ...CONF, cniVersion: '0.3.1' },
      code: 1,
      text: 'CHECK',
    },
    {
      what: 'CHECK without prevResult',
      env: { ...ADD_ENV, CNI_COMMAND: 'CHECK' },
      stdin: CONF,
      code: 7,
      text: 'prevResult',
    },
    {
      what: 'GC without attachments',
      env: { CNI_COMMAND: 'GC' },
      stdin: { ...CONF, cniVersion: '1.1.0' },
      code: 7,
      text: 'valid-attachments',
    },
    {
      what: 'ADD without pod args',
      env: { ...ADD_ENV, CNI_ARGS: '' },
      stdin: CONF,
      code: 4,
      text: 'K8S_POD_NAMESPACE',
    },
    {
      what: 'ADD with a bad container id',
      env: { ...ADD_ENV, CNI_CONTAINERID: 'a/b' },
      stdin: CONF,
      code: 4,
      text: 'CNI_CONTAINERID',
    },
    { what: 'ADD without a daemon', env: ADD_ENV, stdin: CONF, code: 11, text: NO_DAEMON },
    {
      what: 'DEL without a daemon',
      env: { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' },
      stdin: CONF,
      code: 11,
      text: NO_DAEMON,
    },
    {
      what: 'STATUS without a daemon',
      env: { CNI_COMMAND: 'STATUS' },
      stdin: { ...CONF, cniVersion: '1.1.0' },
      code: 50,
      text: NO_DAEMON,
    },
  ])('$what is code $code', async ({ env, stdin, code, text }) => {
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
