/**
 * A list response without its objects' `metadata.managedFields`, cut out of the JSON text before
 * it is parsed. An apiserver sends them on every object, and terwayd never reads them (the
 * projection drops them): in a 10,000-Service list they are half of the bytes, and more than half
 * of what JSON.parse builds, since `fieldsV1` is a tree of empty objects, one per field the
 * manager set. Parsed and collected, they were a quarter of a cluster-mode initial sync.
 *
 * The key is matched as the apiserver writes it, `"managedFields":[`. That text cannot occur
 * inside a JSON string (a string's quotes are escaped), so a match is a member; a key that merely
 * ends in it (`"x\"managedFields":`) is left alone. Whatever does not match, or does not close,
 * stays as it is, for JSON.parse to read or to reject.
 */
import {
  QUOTE,
  BACKSLASH,
  COMMA,
  OPEN_ARRAY,
  OPEN_OBJECT,
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  isJsonSpace,
} from './json-syntax.js';

const KEY = '"managedFields":';

export function withoutManagedFields(json: string): string {
  let at = json.indexOf(KEY);
  if (at < 0) return json;
  const kept: string[] = [];
  let from = 0;
  while (at >= 0) {
    const value = skipSpace(json, at + KEY.length);
    const end =
      json.charCodeAt(value) === OPEN_ARRAY && json.charCodeAt(at - 1) !== BACKSLASH
        ? endOfArray(json, value)
        : -1;
    if (end < 0) {
      at = json.indexOf(KEY, at + 1);
      continue;
    }
    // The member goes with one comma: the one after it, or else the one before (a last member).
    let cutFrom = at;
    let cutTo = end;
    const next = skipSpace(json, end);
    if (json.charCodeAt(next) === COMMA) {
      cutTo = next + 1;
    } else {
      const previous = skipSpaceBack(json, at - 1);
      if (json.charCodeAt(previous) === COMMA) cutFrom = previous;
    }
    kept.push(json.slice(from, cutFrom));
    from = cutTo;
    at = json.indexOf(KEY, from);
  }
  kept.push(json.slice(from));
  return kept.join('');
}

/** The index just past the array that opens at `start`; -1 if it never closes. */
function endOfArray(json: string, start: number): number {
  let depth = 0;
  for (let index = start; index < json.length; index++) {
    const code = json.charCodeAt(index);
    if (code === QUOTE) {
      for (index++; index < json.length; index++) {
        const inString = json.charCodeAt(index);
        if (inString === BACKSLASH) index++;
        else if (inString === QUOTE) break;
      }
    } else if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      depth++;
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) {
      depth--;
      if (depth === 0) return index + 1;
    }
  }
  return -1;
}

function skipSpace(json: string, index: number): number {
  while (isJsonSpace(json.charCodeAt(index))) index++;
  return index;
}

function skipSpaceBack(json: string, index: number): number {
  while (index >= 0 && isJsonSpace(json.charCodeAt(index))) index--;
  return index;
}
