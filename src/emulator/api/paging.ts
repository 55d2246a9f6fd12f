/**
 * The two paging styles: NextToken (ENIs, instances, instance types) and PageNumber/PageSize
 * (vSwitches, the deprecated ENI form). A NextToken names the last item returned, not an offset,
 * so deleting items between pages never skips one.
 */
import { invalidParameter } from '../wire/api-error.js';

export interface TokenPage<T> {
  items: T[];
  /** '' on the last page, as ECS answers. */
  nextToken: string;
}

export function pageByToken<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  nextToken: string | undefined,
  maxResults: number,
): TokenPage<T> {
  let start = 0;
  if (nextToken !== undefined) {
    const after = decodeToken(nextToken);
    start = items.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + maxResults);
  const last = page[page.length - 1];
  const more = start + maxResults < items.length && last !== undefined;
  return { items: page, nextToken: more ? encodeToken(keyOf(last)) : '' };
}

export function pageByNumber<T>(items: readonly T[], pageNumber: number, pageSize: number): T[] {
  const start = (pageNumber - 1) * pageSize;
  return items.slice(start, start + pageSize);
}

/** Sort keys for paging must compare as strings; zero-padding keeps numeric order. */
export function sequenceKey(seq: number): string {
  return String(seq).padStart(12, '0');
}

export function encodeToken(key: string): string {
  return Buffer.from(`after:${key}`).toString('base64url');
}

function decodeToken(token: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString() : '';
  if (!text.startsWith('after:')) throw invalidParameter('NextToken', 'the token is malformed');
  return text.slice('after:'.length);
}
