import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { z } from 'zod';

import { TerwayError } from '../../errors/terway-error.js';

/** Bumped whenever the layout changes; an unknown version is refused rather than guessed at. */
export const STATE_FILE_VERSION = 1;

const ENI_ID = /^eni-[0-9a-f]{20}$/;
const MAC = /^00:16:3e(:[0-9a-f]{2}){3}$/;

const eniSchema = z.strictObject({
  id: z.string().regex(ENI_ID),
  mac: z.string().regex(MAC),
  primaryIp: z.string(),
  privateIps: z.array(z.string()).min(1),
  vswitchId: z.string(),
  vswitchCidr: z.string(),
  gateway: z.string(),
  status: z.enum(['Available', 'Attaching', 'InUse', 'Detaching', 'Deleting']),
});

const stateSchema = z.strictObject({
  version: z.literal(STATE_FILE_VERSION),
  instanceType: z.string(),
  vswitchId: z.string(),
  vswitchCidr: z.string(),
  zoneId: z.string(),
  enis: z.array(eniSchema),
  allocator: z.strictObject({
    nextFreshIp: z.string(),
    recycledIps: z.array(z.string()),
  }),
});

/** The memory cloud's whole state as written to disk. */
export type PersistedCloudState = z.infer<typeof stateSchema>;

/**
 * Reads the state file. Missing → undefined (a fresh cloud). Unreadable, not JSON, or not the
 * expected shape → INVALID_CONFIG naming the file: silently starting empty would orphan every
 * ENI the daemon believes it has.
 */
export function readStateFile(file: string): PersistedCloudState | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw corruptStateFile(file, cause instanceof Error ? cause.message : String(cause), cause);
  }
  const result = stateSchema.safeParse(parsed);
  if (!result.success) throw corruptStateFile(file, z.prettifyError(result.error));
  return result.data;
}

/**
 * Replaces the state file atomically and durably: write a temp file in the same directory,
 * fsync it, rename it over the old one, fsync the directory. A crash at any point leaves
 * either the old state or the new one, never a torn mix. Synchronous on purpose, so no other
 * mutation can interleave with the write.
 */
export function writeStateFile(file: string, state: PersistedCloudState): void {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    fsyncDirectory(dir);
  } catch (cause) {
    rmSync(temp, { force: true });
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new TerwayError('INTERNAL', `cannot write memory cloud state ${file}: ${message}`, {
      cause,
    });
  }
}

/** Makes the rename itself durable; without it a power cut could resurrect the old file. */
function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The one error for any unusable state file, so operators always see the path. */
export function corruptStateFile(file: string, detail: string, cause?: unknown): TerwayError {
  return new TerwayError(
    'INVALID_CONFIG',
    `memory cloud state file ${file} is corrupt or does not match this node: ${detail}. ` +
      'Move it aside to start from an empty cloud.',
    cause === undefined ? {} : { cause },
  );
}
