import { CNI_CODES, CniError } from './cni-error.js';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

/** The spec's container id grammar. */
const CONTAINER_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** IFNAMSIZ is 16 including the terminator. */
const MAX_IFNAME_BYTES = 15;
const IFNAME_FORBIDDEN = /[/:\s]/;

export type Env = Readonly<Record<string, string | undefined>>;

/** The per-attachment parameters ADD, DEL and CHECK receive through the environment. */
export interface AttachmentEnv {
  containerId: string;
  /** Empty on a DEL whose namespace is already gone. */
  netns: string;
  ifname: string;
  /** Raw CNI_ARGS; parsed separately so DEL can be lenient about it. */
  args: string;
}

function invalidEnv(message: string): CniError {
  return new CniError(CNI_CODES.INVALID_ENVIRONMENT, message);
}

export function parseCommand(value: string | undefined): CniCommand {
  if (value === undefined || value === '') throw invalidEnv('CNI_COMMAND is not set');
  if ((CNI_COMMANDS as readonly string[]).includes(value)) return value as CniCommand;
  throw invalidEnv(`CNI_COMMAND "${value}" is not one of ${CNI_COMMANDS.join(', ')}`);
}

export function validateContainerId(value: string | undefined): string {
  if (value === undefined || value === '') throw invalidEnv('CNI_CONTAINERID is not set');
  if (!CONTAINER_ID_PATTERN.test(value)) {
    throw invalidEnv(
      `CNI_CONTAINERID ${JSON.stringify(value)} is invalid: it must match ${CONTAINER_ID_PATTERN.source}`,
    );
  }
  return value;
}

export function validateIfname(value: string | undefined): string {
  if (value === undefined || value === '') throw invalidEnv('CNI_IFNAME is not set');
  const shown = JSON.stringify(value);
  if (Buffer.byteLength(value, 'utf8') > MAX_IFNAME_BYTES) {
    throw invalidEnv(`CNI_IFNAME ${shown} is invalid: longer than ${MAX_IFNAME_BYTES} bytes`);
  }
  if (value === '.' || value === '..') throw invalidEnv(`CNI_IFNAME ${shown} is invalid`);
  if (IFNAME_FORBIDDEN.test(value)) {
    throw invalidEnv(`CNI_IFNAME ${shown} is invalid: it must not contain '/', ':' or whitespace`);
  }
  return value;
}

/**
 * A netns path the daemon will hand to nsenter and `ip link set netns`: absolute and plain, so
 * `/var/run/netns/../../etc/passwd` or a relative path never reaches the kernel code. Whether it
 * really is a namespace is the daemon's check (it statfs()es it) before anything is touched.
 */
function validateNetns(value: string): string {
  const shown = JSON.stringify(value);
  if (!value.startsWith('/'))
    throw invalidEnv(`CNI_NETNS ${shown} is invalid: not an absolute path`);
  if (value.split('/').some((part) => part === '..' || part === '.')) {
    throw invalidEnv(`CNI_NETNS ${shown} is invalid: it must not contain '.' or '..' segments`);
  }
  if (/[\s\0#"'\\]/.test(value)) {
    throw invalidEnv(
      `CNI_NETNS ${shown} is invalid: it must not contain whitespace, quotes or '#'`,
    );
  }
  return value;
}

/** ADD and CHECK: every attachment parameter is required. */
export function requireAttachmentEnv(env: Env): AttachmentEnv {
  const containerId = validateContainerId(env.CNI_CONTAINERID);
  const netns = env.CNI_NETNS ?? '';
  if (netns === '') throw invalidEnv('CNI_NETNS is not set');
  validateNetns(netns);
  const ifname = validateIfname(env.CNI_IFNAME);
  return { containerId, netns, ifname, args: env.CNI_ARGS ?? '' };
}

/** DEL: the namespace may already be gone, so only the container id and ifname are required. */
export function requireDelEnv(env: Env): AttachmentEnv {
  const containerId = validateContainerId(env.CNI_CONTAINERID);
  const ifname = validateIfname(env.CNI_IFNAME);
  const netns = env.CNI_NETNS ?? '';
  if (netns !== '') validateNetns(netns);
  return { containerId, netns, ifname, args: env.CNI_ARGS ?? '' };
}
