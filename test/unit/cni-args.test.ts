import { describe, expect, test } from '@jest/globals';
import { lenientPodArgs, parseCniArgs, requirePodArgs } from '../../src/cni/cni-args.js';
import { CniError } from '../../src/cni/cni-error.js';

const KUBELET_ARGS =
  'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx-7c5b;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1';

function failure(fn: () => unknown): CniError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CniError);
    return error as CniError;
  }
  throw new Error('expected a CniError');
}

describe('parseCniArgs', () => {
  test('empty input means no arguments', () => {
    expect(parseCniArgs('').size).toBe(0);
    expect(parseCniArgs('  ').size).toBe(0);
  });

  test('parses what kubelet sends', () => {
    const args = parseCniArgs(KUBELET_ARGS);
    expect(args.get('K8S_POD_NAMESPACE')).toBe('default');
    expect(args.get('K8S_POD_NAME')).toBe('nginx-7c5b');
    expect(args.get('K8S_POD_INFRA_CONTAINER_ID')).toBe('abc');
  });

  test('tolerates a trailing separator and "=" inside a value', () => {
    expect(parseCniArgs('K8S_POD_NAME=a=b;').get('K8S_POD_NAME')).toBe('a=b');
  });

  test.each(['K8S_POD_NAME', '=x', 'K8S_POD_NAME=a;;=b'])('rejects malformed pair in %p', (raw) => {
    const error = failure(() => parseCniArgs(raw));
    expect(error.code).toBe(4);
    expect(error.message).toContain('CNI_ARGS');
  });

  test('rejects unknown keys unless IgnoreUnknown is set', () => {
    const error = failure(() => parseCniArgs('FOO=1;K8S_POD_NAME=x'));
    expect(error.code).toBe(4);
    expect(error.message).toContain('FOO');
    expect(parseCniArgs('IgnoreUnknown=true;FOO=1').get('FOO')).toBe('1');
    expect(() => parseCniArgs('IgnoreUnknown=0;FOO=1')).toThrow(CniError);
  });

  test('rejects a non-boolean IgnoreUnknown', () => {
    expect(failure(() => parseCniArgs('IgnoreUnknown=maybe')).message).toContain('IgnoreUnknown');
  });
});

describe('pod identity', () => {
  test('ADD/CHECK take namespace and name from CNI_ARGS', () => {
    expect(requirePodArgs(KUBELET_ARGS)).toEqual({
      namespace: 'default',
      name: 'nginx-7c5b',
      infraContainerId: 'abc',
    });
  });

  test.each([
    ['', 'K8S_POD_NAMESPACE and K8S_POD_NAME'],
    ['K8S_POD_NAME=x', 'K8S_POD_NAMESPACE'],
    ['K8S_POD_NAMESPACE=default;K8S_POD_NAME=', 'K8S_POD_NAME'],
  ])('ADD/CHECK with CNI_ARGS %p fail with code 4 naming %s', (raw, missing) => {
    const error = failure(() => requirePodArgs(raw));
    expect(error.code).toBe(4);
    expect(error.message).toContain('CNI_ARGS');
    expect(error.message).toContain(missing);
  });

  test('DEL falls back to an empty identity instead of failing', () => {
    expect(lenientPodArgs('')).toEqual({ namespace: '', name: '', infraContainerId: undefined });
    expect(lenientPodArgs('garbage;;K8S_POD_NAME=x;FOO=1')).toEqual({
      namespace: '',
      name: 'x',
      infraContainerId: undefined,
    });
    expect(lenientPodArgs(KUBELET_ARGS).namespace).toBe('default');
  });
});
