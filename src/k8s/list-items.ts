/**
 * A list response's items, found in its bytes so that each can be decoded and parsed on its own.
 *
 * Parsed whole, a 500-object page is a megabyte-sized string and every object of the page alive at
 * once: all of it outlives the young generation (terwayd runs V8 with 1 MB semi-spaces), so the
 * collector copies it into the old one and then has to mark-compact it away, and the page's
 * string and its managedFields-free copy are large objects, allocated straight into the old
 * generation. Cut into items, each item's text and objects are small and die young, between two
 * scavenges: in the 10,000-Service cluster-mode sync of BENCHMARKS.md §7 (40 pages of 500), the
 * worker's collector paused 524 ms instead of 711 (--trace-gc), 16 mark-compacts instead of 25.
 *
 * The scan is of JSON's structure only (strings, with their escapes, and bracket depth), on bytes:
 * every structural character is ASCII, and no byte of a multi-byte UTF-8 sequence is. It trusts
 * nothing else: anything other than a top-level object with an `"items"` array of well-formed
 * values gives undefined, and the caller parses the body whole, as before, for JSON.parse to read
 * or to reject. Each item's own syntax is JSON.parse's to judge.
 */
import {
  QUOTE,
  BACKSLASH,
  COMMA,
  COLON,
  OPEN_ARRAY,
  OPEN_OBJECT,
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  isJsonSpace,
} from './json-syntax.js';

export interface ListItems {
  /** The list's text with its items left out (`"items":[]`): kind, apiVersion and metadata. */
  readonly rest: string;
  /** Where each item lies in the body: item i is bytes spans[2i] to spans[2i+1]. */
  readonly spans: readonly number[];
}

const ITEMS_KEY = Buffer.from('"items"');

export function splitListItems(body: Buffer): ListItems | undefined {
  let at = skipSpace(body, 0);
  if (body[at] !== OPEN_OBJECT) return undefined;
  let items: { start: number; end: number; spans: number[] } | undefined;
  at = skipSpace(body, at + 1);
  if (body[at] !== CLOSE_OBJECT) {
    for (;;) {
      if (body[at] !== QUOTE) return undefined;
      const keyEnd = endOfString(body, at);
      if (keyEnd < 0) return undefined;
      const colon = skipSpace(body, keyEnd);
      if (body[colon] !== COLON) return undefined;
      const start = skipSpace(body, colon + 1);
      const end = endOfValue(body, start);
      if (end < 0) return undefined;
      if (isItemsKey(body, at, keyEnd)) {
        // Twice would be JSON.parse's last one; not worth telling apart from a broken body.
        if (items !== undefined) return undefined;
        const spans = arrayElements(body, start, end);
        if (spans === undefined) return undefined;
        items = { start, end, spans };
      }
      at = skipSpace(body, end);
      if (body[at] === CLOSE_OBJECT) break;
      if (body[at] !== COMMA) return undefined;
      at = skipSpace(body, at + 1);
    }
  }
  if (items === undefined || skipSpace(body, at + 1) !== body.length) return undefined;
  const rest =
    body.toString('utf8', 0, items.start) + '[]' + body.toString('utf8', items.end, body.length);
  return { rest, spans: items.spans };
}

function isItemsKey(body: Buffer, start: number, end: number): boolean {
  return (
    end - start === ITEMS_KEY.length &&
    body.compare(ITEMS_KEY, 0, ITEMS_KEY.length, start, end) === 0
  );
}

/** The elements of the array at [start, end), as start/end pairs; undefined if it is none. */
function arrayElements(body: Buffer, start: number, end: number): number[] | undefined {
  if (body[start] !== OPEN_ARRAY) return undefined;
  const spans: number[] = [];
  let at = skipSpace(body, start + 1);
  if (body[at] === CLOSE_ARRAY) return at + 1 === end ? spans : undefined;
  for (;;) {
    const elementEnd = endOfValue(body, at);
    if (elementEnd < 0) return undefined;
    spans.push(at, elementEnd);
    at = skipSpace(body, elementEnd);
    if (body[at] === CLOSE_ARRAY) return at + 1 === end ? spans : undefined;
    if (body[at] !== COMMA) return undefined;
    at = skipSpace(body, at + 1);
  }
}

/** The index just past the value that starts at `start`; -1 if there is none or it never ends. */
function endOfValue(body: Buffer, start: number): number {
  const first = body[start];
  if (first === QUOTE) return endOfString(body, start);
  if (first === OPEN_ARRAY || first === OPEN_OBJECT) return endOfNested(body, start);
  // A number, true, false or null: up to the next delimiter (JSON.parse judges the text).
  let at = start;
  while (at < body.length && !isDelimiter(body[at]!)) at++;
  return at > start ? at : -1;
}

/** The index just past the string whose opening quote is at `start`; -1 if it never closes. */
function endOfString(body: Buffer, start: number): number {
  for (let at = start + 1; at < body.length; at++) {
    const code = body[at];
    if (code === BACKSLASH) at++;
    else if (code === QUOTE) return at + 1;
  }
  return -1;
}

/** The index just past the array or object that opens at `start`; -1 if it never closes. */
function endOfNested(body: Buffer, start: number): number {
  let depth = 0;
  for (let at = start; at < body.length; at++) {
    const code = body[at];
    if (code === QUOTE) {
      at = endOfString(body, at);
      if (at < 0) return -1;
      at--;
    } else if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      depth++;
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) {
      depth--;
      if (depth === 0) return at + 1;
    }
  }
  return -1;
}

function isDelimiter(code: number): boolean {
  return code === COMMA || code === CLOSE_ARRAY || code === CLOSE_OBJECT || isJsonSpace(code);
}

function skipSpace(body: Buffer, start: number): number {
  let at = start;
  while (isJsonSpace(body[at])) at++;
  return at;
}
