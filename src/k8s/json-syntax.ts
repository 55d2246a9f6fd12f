/**
 * The character codes of JSON's structure, for the scanners that cut list responses before they
 * are parsed (managed-fields.ts on text, list-items.ts on bytes): each is ASCII, so a code unit of
 * a string and a byte of its UTF-8 alike.
 */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_ARRAY = 0x5b;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_ARRAY = 0x5d;
export const CLOSE_OBJECT = 0x7d;

/** JSON's whitespace: space, line feed, carriage return, tab. Undefined (past the end) is none. */
export function isJsonSpace(code: number | undefined): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
