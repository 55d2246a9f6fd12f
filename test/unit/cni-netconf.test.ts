import { describe, expect, test } from '@jest/globals';
import { CniError } from '../../src/cni/cni-error.js';
import { daemonTarget } from '../../src/cni/daemon-target.js';
import { loadNetconf } from '../../src/cni/netconf.js';
import { decodeStdin, requireDecoded, sniffCniVersion } from '../../src/cni/stdin-json.js';
import { DEFAULT_SOCKET_PATH } from '../../src/rpc/socket-address.js';

const BASE = { cniVersion: '1.0.0', name: 'terway', type: 'terway' };

function failure(fn: () => unknown): CniError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CniError);
    return error as CniError;
  }
  throw new Error('expected a CniError');
}

describe('decoding stdin', () => {
  test.each([
    ['', 'stdin is empty'],
    ['  \n', 'stdin is empty'],
    ['{"cniVersion":', 'JSON'],
    ['not json', 'JSON'],
  ])('%p is code 6', (text, reason) => {
    const error = failure(() => requireDecoded(decodeStdin(Buffer.from(text))));
    expect(error.code).toBe(6);
    expect(error.message).toContain('failed to decode');
    expect(error.message).toContain(reason);
  });

  test('the error version comes from the input when it can be read', () => {
    expect(sniffCniVersion(decodeStdin(Buffer.from('{"cniVersion":"0.4.0"}')))).toBe('0.4.0');
    expect(sniffCniVersion(decodeStdin(Buffer.from('{"cniVersion":5}')))).toBe('1.1.0');
    expect(sniffCniVersion(decodeStdin(Buffer.from('[]')))).toBe('1.1.0');
    expect(sniffCniVersion(decodeStdin(Buffer.from('{')))).toBe('1.1.0');
  });
});

describe('loadNetconf', () => {
  test('accepts the minimum and keeps unknown keys', () => {
    const conf = loadNetconf({ ...BASE, ipam: { type: 'x' }, eniip_virtual_type: 'IPVlan' });
    expect(conf.cniVersion).toBe('1.0.0');
    expect(conf.eniip_virtual_type).toBe('IPVlan');
    expect(conf.ipam).toEqual({ type: 'x' });
  });

  test.each([[[]], ['x'], [5], [null]])('a top level of %p is code 6', (input) => {
    const error = failure(() => loadNetconf(input));
    expect(error.code).toBe(6);
    expect(error.message).toContain('expected a JSON object');
  });

  test('an unsupported version is code 1 and lists the supported ones', () => {
    const error = failure(() => loadNetconf({ ...BASE, cniVersion: '0.2.0' }));
    expect(error.code).toBe(1);
    expect(error.message).toContain('"0.2.0"');
    expect(error.message).toContain('0.3.1, 0.4.0, 1.0.0, 1.1.0');
  });

  test.each([
    [{ cniVersion: 5 }, '"cniVersion" must be a string, got number 5'],
    [{ name: [] }, '"name" must be a string, got an array'],
    [{ name: '' }, '"name" must not be empty'],
    [{ type: null }, '"type" must be a string, got null'],
    [{ daemon_socket: 3 }, '"daemon_socket" must be a string, got number 3'],
    [{ daemon_socket: 'run/eni.sock' }, '"daemon_socket" must be an absolute path'],
    [{ daemon_socket: `/${'x'.repeat(120)}` }, '"daemon_socket" must be at most 107 bytes'],
    [{ timeout_seconds: 0 }, '"timeout_seconds" must be a positive number'],
    [{ timeout_seconds: '60' }, '"timeout_seconds" must be a number, got string "60"'],
    [{ prevResult: [] }, '"prevResult" must be an object, got an array'],
    [{ runtimeConfig: 'x' }, '"runtimeConfig" must be an object'],
    [
      { 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 1 }] },
      '"cni.dev/valid-attachments[0].ifname" must be a string, got number 1',
    ],
  ])('%p is code 7: %s', (patch, expected) => {
    const error = failure(() => loadNetconf({ ...BASE, ...patch }));
    expect(error.code).toBe(7);
    expect(error.message).toContain(expected);
  });

  test.each(['cniVersion', 'name', 'type'])('a missing %s is code 7 naming the key', (key) => {
    const input: Record<string, unknown> = { ...BASE };
    delete input[key];
    const error = failure(() => loadNetconf(input));
    expect(error.code).toBe(7);
    expect(error.message).toContain(`"${key}" is required (expected a string)`);
  });

  test('reports every problem at once', () => {
    const error = failure(() => loadNetconf({ cniVersion: 5, name: [], daemon_socket: 3 }));
    expect(error.message).toContain('"cniVersion"');
    expect(error.message).toContain('"name"');
    expect(error.message).toContain('"type"');
    expect(error.message).toContain('"daemon_socket"');
  });
});

describe('daemonTarget', () => {
  test('ADD waits up to 60s by default on the default socket', () => {
    expect(daemonTarget('ADD', loadNetconf(BASE))).toEqual({
      socketPath: DEFAULT_SOCKET_PATH,
      timeoutMs: 60_000,
    });
  });

  test('other verbs cap the deadline at 30s', () => {
    const conf = loadNetconf({ ...BASE, timeout_seconds: 90, daemon_socket: '/run/t.sock' });
    expect(daemonTarget('ADD', conf).timeoutMs).toBe(90_000);
    for (const verb of ['DEL', 'CHECK', 'STATUS', 'GC'] as const) {
      expect(daemonTarget(verb, conf)).toEqual({ socketPath: '/run/t.sock', timeoutMs: 30_000 });
    }
    expect(daemonTarget('DEL', loadNetconf({ ...BASE, timeout_seconds: 2.5 })).timeoutMs).toBe(
      2500,
    );
  });
});
