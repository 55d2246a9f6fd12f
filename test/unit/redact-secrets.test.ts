import { describe, expect, test } from '@jest/globals';

import { REDACTED, redactSecrets, SECRET_KEYS } from '../../src/log/redact-secrets.js';

describe('redactSecrets', () => {
  test('an object without credentials comes back as the same object, untouched', () => {
    const line = { pod: 'default/web-0', ip: '10.0.0.9', nested: { eniId: 'eni-1', ips: [1, 2] } };
    expect(redactSecrets(line)).toBe(line);
    expect(redactSecrets('text')).toBe('text');
    expect(redactSecrets(null)).toBeNull();
  });

  test('every spelling is redacted in the top three levels, and the caller keeps its object', () => {
    for (const key of SECRET_KEYS) {
      const line = { [key]: 'a', config: { [key]: 'b', credentials: { [key]: 'c' } }, keep: 1 };
      const redacted = redactSecrets(line);
      expect(redacted).toEqual({
        [key]: REDACTED,
        config: { [key]: REDACTED, credentials: { [key]: REDACTED } },
        keep: 1,
      });
      expect(line).toEqual({
        [key]: 'a',
        config: { [key]: 'b', credentials: { [key]: 'c' } },
        keep: 1,
      });
    }
  });

  test('only the objects on the way to a secret are copied', () => {
    const untouched = { eniId: 'eni-1' };
    const line = { untouched, request: { securityToken: 'sts' } };
    const redacted = redactSecrets(line);
    expect(redacted).not.toBe(line);
    expect(redacted.untouched).toBe(untouched);
    expect(redacted.request).toEqual({ securityToken: REDACTED });
  });

  test('four levels down is past the walk, as it was past the old paths', () => {
    const line = { a: { b: { c: { accessKey: 'deep' } } } };
    expect(redactSecrets(line)).toBe(line);
  });

  test('arrays stay arrays, an Error stays an Error, and an absent credential stays absent', () => {
    const list = [{ accessKeySecret: 's' }, { name: 'x' }];
    const redactedList = redactSecrets({ list }).list;
    expect(Array.isArray(redactedList)).toBe(true);
    expect(redactedList).toEqual([{ accessKeySecret: REDACTED }, { name: 'x' }]);

    const error = Object.assign(new Error('denied'), { code: 'Forbidden', accessKeyId: 'LTAI' });
    const redactedError = redactSecrets({ err: error }).err;
    expect(redactedError).toBeInstanceOf(Error);
    expect(redactedError.message).toBe('denied');
    expect(redactedError.stack).toBe(error.stack);
    expect(redactedError).toMatchObject({ code: 'Forbidden', accessKeyId: REDACTED });
    expect(error.accessKeyId).toBe('LTAI');

    const missing = { accessKey: undefined, accessSecret: null };
    expect(redactSecrets(missing)).toBe(missing);
  });

  test('frozen objects and getters are copied, not written to; byte arrays are not walked', () => {
    const frozen = Object.freeze({ securityToken: 'sts', other: 1 });
    expect(redactSecrets({ frozen }).frozen).toEqual({ securityToken: REDACTED, other: 1 });

    const withGetter = Object.defineProperty({}, 'accessSecret', {
      get: () => 'x',
      enumerable: true,
    });
    expect(JSON.stringify(redactSecrets(withGetter))).toBe(`{"accessSecret":"${REDACTED}"}`);

    const bytes = { payload: Buffer.from('accessKey') };
    expect(redactSecrets(bytes)).toBe(bytes);
  });
});
