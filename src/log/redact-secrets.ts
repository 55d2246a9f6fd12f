/**
 * Credentials are redacted from every log line by key name, wherever they sit in the top three
 * levels of a logged object: the raw eni_conf (snake_case) and DaemonConfig (camelCase, under
 * `credentials`) are logged whole or one or two levels down (`{ config }`, `{ config: {
 * credentials } }`), STS tokens arrive inside cloud requests, and the credential file and the RAM
 * role's metadata spell them in PascalCase.
 *
 * pino's own `redact` option was used before, with wildcard paths (`*.accessKey`) for the levels
 * below the top. Those cost every line about 19 µs and 32 KB of garbage, whatever it held
 * (pino 10: 25 µs a line with them, 6 µs without): under 32 concurrent AllocateIP calls, two
 * info lines each, 37% of what terwayd allocated. This walk reads the keys and allocates nothing
 * unless it finds a secret; then it copies only the objects on the way to it, so the caller's
 * object is never changed.
 */
export const REDACTED = '[REDACTED]';

/**
 * Every spelling of a credential the daemon handles: eni_conf, DaemonConfig, the SDK's STS fields,
 * and the credential file's and the RAM role metadata's (PascalCase).
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'access_key',
  'access_secret',
  'accessKey',
  'accessSecret',
  'accessKeyId',
  'accessKeySecret',
  'securityToken',
  'security_token',
  'AccessKeyId',
  'AccessKeySecret',
  'SecurityToken',
]);

/** The logged object itself and two levels below it: `{ config: { credentials: { accessKey } } }`. */
const LEVELS = 3;

/**
 * `value` with every SECRET_KEYS property in its top LEVELS levels replaced by REDACTED: the same
 * object when it holds none, else a copy of each object on the way to one (prototype, property
 * attributes and non-enumerable properties kept, so an Error stays an Error).
 */
export function redactSecrets<T>(value: T): T {
  return redactLevel(value, LEVELS);
}

function redactLevel<T>(value: T, levels: number): T {
  if (!isWalkable(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const child: unknown = value[key];
    let replacement: unknown = child;
    if (SECRET_KEYS.has(key)) {
      if (child !== undefined && child !== null) replacement = REDACTED;
    } else if (levels > 1) {
      replacement = redactLevel(child, levels - 1);
    }
    if (replacement === child) continue;
    copy ??= shallowCopy(value);
    Object.defineProperty(copy, key, {
      value: replacement,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return (copy ?? value) as T;
}

/** Objects whose keys JSON would write: not byte arrays, whose indices are no names. */
function isWalkable(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value);
}

/**
 * An array stays an array; any other object keeps its prototype and every own property, each made
 * configurable so the redacted value can replace it (a frozen object, a getter).
 */
function shallowCopy(value: object): Record<string, unknown> {
  if (Array.isArray(value)) return value.slice() as unknown as Record<string, unknown>;
  const descriptors = Object.getOwnPropertyDescriptors(value);
  for (const key of Reflect.ownKeys(descriptors)) {
    const descriptor = descriptors[key as keyof typeof descriptors]!;
    descriptor.configurable = true;
    if ('value' in descriptor) descriptor.writable = true;
  }
  return Object.create(Object.getPrototypeOf(value) as object | null, descriptors) as Record<
    string,
    unknown
  >;
}
