import { callBackend } from '../backend-call.js';
import { requirePodArgs } from '../cni-args.js';
import { requireAttachmentEnv } from '../cni-env.js';
import { CNI_CODES, CniError } from '../cni-error.js';
import { daemonTarget } from '../daemon-target.js';
import type { GetIPInfoReply__Output } from '../../rpc/generated/terway/v1/GetIPInfoReply.js';
import type { VerbOutput, VerbRequest } from './verb.js';

/** The pool marks an IP "invalid" once the cloud no longer has it assigned to this node. */
const INVALID_IP_STATE = 'invalid';

function mismatch(message: string): CniError {
  return new CniError(CNI_CODES.INTERNAL, `CHECK: ${message}`);
}

/** The CIDR addresses prevResult lists; code 7 when its shape is not a CNI result's. */
export function prevResultAddresses(prevResult: Record<string, unknown>): string[] {
  const ips = prevResult.ips;
  if (ips === undefined) return [];
  if (!Array.isArray(ips)) {
    throw new CniError(CNI_CODES.INVALID_NETWORK_CONFIG, '"prevResult.ips" must be an array');
  }
  return ips.map((entry: unknown, index) => {
    const address = (entry as { address?: unknown } | null)?.address;
    if (typeof address !== 'string') {
      throw new CniError(
        CNI_CODES.INVALID_NETWORK_CONFIG,
        `"prevResult.ips[${index}].address" must be a string`,
      );
    }
    return address;
  });
}

function hostOf(cidr: string): string {
  return (cidr.split('/')[0] ?? '').toLowerCase();
}

/** Throws a code-999 CniError that says exactly how prevResult and terwayd's record disagree. */
export function verifyAgainstRecord(
  prevResult: Record<string, unknown>,
  reply: GetIPInfoReply__Output,
  subject: string,
  containerId: string,
): void {
  const addresses = prevResultAddresses(prevResult);
  const shown = addresses.length === 0 ? 'no IP' : addresses.join(', ');
  const network = reply.network;
  if (network === null || network.ip === '') {
    throw mismatch(`prevResult has ${shown} but terwayd has no record for ${subject}`);
  }
  const recorded = `${network.ip}/${network.prefixLength}`;
  const recordedOwner = network.pod?.containerId ?? '';
  if (recordedOwner !== '' && recordedOwner !== containerId) {
    throw mismatch(
      `terwayd records ${recorded} for ${subject} under container ${recordedOwner}, not ${containerId}`,
    );
  }
  if (!addresses.some((address) => address.toLowerCase() === recorded.toLowerCase())) {
    const sameHost = addresses.find((address) => hostOf(address) === network.ip.toLowerCase());
    throw mismatch(
      sameHost === undefined
        ? `prevResult has ${shown} but terwayd records ${recorded} for ${subject}`
        : `prevResult has ${sameHost} but terwayd records prefix length ${network.prefixLength} (${recorded}) for ${subject}`,
    );
  }
  if (reply.ipState === INVALID_IP_STATE) {
    throw mismatch(
      `terwayd reports ${recorded} of ${subject} as invalid: the cloud no longer assigns it`,
    );
  }
  if (reply.drift.length > 0) {
    throw mismatch(
      `the datapath of ${subject} differs from what ADD set up: ${reply.drift.join('; ')}`,
    );
  }
}

/** CNI CHECK: the daemon's record must still match what ADD reported. */
export async function runCheck({ conf, env }: VerbRequest): Promise<VerbOutput> {
  const attachment = requireAttachmentEnv(env);
  const pod = requirePodArgs(attachment.args);
  if (conf.prevResult === undefined) {
    throw new CniError(
      CNI_CODES.INVALID_NETWORK_CONFIG,
      'CHECK requires "prevResult" (the result of the preceding ADD) in the network configuration',
    );
  }
  // Validate before the round trip: a malformed prevResult is a config error whatever terwayd says.
  prevResultAddresses(conf.prevResult);
  const subject = `${pod.namespace}/${pod.name}`;
  const reply = await callBackend(
    daemonTarget('CHECK', conf),
    'GetIPInfo',
    { pod: { namespace: pod.namespace, name: pod.name, containerId: attachment.containerId } },
    subject,
  );
  verifyAgainstRecord(conf.prevResult, reply, subject, attachment.containerId);
  return undefined;
}
