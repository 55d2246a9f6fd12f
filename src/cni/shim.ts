import type { CniCommand, Env } from './cni-env.js';
import { parseCommand } from './cni-env.js';
import { asCniError, CNI_CODES, CniError } from './cni-error.js';
import { LATEST_VERSION, requireVerbAllowed } from './cni-version.js';
import { decodeStdin, requireDecoded, sniffCniVersion } from './stdin-json.js';
import type { Verb } from './verbs/verb.js';
import { versionResult } from './verbs/version.js';

export interface ShimInput {
  env: Env;
  readStdin: () => Promise<Buffer>;
}

/** Exactly what the process prints, in one write, and how it exits. */
export interface ShimOutcome {
  stdout: string;
  exitCode: 0 | 1;
}

/** Each verb is loaded only when asked for, so a run evaluates the code of one verb. */
async function loadVerb(command: Exclude<CniCommand, 'VERSION'>): Promise<Verb> {
  switch (command) {
    case 'ADD':
      return (await import('./verbs/add.js')).runAdd;
    case 'DEL':
      return (await import('./verbs/del.js')).runDel;
    case 'CHECK':
      return (await import('./verbs/check.js')).runCheck;
    case 'STATUS':
      return (await import('./verbs/status.js')).runStatus;
    case 'GC':
      return (await import('./verbs/gc.js')).runGc;
  }
}

async function readStdinOrFail(read: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await read();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CniError(
      CNI_CODES.IO_FAILURE,
      `failed to read the network configuration from stdin: ${reason}`,
    );
  }
}

/**
 * One CNI invocation, from the environment and stdin to the text to print. Never throws: every
 * failure becomes the spec's error result.
 */
export async function runShim(input: ShimInput): Promise<ShimOutcome> {
  let cniVersion: string = LATEST_VERSION;
  try {
    const decoded = decodeStdin(await readStdinOrFail(input.readStdin));
    cniVersion = sniffCniVersion(decoded);
    const command = parseCommand(input.env.CNI_COMMAND);
    if (command === 'VERSION') {
      return { stdout: `${JSON.stringify(versionResult(cniVersion))}\n`, exitCode: 0 };
    }
    const document = requireDecoded(decoded);
    // The checks load only once there is a decoded document to judge (VERSION needs none).
    const { loadNetconf } = await import('./netconf.js');
    const conf = loadNetconf(document);
    requireVerbAllowed(command, conf.cniVersion);
    const verb = await loadVerb(command);
    return { stdout: (await verb({ conf, env: input.env })) ?? '', exitCode: 0 };
  } catch (error) {
    return { stdout: `${JSON.stringify(asCniError(error).toResult(cniVersion))}\n`, exitCode: 1 };
  }
}
