/**
 * What a lab built, as `lab up` prints it and as every later `lab` command reads it back from
 * `<dir>/lab.json`. Written by the supervisor once everything is up.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';

import { TerwayError } from '../errors/terway-error.js';

export const MANIFEST_FILE = 'lab.json';
export const LAB_DRIVERS = ['ipvlan', 'veth'] as const;
export type LabDriver = (typeof LAB_DRIVERS)[number];

const nodeSchema = z.object({
  name: z.string(),
  netns: z.string(),
  netnsPath: z.string(),
  instanceId: z.string(),
  ip: z.string(),
  mac: z.string(),
  socket: z.string(),
  stateDir: z.string(),
  log: z.string(),
  config: z.string(),
  conflist: z.string(),
  /** The node's Services and EndpointSlices: editing it reprograms the node's Service LB. */
  services: z.string(),
  /** bpffs directory of the node's Service LB maps (each lab node is a separate "machine"). */
  bpfPinDir: z.string(),
  /** terwayd's Prometheus metrics (--metrics-address, a loopback port chosen at `lab up`). */
  metrics: z.string(),
  /** terwayd's arguments, so a restart (tests, `lab`) runs it exactly as the supervisor did. */
  daemonArgs: z.array(z.string()),
  daemonPid: z.number(),
  /** How often the supervisor has started the node's terwayd again after it exited. */
  daemonRestarts: z.number().default(0),
});

export const manifestSchema = z.object({
  id: z.string(),
  dir: z.string(),
  driver: z.enum(LAB_DRIVERS),
  supervisorPid: z.number(),
  vpc: z.object({
    netns: z.string(),
    netnsPath: z.string(),
    cidr: z.string(),
    gateway: z.string(),
  }),
  emulator: z.object({ endpoint: z.string(), log: z.string() }),
  cniBinDir: z.string(),
  /**
   * Whether the supervisor starts a node's terwayd again when it exits (not with
   * --no-daemon-restart). Absent from a lab.json an earlier lab wrote.
   */
  restartDaemons: z.boolean().optional(),
  nodes: z.array(nodeSchema),
});

export type LabManifest = z.infer<typeof manifestSchema>;
export type LabNodeInfo = z.infer<typeof nodeSchema>;

export function writeManifest(manifest: LabManifest): void {
  const path = join(manifest.dir, MANIFEST_FILE);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function readManifest(dir: string): LabManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `no lab at ${dir} (no ${MANIFEST_FILE}); run \`lab up\` first`,
    );
  }
  return manifestSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

export function findNode(manifest: LabManifest, name: string): LabNodeInfo {
  const node = manifest.nodes.find((candidate) => candidate.name === name);
  if (node === undefined) {
    const known = manifest.nodes.map((candidate) => candidate.name).join(', ');
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `lab ${manifest.id} has no node ${JSON.stringify(name)} (it has ${known})`,
    );
  }
  return node;
}
