import { CNI_CODES, CniError } from './cni-error.js';

/** Keys kubelet/containerd/cri-o send; anything else is refused unless IgnoreUnknown is set. */
const KNOWN_KEYS = new Set([
  'IgnoreUnknown',
  'K8S_POD_NAMESPACE',
  'K8S_POD_NAME',
  'K8S_POD_INFRA_CONTAINER_ID',
  'K8S_POD_UID',
]);

export interface PodArgs {
  namespace: string;
  name: string;
  infraContainerId: string | undefined;
}

function invalidArgs(message: string): CniError {
  return new CniError(CNI_CODES.INVALID_ENVIRONMENT, `CNI_ARGS is invalid: ${message}`);
}

/** containernetworking's UnmarshallableBool accepts these spellings. */
function parseBool(key: string, value: string): boolean {
  const lower = value.toLowerCase();
  if (lower === '1' || lower === 'true') return true;
  if (lower === '0' || lower === 'false') return false;
  throw invalidArgs(`${key}=${value} is not a boolean`);
}

/** Parses `K=V;K2=V2` with the libcni conventions (IgnoreUnknown, no empty keys). */
export function parseCniArgs(raw: string): Map<string, string> {
  const pairs = new Map<string, string>();
  if (raw.trim() === '') return pairs;
  for (const part of raw.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalidArgs(`"${part}" is not a KEY=VALUE pair`);
    pairs.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const ignoreUnknown = pairs.has('IgnoreUnknown')
    ? parseBool('IgnoreUnknown', pairs.get('IgnoreUnknown') ?? '')
    : false;
  if (!ignoreUnknown) {
    const unknown = [...pairs.keys()].filter((key) => !KNOWN_KEYS.has(key));
    if (unknown.length > 0) {
      throw invalidArgs(`unknown key(s) ${unknown.join(', ')} (set IgnoreUnknown=1 to allow them)`);
    }
  }
  return pairs;
}

/** ADD and CHECK need to know which pod they serve: the daemon keys its records by it. */
export function requirePodArgs(raw: string): PodArgs {
  const pairs = parseCniArgs(raw);
  const namespace = pairs.get('K8S_POD_NAMESPACE') ?? '';
  const name = pairs.get('K8S_POD_NAME') ?? '';
  const missing = [
    namespace === '' ? 'K8S_POD_NAMESPACE' : undefined,
    name === '' ? 'K8S_POD_NAME' : undefined,
  ].filter((key) => key !== undefined);
  if (missing.length > 0) {
    throw new CniError(
      CNI_CODES.INVALID_ENVIRONMENT,
      `CNI_ARGS does not carry ${missing.join(' and ')}: terway needs the pod's namespace and name`,
    );
  }
  return { namespace, name, infraContainerId: pairs.get('K8S_POD_INFRA_CONTAINER_ID') };
}

/**
 * DEL must still succeed when the runtime lost the pod identity (or sends garbage): malformed
 * pairs and unknown keys are skipped, and empty namespace/name make the daemon release by
 * container id alone.
 */
export function lenientPodArgs(raw: string): PodArgs {
  const pairs = new Map<string, string>();
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) pairs.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return {
    namespace: pairs.get('K8S_POD_NAMESPACE') ?? '',
    name: pairs.get('K8S_POD_NAME') ?? '',
    infraContainerId: pairs.get('K8S_POD_INFRA_CONTAINER_ID'),
  };
}
