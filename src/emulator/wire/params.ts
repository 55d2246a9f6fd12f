/**
 * Reads the SDK's flattened query parameters (ECS-API.md §1.3): scalars, `Name.N` lists and
 * `Tag.N.Key` object lists. Every reader validates as ECS does and throws the ECS error, so a
 * handler is a straight line of reads followed by the work.
 */
import { ApiError, invalidParameter, missingParameter, parameterConflict } from './api-error.js';

/** ECS keeps list indices small; anything beyond this is a malformed request, not a big list. */
const MAX_LIST_INDEX = 1000;

export interface TagParam {
  key: string;
  value: string;
}

export class Params {
  constructor(
    private readonly raw: Readonly<Record<string, string>>,
    /** Assign/Unassign document MissingParameter as 403; every other API as 400. */
    private readonly missingStatus = 400,
  ) {}

  all(): Readonly<Record<string, string>> {
    return this.raw;
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== '';
  }

  optional(name: string): string | undefined {
    const value = this.raw[name];
    return value === undefined || value === '' ? undefined : value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) throw missingParameter(name, this.missingStatus);
    return value;
  }

  missing(name: string): ApiError {
    return missingParameter(name, this.missingStatus);
  }

  /** An integer in [min, max]; undefined when absent. */
  int(name: string, min: number, max: number): number | undefined {
    const text = this.optional(name);
    if (text === undefined) return undefined;
    if (!/^-?\d+$/.test(text)) {
      throw invalidParameter(name, `${JSON.stringify(text)} is not an integer`);
    }
    const value = Number(text);
    if (value < min || value > max) {
      throw invalidParameter(name, `${value} is outside ${min}..${max}`);
    }
    return value;
  }

  /** An integer clamped into [min, max], as DescribeNetworkInterfaces treats MaxResults. */
  clampedInt(name: string, min: number, max: number, fallback: number): number {
    const text = this.optional(name);
    if (text === undefined) return fallback;
    if (!/^-?\d+$/.test(text)) {
      throw invalidParameter(name, `${JSON.stringify(text)} is not an integer`);
    }
    return Math.min(max, Math.max(min, Number(text)));
  }

  bool(name: string): boolean | undefined {
    const text = this.optional(name);
    if (text === undefined) return undefined;
    if (text !== 'true' && text !== 'false') throw invalidParameter(name, 'must be true or false');
    return text === 'true';
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const text = this.optional(name);
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
      throw invalidParameter(name, `must be one of ${allowed.join(', ')}`);
    }
    return text as T;
  }

  /** `Name.1`, `Name.2`, … in index order; gaps are tolerated, as the SDK never makes them. */
  list(name: string, maxItems: number): string[] {
    const prefix = `${name}.`;
    const entries: [number, string][] = [];
    for (const [key, value] of Object.entries(this.raw)) {
      if (!key.startsWith(prefix)) continue;
      const index = indexOf(key.slice(prefix.length), key);
      if (value !== '') entries.push([index, value]);
    }
    if (entries.length > maxItems) {
      throw invalidParameter(name, `at most ${maxItems} items are allowed`);
    }
    return entries.sort((a, b) => a[0] - b[0]).map(([, value]) => value);
  }

  /** `Tag.N.Key` / `Tag.N.Value`; a Value without a Key is refused, keys must be unique. */
  tags(maxItems = 20): TagParam[] {
    const byIndex = new Map<number, { key?: string; value?: string }>();
    for (const [key, value] of Object.entries(this.raw)) {
      const match = /^Tag\.([^.]+)\.(Key|Value)$/.exec(key);
      if (match === null) continue;
      const index = indexOf(match[1] ?? '', key);
      const entry = byIndex.get(index) ?? {};
      if (match[2] === 'Key') entry.key = value;
      else entry.value = value;
      byIndex.set(index, entry);
    }
    if (byIndex.size > maxItems) {
      throw new ApiError(403, 'QuotaExceed.Tags', `At most ${maxItems} tags are allowed.`);
    }
    const tags: TagParam[] = [];
    const seen = new Set<string>();
    for (const [index, entry] of [...byIndex.entries()].sort((a, b) => a[0] - b[0])) {
      if (!entry.key) throw invalidParameter(`Tag.${index}.Key`, 'a tag needs a key');
      if (seen.has(entry.key)) {
        throw new ApiError(400, 'Duplicate.TagKey', `The tag key ${entry.key} is repeated.`);
      }
      seen.add(entry.key);
      tags.push({ key: entry.key, value: entry.value ?? '' });
    }
    return tags;
  }

  /** Refuses two mutually exclusive parameters given together. */
  exclusive(a: string, aPresent: boolean, b: string, bPresent: boolean): void {
    if (aPresent && bPresent) throw parameterConflict(a, b);
  }
}

function indexOf(text: string, key: string): number {
  if (!/^[1-9]\d*$/.test(text) || Number(text) > MAX_LIST_INDEX) {
    throw invalidParameter(key, 'list indices start at 1');
  }
  return Number(text);
}
