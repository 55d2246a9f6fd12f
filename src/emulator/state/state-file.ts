/**
 * The emulator's optional state file: instances, ENIs, allocation cursors and issued role
 * credentials, so a restarted emulator is the same account. Written whole after every change,
 * atomically (temp file + rename), synchronously so no mutation interleaves with a write.
 * ClientToken replies are not saved: a retry across an emulator restart creates anew.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { z } from 'zod';

import type { IssuedCredentials, StsIssuer } from '../auth/sts-issuer.js';
import type { AccountState } from './account-state.js';
import type { EniRecord, InstanceRecord } from './account-types.js';
import type { EniLifecycle } from './eni-lifecycle.js';

export const EMULATOR_STATE_VERSION = 1;

const statusSchema = z.enum(['Available', 'Attaching', 'InUse', 'Detaching', 'Deleting']);

const eniSchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  type: z.enum(['Primary', 'Secondary', 'Trunk']),
  status: statusSchema,
  mac: z.string(),
  vswitchId: z.string(),
  vpcId: z.string(),
  zoneId: z.string(),
  privateIps: z.array(z.string()).min(1),
  securityGroupIds: z.array(z.string()),
  tags: z.array(z.object({ key: z.string(), value: z.string() })),
  name: z.string(),
  description: z.string(),
  deleteOnRelease: z.boolean(),
  creationTime: z.string(),
  instanceId: z.string().optional(),
  deviceIndex: z.number().int().optional(),
  attachedSeq: z.number().int().optional(),
  stuck: z.boolean().optional(),
  stuckFailAt: z.number().optional(),
});

const instanceSchema = z.object({
  instanceId: z.string(),
  seq: z.number().int(),
  instanceType: z.string(),
  zoneId: z.string(),
  vswitchId: z.string(),
  primaryEniId: z.string(),
  hostname: z.string(),
  ramRoleName: z.string().optional(),
  securityGroupIds: z.array(z.string()),
  creationTime: z.string(),
});

const credentialsSchema = z.object({
  instanceId: z.string(),
  accessKeyId: z.string(),
  accessKeySecret: z.string(),
  securityToken: z.string(),
  issuedAt: z.number(),
  expiresAt: z.number(),
});

const stateSchema = z.object({
  version: z.literal(EMULATOR_STATE_VERSION),
  regionId: z.string(),
  vpcId: z.string(),
  nextSeq: z.number().int(),
  cursors: z.record(z.string(), z.string()),
  instances: z.array(instanceSchema),
  enis: z.array(eniSchema),
  stsCredentials: z.array(credentialsSchema),
});

export interface EmulatorStateFile {
  version: typeof EMULATOR_STATE_VERSION;
  regionId: string;
  vpcId: string;
  nextSeq: number;
  cursors: Record<string, string>;
  instances: InstanceRecord[];
  enis: EniRecord[];
  stsCredentials: IssuedCredentials[];
}

/** Missing → undefined. Corrupt → an error naming the file: starting empty would orphan ENIs. */
export function readEmulatorState(file: string): EmulatorStateFile | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new Error(`emulator state file ${file} is not JSON; move it aside to start empty`, {
      cause,
    });
  }
  const result = stateSchema.safeParse(parsed);
  if (!result.success) {
    throw new Error(`emulator state file ${file} is corrupt: ${z.prettifyError(result.error)}`);
  }
  return result.data as EmulatorStateFile;
}

export function writeEmulatorState(file: string, state: EmulatorStateFile): void {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(temp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** What of a running emulator the state file holds. */
export interface PersistedParts {
  state: AccountState;
  sts: StsIssuer;
  lifecycle: EniLifecycle;
}

/**
 * Loads `file` into a fresh emulator (refusing one saved for another region or VPC), resumes
 * the transitions that were pending, then rewrites the file after every change from now on.
 */
export function bindStateFile(file: string, parts: PersistedParts): void {
  const { state, sts, lifecycle } = parts;
  const saved = readEmulatorState(file);
  if (saved !== undefined) {
    if (saved.regionId !== state.config.regionId || saved.vpcId !== state.config.vpcId) {
      throw new Error(
        `emulator state file ${file} is for ${saved.regionId}/${saved.vpcId}, not ${state.config.regionId}/${state.config.vpcId}`,
      );
    }
    state.restore(saved);
    sts.restore(saved.stsCredentials);
    lifecycle.completePending();
  }
  const save = (): void =>
    writeEmulatorState(file, {
      version: EMULATOR_STATE_VERSION,
      regionId: state.config.regionId,
      vpcId: state.config.vpcId,
      nextSeq: state.sequence(),
      cursors: state.cursors(),
      instances: state.allInstances(),
      enis: state.allEnis(),
      stsCredentials: sts.snapshot(),
    });
  state.onChange(save);
  sts.onIssued = save;
  save();
}
