import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import { splitListItems } from '../../src/k8s/list-items.js';

/**
 * What the split promises: each span parses to the item JSON.parse finds there in the whole text,
 * and the rest to the list without its items.
 */
function expectSplit(text: string): void {
  const list = JSON.parse(text) as { items: unknown[] };
  const body = Buffer.from(text);
  const split = splitListItems(body);
  expect(split).toBeDefined();
  const { rest, spans } = split!;
  const items = [];
  for (let index = 0; index < spans.length; index += 2) {
    items.push(JSON.parse(body.toString('utf8', spans[index], spans[index + 1])));
  }
  expect(items).toEqual(list.items);
  expect(JSON.parse(rest)).toEqual({ ...list, items: [] });
}

describe('splitListItems', () => {
  test('finds every item of a list as an apiserver writes it', () => {
    const list = {
      kind: 'ServiceList',
      apiVersion: 'v1',
      metadata: { resourceVersion: '42', continue: 'eyJ9' },
      items: [
        { metadata: { name: 'a', annotations: { note: 'a "quoted" ] } [ { text \\' } } },
        { metadata: { name: 'b', labels: { é: '服务', emoji: '🚀' } }, spec: { ports: [] } },
        [],
        'a string item',
        7,
        null,
      ],
    };
    expectSplit(JSON.stringify(list));
    expectSplit(JSON.stringify(list, null, 2));
    expectSplit(JSON.stringify(list, null, '\t'));
    const empty = { kind: 'ServiceList', metadata: { resourceVersion: '1' }, items: [] };
    expectSplit(JSON.stringify(empty));
    expectSplit(` \n${JSON.stringify(empty, null, 1)}\n `);
  });

  test('any list of JSON values, compact or indented, splits into exactly its items', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
        fc.constantFrom(undefined, 1, 2, '\t'),
        (items, others, indent) => {
          const list = { ...others, metadata: { resourceVersion: '9' }, items };
          expectSplit(JSON.stringify(list, null, indent));
        },
      ),
      { numRuns: 300 },
    );
  });

  test.each([
    ['not an object', '[{"items":[]}]'],
    ['an object without items', '{"kind":"Status","code":200}'],
    ['items that are not an array', '{"metadata":{},"items":{"a":1}}'],
    ['items twice', '{"items":[1],"items":[2]}'],
    ['an item that never ends', '{"metadata":{},"items":[{"a":"b}]}'],
    ['two items without a comma', '{"metadata":{},"items":[{} {}]}'],
    ['a member without a colon', '{"metadata" {},"items":[]}'],
    ['text after the list', '{"metadata":{},"items":[]} x'],
    ['a list that never closes', '{"metadata":{},"items":[]'],
    ['an empty body', ''],
  ])('%s is left for JSON.parse to judge whole (undefined)', (_name, text) => {
    expect(splitListItems(Buffer.from(text))).toBeUndefined();
  });

  test("an item's own syntax is JSON.parse's to judge: a bad scalar is cut out as it is", () => {
    const body = Buffer.from('{"metadata":{},"items":[{"a":1},tru]}');
    const { spans } = splitListItems(body)!;
    expect(body.toString('utf8', spans[2], spans[3])).toBe('tru');
    expect(() => JSON.parse(body.toString('utf8', spans[2], spans[3]))).toThrow();
  });
});
