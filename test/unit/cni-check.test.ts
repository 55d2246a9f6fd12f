import { describe, expect, test } from '@jest/globals';
import type { CniError } from '../../src/cni/cni-error.js';
import { prevResultAddresses, verifyAgainstRecord } from '../../src/cni/verbs/check.js';
import type { GetIPInfoReply__Output } from '../../src/rpc/generated/terway/v1/GetIPInfoReply.js';

function record(ip: string, prefixLength = 24, containerId = 'abc', ipState = 'in_use') {
  return {
    network: {
      pod: { namespace: 'default', name: 'nginx', containerId },
      ip,
      prefixLength,
      gateway: '10.0.0.253',
      eniId: 'eni-1',
      eniMac: '',
      vswitchId: '',
      vswitchCidr: '',
      netns: '',
      ifname: 'eth0',
      allocatedAtMs: 0,
      driver: '',
      hostInterface: null,
      podInterface: null,
    },
    ipState,
    drift: [],
  } satisfies GetIPInfoReply__Output;
}

function failure(fn: () => unknown): CniError {
  try {
    fn();
  } catch (error) {
    return error as CniError;
  }
  throw new Error('expected a CniError');
}

const PREV = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.253' }] };

describe('CHECK', () => {
  test('passes when prevResult lists the recorded IP', () => {
    expect(() =>
      verifyAgainstRecord(
        { ips: [{ address: '10.0.0.6/24' }] },
        record('10.0.0.6'),
        'default/nginx',
        'abc',
      ),
    ).not.toThrow();
  });

  test('a different IP is 999 with both addresses and the pod', () => {
    const error = failure(() =>
      verifyAgainstRecord(PREV, record('10.0.0.6'), 'default/nginx', 'abc'),
    );
    expect(error.code).toBe(999);
    expect(error.message).toBe(
      'CHECK: prevResult has 10.0.0.5/24 but terwayd records 10.0.0.6/24 for default/nginx',
    );
  });

  test('a different prefix length is called out', () => {
    const error = failure(() =>
      verifyAgainstRecord(
        { ips: [{ address: '10.0.0.6/16' }] },
        record('10.0.0.6'),
        'default/nginx',
        'abc',
      ),
    );
    expect(error.message).toContain('prefix length 24');
  });

  test('datapath drift reported by terwayd is 999 and quoted', () => {
    const drifted = {
      ...record('10.0.0.5'),
      drift: ['route default via 169.254.1.1 dev eth0 is missing in the pod'],
    };
    const error = failure(() => verifyAgainstRecord(PREV, drifted, 'default/nginx', 'abc'));
    expect(error.code).toBe(999);
    expect(error.message).toContain('route default via 169.254.1.1 dev eth0 is missing in the pod');
  });

  test('no record is 999', () => {
    const error = failure(() =>
      verifyAgainstRecord(PREV, { network: null, ipState: '', drift: [] }, 'default/nginx', 'abc'),
    );
    expect(error.code).toBe(999);
    expect(error.message).toBe(
      'CHECK: prevResult has 10.0.0.5/24 but terwayd has no record for default/nginx',
    );
  });

  test('a record owned by another sandbox is 999', () => {
    const error = failure(() =>
      verifyAgainstRecord(
        { ips: [{ address: '10.0.0.6/24' }] },
        record('10.0.0.6', 24, 'zzz'),
        'default/nginx',
        'abc',
      ),
    );
    expect(error.message).toContain('under container zzz, not abc');
  });

  test('an IP the cloud took back is 999', () => {
    const error = failure(() =>
      verifyAgainstRecord(
        { ips: [{ address: '10.0.0.6/24' }] },
        record('10.0.0.6', 24, 'abc', 'invalid'),
        'default/nginx',
        'abc',
      ),
    );
    expect(error.message).toContain('invalid');
  });

  test('a malformed prevResult is code 7', () => {
    expect(failure(() => prevResultAddresses({ ips: {} })).code).toBe(7);
    expect(failure(() => prevResultAddresses({ ips: [{ address: 5 }] })).message).toContain(
      'prevResult.ips[0].address',
    );
    expect(prevResultAddresses({})).toEqual([]);
  });
});
