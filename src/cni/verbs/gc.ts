import { callBackend } from '../backend-call.js';
import { CNI_CODES, CniError } from '../cni-error.js';
import { daemonTarget } from '../daemon-target.js';
import type { VerbOutput, VerbRequest } from './verb.js';

/**
 * CNI GC (spec 1.1): terwayd releases every record not in the runtime's list. A missing list is
 * refused rather than read as empty, since an empty list means "release everything".
 */
export async function runGc({ conf }: VerbRequest): Promise<VerbOutput> {
  const attachments = conf['cni.dev/valid-attachments'] ?? conf['cni.dev/attachments'];
  if (attachments === undefined) {
    throw new CniError(
      CNI_CODES.INVALID_NETWORK_CONFIG,
      'GC requires "cni.dev/valid-attachments" in the network configuration',
    );
  }
  await callBackend(daemonTarget('GC', conf), 'GarbageCollect', {
    validAttachments: attachments.map((a) => ({ containerId: a.containerID, ifname: a.ifname })),
  });
  return undefined;
}
