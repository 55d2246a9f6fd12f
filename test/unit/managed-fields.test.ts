import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import { withoutManagedFields } from '../../src/k8s/managed-fields.js';

/** What the cut must leave: every `managedFields` member whose value is an array, gone. */
function stripped(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripped);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key, member]) => !(key === 'managedFields' && Array.isArray(member)))
      .map(([key, member]) => [key, stripped(member)]),
  );
}

const SERVICE = {
  metadata: {
    name: 'web',
    namespace: 'default',
    managedFields: [
      {
        manager: 'kubectl',
        fieldsV1: { 'f:spec': { 'f:ports': { 'k:{"port":80,"protocol":"TCP"}': {} } } },
      },
    ],
    annotations: { note: 'a "quoted" ] } [ { text', raw: '{\\"managedFields\\":[1]}' },
  },
  spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }] },
};

describe('withoutManagedFields', () => {
  test('cuts the member out, wherever it stands, and keeps everything else', () => {
    const text = JSON.stringify(SERVICE);
    const cut = withoutManagedFields(text);
    expect(cut).not.toContain('kubectl');
    expect(JSON.parse(cut)).toEqual(stripped(SERVICE));
    // First, middle and last member, compact and indented.
    for (const metadata of [
      { managedFields: [1], name: 'a' },
      { name: 'a', managedFields: [{}], uid: 'u' },
      { name: 'a', managedFields: [[]] },
      { managedFields: [] },
    ]) {
      for (const indent of [undefined, 2]) {
        const json = JSON.stringify({ items: [{ metadata }, { metadata }] }, null, indent);
        expect(JSON.parse(withoutManagedFields(json))).toEqual(
          stripped({ items: [{ metadata }, { metadata }] }),
        );
      }
    }
  });

  test('leaves alone what only looks like the member: escaped in a string, ending a key, not an array', () => {
    const inString = JSON.stringify({ a: '"managedFields":[1]' });
    expect(withoutManagedFields(inString)).toBe(inString);
    const inKey = JSON.stringify({ 'x"managedFields': [1] });
    expect(withoutManagedFields(inKey)).toBe(inKey);
    const notArray = JSON.stringify({ managedFields: null });
    expect(withoutManagedFields(notArray)).toBe(notArray);
  });

  test('an array that never closes is left for JSON.parse to reject', () => {
    const broken = '{"metadata":{"managedFields":[{"a":"]"}';
    expect(withoutManagedFields(broken)).toBe(broken);
    expect(() => JSON.parse(withoutManagedFields(broken))).toThrow(SyntaxError);
  });

  test('any JSON: parsing the cut text gives the value without its managedFields arrays', () => {
    const key = fc.oneof(
      fc.constant('managedFields'),
      fc.constant('x"managedFields'),
      fc.constant('managedFields\\'),
      fc.string({ maxLength: 6 }),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string({ maxLength: 8 }),
        fc.constantFrom('"managedFields":[', '\\', ']', '}', '"'),
        fc.integer(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.constantFrom(undefined, 1), (json, indent) => {
        const text = JSON.stringify(json, null, indent);
        expect(JSON.parse(withoutManagedFields(text))).toEqual(stripped(json));
      }),
      { numRuns: 2_000 },
    );
  });
});
