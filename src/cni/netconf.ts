/**
 * The network configuration kubelet/containerd hand the shim on stdin, checked key by key with
 * messages that name the key and the fix. Checked by hand rather than with a schema library: the
 * shim is a fresh process per pod verb, and building a schema costs it milliseconds before every
 * ADD, more than the check itself by two orders of magnitude.
 */
import { MAX_SOCKET_PATH_BYTES } from '../rpc/socket-address.js';
import { CNI_CODES, CniError } from './cni-error.js';
import type { CniVersion } from './cni-version.js';
import { requireSupportedVersion } from './cni-version.js';

type JsonObject = Record<string, unknown>;

export interface Attachment {
  containerID: string;
  ifname: string;
  [key: string]: unknown;
}

/** The validated configuration. Unknown keys pass through: conflists carry other plugins' keys. */
export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  /** Overrides the default terwayd socket. */
  daemon_socket?: string;
  /** The gRPC deadline; ADD's daemon waits this long for the IP pool. */
  timeout_seconds?: number;
  prevResult?: JsonObject;
  runtimeConfig?: JsonObject;
  capabilities?: JsonObject;
  /** Terway's datapath selector; the daemon decides what it means. */
  eniip_virtual_type?: string;
  'cni.dev/valid-attachments'?: Attachment[];
  /** libcni also sends the spec's earlier misspelling, with the same value. */
  'cni.dev/attachments'?: Attachment[];
  [key: string]: unknown;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One key's check: the problems it finds, each a sentence about `where`. */
type Check = (value: unknown, where: string) => string[];

function typed(expected: string, is: (value: unknown) => boolean, then?: Check): Check {
  return (value, where) => {
    if (value === undefined) return [`"${where}" is required (expected ${expected})`];
    if (!is(value)) return [`"${where}" must be ${expected}, got ${describeValue(value)}`];
    return then === undefined ? [] : then(value, where);
  };
}

const isString = (value: unknown): value is string => typeof value === 'string';

const aString = typed('a string', isString);
const nonEmptyString = typed('a string', isString, (value, where) =>
  (value as string).length > 0 ? [] : [`"${where}" must not be empty`],
);
const socketPath = typed('a string', isString, (value, where) => {
  const path = value as string;
  const problems: string[] = [];
  if (!path.startsWith('/')) problems.push(`"${where}" must be an absolute path`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    problems.push(
      `"${where}" must be at most ${MAX_SOCKET_PATH_BYTES} bytes (the unix socket path limit)`,
    );
  }
  return problems;
});
const positiveNumber = typed(
  'a number',
  (value) => typeof value === 'number' && !Number.isNaN(value),
  (value, where) => ((value as number) > 0 ? [] : [`"${where}" must be a positive number`]),
);
const anObject = typed('an object', isJsonObject);
const attachments = typed('an array', Array.isArray, (value, where) =>
  (value as unknown[]).flatMap((item, index) => {
    const at = `${where}[${index}]`;
    if (!isJsonObject(item)) return [`"${at}" must be an object, got ${describeValue(item)}`];
    return [
      ...aString(item.containerID, `${at}.containerID`),
      ...aString(item.ifname, `${at}.ifname`),
    ];
  }),
);

const optional =
  (check: Check): Check =>
  (value, where) =>
    value === undefined ? [] : check(value, where);

const KEYS: ReadonlyArray<readonly [key: string, check: Check]> = [
  ['cniVersion', aString],
  ['name', nonEmptyString],
  ['type', nonEmptyString],
  ['daemon_socket', optional(socketPath)],
  ['timeout_seconds', optional(positiveNumber)],
  ['prevResult', optional(anObject)],
  ['runtimeConfig', optional(anObject)],
  ['capabilities', optional(anObject)],
  ['eniip_virtual_type', optional(aString)],
  ['cni.dev/valid-attachments', optional(attachments)],
  ['cni.dev/attachments', optional(attachments)],
];

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
  const problems = KEYS.flatMap(([key, check]) => check(input[key], key));
  if (problems.length > 0) {
    throw new CniError(
      CNI_CODES.INVALID_NETWORK_CONFIG,
      `invalid network configuration: ${problems.join('; ')}`,
    );
  }
  const conf = input as NetConf;
  return { ...conf, cniVersion: requireSupportedVersion(conf.cniVersion) };
}
