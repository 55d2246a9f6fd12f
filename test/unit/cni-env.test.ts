import { describe, expect, test } from '@jest/globals';
import {
  parseCommand,
  requireAttachmentEnv,
  requireDelEnv,
  validateContainerId,
  validateIfname,
} from '../../src/cni/cni-env.js';
import { CniError } from '../../src/cni/cni-error.js';

function codeAndMessage(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CniError);
    return { code: (error as CniError).code, message: (error as CniError).message };
  }
  throw new Error('expected a CniError');
}

describe('CNI_COMMAND', () => {
  test.each(['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'])('accepts %s', (command) => {
    expect(parseCommand(command)).toBe(command);
  });

  test.each([undefined, '', 'add', 'UPDATE'])(
    'rejects %p with code 4 naming the variable',
    (value) => {
      const { code, message } = codeAndMessage(() => parseCommand(value));
      expect(code).toBe(4);
      expect(message).toContain('CNI_COMMAND');
    },
  );
});

describe('CNI_CONTAINERID', () => {
  test.each(['abc', 'a', '0f3e_x.y-z', 'A9'])('accepts %p', (id) => {
    expect(validateContainerId(id)).toBe(id);
  });

  test.each([undefined, '', '-abc', '_abc', 'a b', 'a/b', 'a;b', '.x'])('rejects %p', (id) => {
    const { code, message } = codeAndMessage(() => validateContainerId(id));
    expect(code).toBe(4);
    expect(message).toContain('CNI_CONTAINERID');
  });
});

describe('CNI_IFNAME', () => {
  test.each(['eth0', 'a', 'x'.repeat(15), 'veth-1.2_x'])('accepts %p', (name) => {
    expect(validateIfname(name)).toBe(name);
  });

  test.each([
    [undefined, 'not set'],
    ['', 'not set'],
    ['x'.repeat(16), 'longer than 15 bytes'],
    ['ééééééééé', 'longer than 15 bytes'],
    ['.', 'invalid'],
    ['..', 'invalid'],
    ['eth/0', "'/'"],
    ['eth:0', "'/'"],
    ['eth 0', 'whitespace'],
    ['eth\t0', 'whitespace'],
  ])('rejects %p (%s)', (name, why) => {
    const { code, message } = codeAndMessage(() => validateIfname(name));
    expect(code).toBe(4);
    expect(message).toContain('CNI_IFNAME');
    expect(message).toContain(why);
  });
});

describe('attachment environment', () => {
  const full = {
    CNI_CONTAINERID: 'abc',
    CNI_NETNS: '/var/run/netns/cni-1',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx',
  };

  test('ADD/CHECK collect every parameter', () => {
    expect(requireAttachmentEnv(full)).toEqual({
      containerId: 'abc',
      netns: '/var/run/netns/cni-1',
      ifname: 'eth0',
      args: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx',
    });
  });

  test('ADD/CHECK require CNI_NETNS', () => {
    const { code, message } = codeAndMessage(() =>
      requireAttachmentEnv({ ...full, CNI_NETNS: undefined }),
    );
    expect(code).toBe(4);
    expect(message).toContain('CNI_NETNS');
  });

  test('DEL tolerates a missing netns and CNI_ARGS', () => {
    expect(requireDelEnv({ CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' })).toEqual({
      containerId: 'abc',
      netns: '',
      ifname: 'eth0',
      args: '',
    });
  });

  test('DEL still requires a valid container id', () => {
    expect(codeAndMessage(() => requireDelEnv({ CNI_IFNAME: 'eth0' })).code).toBe(4);
  });
});
