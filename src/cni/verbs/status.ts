import { callBackend } from '../backend-call.js';
import { CNI_CODES, CniError } from '../cni-error.js';
import { daemonTarget } from '../daemon-target.js';
import type { VerbOutput, VerbRequest } from './verb.js';

function notAvailable(message: string, details?: string): CniError {
  return new CniError(CNI_CODES.PLUGIN_NOT_AVAILABLE, message, details);
}

/**
 * CNI STATUS (spec 1.1): silent success when terwayd can serve ADD, else code 50. Every failure
 * to ask is also 50: whatever the cause, ADD cannot be served right now.
 */
export async function runStatus({ conf }: VerbRequest): Promise<VerbOutput> {
  let reply;
  try {
    reply = await callBackend(daemonTarget('STATUS', conf), 'Status', {});
  } catch (error) {
    if (error instanceof CniError) throw notAvailable(error.message, error.details);
    throw notAvailable(error instanceof Error ? error.message : String(error));
  }
  const reason = reply.reason === '' ? 'no reason given' : reply.reason;
  if (!reply.ready) throw notAvailable(`terwayd is not ready: ${reason}`);
  if (!reply.canAllocate) throw notAvailable(`terwayd cannot allocate pod IPs: ${reason}`);
  return undefined;
}
