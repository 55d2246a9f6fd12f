import * as z from 'zod/mini';
import { MAX_SOCKET_PATH_BYTES } from '../rpc/socket-address.js';
import { CNI_CODES, CniError } from './cni-error.js';
import type { CniVersion } from './cni-version.js';
import { requireSupportedVersion } from './cni-version.js';

const jsonObject = z.record(z.string(), z.unknown());

const attachment = z.looseObject({ containerID: z.string(), ifname: z.string() });

/** A refine, not minLength: minLength also runs on arrays after the type check has failed. */
const nonEmptyString = z
  .string()
  .check(z.refine((value) => value.length > 0, { error: 'must not be empty' }));

const socketPath = z.string().check(
  z.refine((path) => path.startsWith('/'), { error: 'must be an absolute path' }),
  z.refine((path) => Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES, {
    error: `must be at most ${MAX_SOCKET_PATH_BYTES} bytes (the unix socket path limit)`,
  }),
);

/** Unknown keys pass through: conflists carry other plugins' and the runtime's keys. */
const NETCONF_SCHEMA = z.looseObject({
  cniVersion: z.string(),
  name: nonEmptyString,
  type: nonEmptyString,
  /** Overrides the default terwayd socket. */
  daemon_socket: z.optional(socketPath),
  /** The gRPC deadline; ADD's daemon waits this long for the IP pool. */
  timeout_seconds: z.optional(z.number().check(z.positive({ error: 'must be a positive number' }))),
  prevResult: z.optional(jsonObject),
  runtimeConfig: z.optional(jsonObject),
  capabilities: z.optional(jsonObject),
  /** Terway's datapath selector; the daemon decides what it means. */
  eniip_virtual_type: z.optional(z.string()),
  'cni.dev/valid-attachments': z.optional(z.array(attachment)),
  /** libcni also sends the spec's earlier misspelling, with the same value. */
  'cni.dev/attachments': z.optional(z.array(attachment)),
});

/** The validated configuration; an intersection, since Omit would drop keys beside the index signature. */
export type NetConf = z.infer<typeof NETCONF_SCHEMA> & { cniVersion: CniVersion };

type Issue = z.core.$ZodIssue;

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function describeExpected(expected: string): string {
  if (expected === 'record' || expected === 'object') return 'an object';
  if (expected === 'array') return 'an array';
  return `a ${expected}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** zod's default texts say "Invalid input"; the runtime's operator needs the key and the fix. */
export function describeIssue(issue: Issue, input: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'invalid_type') {
    const actual = valueAt(input, issue.path);
    const expected = describeExpected(issue.expected);
    return actual === undefined
      ? `"${where}" is required (expected ${expected})`
      : `"${where}" must be ${expected}, got ${describeValue(actual)}`;
  }
  return `"${where}" ${issue.message}`;
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a decoded stdin document: code 6 if it is not an object, 1 for the version, 7 else. */
export function loadNetconf(input: unknown): NetConf {
  if (!isJsonObject(input)) {
    throw new CniError(
      CNI_CODES.DECODE_FAILURE,
      `failed to decode the network configuration: expected a JSON object, got ${describeValue(input)}`,
    );
  }
  // An unsupported version may use a shape we do not know, so it is judged before the shape.
  if (typeof input.cniVersion === 'string') requireSupportedVersion(input.cniVersion);
  const parsed = NETCONF_SCHEMA.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => describeIssue(issue, input));
    throw new CniError(
      CNI_CODES.INVALID_NETWORK_CONFIG,
      `invalid network configuration: ${problems.join('; ')}`,
    );
  }
  return { ...parsed.data, cniVersion: requireSupportedVersion(parsed.data.cniVersion) };
}
