import { statSync } from 'node:fs';
import type { BackendCalls, BackendMethod } from './backend-client.js';
import { CNI_CODES, CniError } from './cni-error.js';
import type { DaemonTarget } from './daemon-target.js';

function unreachable(socketPath: string, why: string): CniError {
  return new CniError(
    CNI_CODES.TRY_AGAIN_LATER,
    `terwayd is not reachable at ${socketPath}: ${why}`,
  );
}

/**
 * Answers "daemon down" from one stat(2) instead of loading gRPC and letting a connect fail;
 * the common case on a node whose terwayd is (re)starting.
 */
export function probeSocket(socketPath: string): void {
  let stats;
  try {
    stats = statSync(socketPath, { throwIfNoEntry: false });
  } catch (error) {
    throw unreachable(socketPath, error instanceof Error ? error.message : String(error));
  }
  if (stats === undefined) {
    throw unreachable(socketPath, 'the socket does not exist (is terwayd running on this node?)');
  }
  if (!stats.isSocket()) throw unreachable(socketPath, 'the path exists but is not a unix socket');
}

/** The shim's single round trip to terwayd. */
export async function callBackend<M extends BackendMethod>(
  target: DaemonTarget,
  method: M,
  request: BackendCalls[M]['request'],
  subject?: string,
): Promise<BackendCalls[M]['reply']> {
  probeSocket(target.socketPath);
  const { invokeBackend } = await import('./backend-client.js');
  return invokeBackend(target, method, request, subject);
}
