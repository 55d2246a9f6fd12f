/**
 * Reads and validates `eni_conf`. Any problem becomes one `TerwayError('INVALID_CONFIG')` whose
 * message lists every bad key with the value given and what is allowed, so an operator can fix the
 * ConfigMap in one round instead of one restart per typo.
 */
import { readFileSync } from 'node:fs';

import type * as z from 'zod';

import { messageOf } from '../errors/error-message.js';
import { TerwayError } from '../errors/terway-error.js';
import { eniConfSchema, findUnknownKeys, SECRET_KEYS, toDaemonConfig } from './eni-conf.js';
import type { DaemonConfig } from './eni-conf.js';

// Re-exported so callers that load the file can take the defaults from the same module.
export { DEFAULT_CONFIG } from './eni-conf.js';

/** Long values (a whole vswitches map) are cut so one issue stays one readable line. */
const MAX_SHOWN_VALUE_CHARS = 80;
const ISSUE_PREFIX = 'invalid eni_conf: ';

export type ConfigIssue = z.core.$ZodIssue;

/** Validates an already-parsed `eni_conf` object and resolves defaults. */
export function parseConfig(raw: unknown): DaemonConfig {
  const result = eniConfSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new TerwayError('INVALID_CONFIG', formatConfigIssues(result.error.issues, raw));
  }
  return toDaemonConfig(result.data, findUnknownKeys(raw));
}

/** Reads `terwayd --config <path>`; a missing file, bad JSON or a bad value throws INVALID_CONFIG. */
export function loadConfigFile(path: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `cannot read config file ${path}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `config file ${path} is not valid JSON: ${messageOf(error)}`,
      { cause: error },
    );
  }
  try {
    return parseConfig(raw);
  } catch (error) {
    if (error instanceof TerwayError) {
      throw new TerwayError('INVALID_CONFIG', `config file ${path} is invalid:\n${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * One line per issue: `invalid eni_conf: <key>: got <value>, expected <what is allowed>`.
 * `raw` is only consulted for issues that do not carry their input (parsed without reportInput).
 */
export function formatConfigIssues(issues: readonly ConfigIssue[], raw?: unknown): string {
  return issues.map((issue) => ISSUE_PREFIX + describeConfigIssue(issue, raw)).join('\n');
}

/** The text of one issue, without the `invalid eni_conf: ` prefix. */
export function describeConfigIssue(issue: ConfigIssue, raw?: unknown): string {
  const value = 'input' in issue ? issue.input : valueAt(raw, issue.path);
  const key = formatPath(issue.path);
  const isSecret = typeof issue.path[0] === 'string' && SECRET_KEYS.has(issue.path[0]);
  const got =
    value === undefined
      ? 'missing'
      : `got ${isSecret ? describeHidden(value) : formatValue(value)}`;
  const text = `${got}, expected ${issue.message}`;
  return key === '' ? text : `${key}: ${text}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z0-9_-]+$/.test(part)) {
      out += out === '' ? part : `.${part}`;
    } else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

function formatValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_SHOWN_VALUE_CHARS ? `${text.slice(0, MAX_SHOWN_VALUE_CHARS)}…` : text;
}

/** Credentials must not reach logs, even when they are malformed. */
function describeHidden(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters (value hidden)`;
  if (Array.isArray(value)) return 'an array (value hidden)';
  return `${value === null ? 'null' : `a ${typeof value}`} (value hidden)`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let current = raw;
  for (const part of path) {
    if (typeof current !== 'object' || current === null || typeof part === 'symbol') {
      return undefined;
    }
    current = (current as Record<string | number, unknown>)[part];
  }
  return current;
}
