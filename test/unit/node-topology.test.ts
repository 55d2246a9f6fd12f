import { describe, expect, test } from '@jest/globals';

import { chooseNodeName, chooseNodeZone, zoneFlag } from '../../src/daemon/node-topology.js';

describe('chooseNodeName', () => {
  const host = () => ' Worker-7.Example ';

  test('the flag first, then NODE_NAME, then the hostname lowercased (kubelet default)', () => {
    expect(chooseNodeName('cn-hangzhou.192.168.0.7', { NODE_NAME: 'other' }, host)).toEqual({
      name: 'cn-hangzhou.192.168.0.7',
      source: 'flag',
    });
    expect(chooseNodeName(undefined, { NODE_NAME: ' cn-hangzhou.192.168.0.7 ' }, host)).toEqual({
      name: 'cn-hangzhou.192.168.0.7',
      source: 'env',
    });
    expect(chooseNodeName(undefined, { NODE_NAME: '' }, host)).toEqual({
      name: 'worker-7.example',
      source: 'hostname',
    });
    expect(chooseNodeName(undefined, {}, host).source).toBe('hostname');
  });

  test('an empty --node-name is refused with a code, not taken for a node', () => {
    expect(() => chooseNodeName(' ', {}, host)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('chooseNodeZone', () => {
  test("the flag first, else the instance's zone from metadata", () => {
    expect(chooseNodeZone(zoneFlag(' zone-custom '), 'cn-hangzhou-k')).toEqual({
      zone: 'zone-custom',
      source: 'flag',
    });
    expect(chooseNodeZone(zoneFlag(undefined), 'cn-hangzhou-k')).toEqual({
      zone: 'cn-hangzhou-k',
      source: 'instance metadata',
    });
  });

  test('an empty --zone is refused with a code, not taken for a zone no hint names', () => {
    expect(() => zoneFlag('  ')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
