/**
 * Reads, parses, validates and translates a services file off the daemon's main thread, then
 * exits. A 10,000-Service file is tens of megabytes of text and a second of parsing: done on the
 * main thread, every CNI call waits that second, and the heap that held the text, the objects and
 * the translation's garbage stays with the daemon. Here only each Service's frontends come back
 * (backends as numbers), and the worker's heap goes away with everything else.
 *
 * workerData: { servicesFile, appliedDigest? }. Posts one ServicesFileRead.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

import { translateCompleteState, type TranslatedState } from './complete-state.js';
import type { NodeTopology } from './lean-endpoint-slice.js';
import { parseServicesFile } from './services-file-parse.js';
import { messageOf } from '../errors/error-message.js';

export type ServicesFileRead =
  | { kind: 'missing' }
  /** The text has the digest the caller already applied: nothing parsed. */
  | { kind: 'unchanged' }
  | { kind: 'unreadable'; message: string }
  | { kind: 'invalid'; digest: string; message: string }
  | ({ kind: 'parsed'; digest: string } & TranslatedState);

/**
 * The whole read; the main thread does it itself at start, and when no worker can start.
 * `thisNode`: the daemon's node and zone, for `internalTrafficPolicy: Local` and topology hints.
 */
export function readServicesFile(
  path: string,
  appliedDigest: string | undefined,
  thisNode: NodeTopology | undefined,
): ServicesFileRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return { kind: 'missing' };
    return {
      kind: 'unreadable',
      message: `cannot read services file ${path}: ${messageOf(error)}`,
    };
  }
  const digest = createHash('sha256').update(text).digest('hex');
  if (digest === appliedDigest) return { kind: 'unchanged' };
  try {
    const content = parseServicesFile(text, path);
    return {
      kind: 'parsed',
      digest,
      ...translateCompleteState(content.services, content.endpointSlices, thisNode),
    };
  } catch (error) {
    return { kind: 'invalid', digest, message: messageOf(error) };
  }
}

export interface ServicesFileWorkerData {
  servicesFile: string;
  appliedDigest: string | undefined;
  thisNode: NodeTopology | undefined;
}

const job = workerData as Partial<ServicesFileWorkerData> | null;
if (parentPort !== null && typeof job?.servicesFile === 'string') {
  parentPort.postMessage(readServicesFile(job.servicesFile, job.appliedDigest, job.thisNode));
}
