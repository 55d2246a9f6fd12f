/**
 * Pods in a lab: a namespace per pod, wired through the node's CNI conflist exactly as a
 * container runtime would (the real `terway` shim, then any chained plugins), with the result
 * cached beside it for DEL and CHECK, as libcni caches it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { TerwayError } from '../errors/terway-error.js';
import type { ConfList, CniInvocation } from './cni-runner.js';
import { cniAdd, cniCheck, cniDel } from './cni-runner.js';
import type { LabManifest, LabNodeInfo } from './lab-manifest.js';
import { findNode } from './lab-manifest.js';
import { REFERENCE_PLUGIN_DIR } from './lab-paths.js';
import { addNetns, deleteNetns, sysctl, netnsRef } from './lab-shell.js';
import { NO_IPV6 } from './vpc-network.js';

const POD_NAME = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;

export interface PodOptions {
  /** Kubernetes namespace of the pod; default "default". */
  namespace?: string;
  /** A conflist other than the node's own (e.g. one that chains portmap after terway). */
  conflist?: string;
  /** runtimeConfig for plugins that declare capabilities (portMappings, bandwidth, ...). */
  runtimeConfig?: Record<string, unknown>;
}

interface PodState {
  node: string;
  pod: string;
  namespace: string;
  containerId: string;
  netns: string;
  netnsPath: string;
  conflist: string;
  runtimeConfig?: Record<string, unknown>;
  result: unknown;
}

export function podNetnsName(manifest: LabManifest, node: string, pod: string): string {
  return `${manifest.id}-${node}-${pod}`;
}

function statePath(manifest: LabManifest, node: string, pod: string): string {
  return join(manifest.dir, 'pods', node, `${pod}.json`);
}

function requirePodName(pod: string): void {
  if (!POD_NAME.test(pod)) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `pod name ${JSON.stringify(pod)}: lower-case letters, digits and '-', at most 32`,
    );
  }
}

function invocation(
  manifest: LabManifest,
  node: LabNodeInfo,
  state: Pick<PodState, 'containerId' | 'netnsPath' | 'namespace' | 'pod' | 'runtimeConfig'>,
): CniInvocation {
  return {
    containerId: state.containerId,
    netns: state.netnsPath,
    ifname: 'eth0',
    args: {
      K8S_POD_NAMESPACE: state.namespace,
      K8S_POD_NAME: state.pod,
      K8S_POD_INFRA_CONTAINER_ID: state.containerId,
    },
    path: [manifest.cniBinDir, REFERENCE_PLUGIN_DIR],
    hostNetns: node.netnsPath,
    ...(state.runtimeConfig === undefined ? {} : { runtimeConfig: state.runtimeConfig }),
  };
}

function readConflist(path: string): ConfList {
  return JSON.parse(readFileSync(path, 'utf8')) as ConfList;
}

/** Creates the pod's namespace and runs ADD; on failure the namespace is removed again. */
export async function addPod(
  manifest: LabManifest,
  nodeName: string,
  pod: string,
  options: PodOptions = {},
): Promise<PodState> {
  requirePodName(pod);
  const node = findNode(manifest, nodeName);
  const path = statePath(manifest, nodeName, pod);
  if (existsSync(path))
    throw new TerwayError('INVALID_ARGUMENT', `pod ${pod} already exists on ${nodeName}`);
  const netns = podNetnsName(manifest, nodeName, pod);
  const state: PodState = {
    node: nodeName,
    pod,
    namespace: options.namespace ?? 'default',
    containerId: randomBytes(32).toString('hex'),
    netns,
    netnsPath: `/var/run/netns/${netns}`,
    conflist: options.conflist ?? node.conflist,
    ...(options.runtimeConfig === undefined ? {} : { runtimeConfig: options.runtimeConfig }),
    result: undefined,
  };
  await addNetns(netns);
  try {
    await sysctl(netnsRef(netns), NO_IPV6);
    state.result = await cniAdd(readConflist(state.conflist), invocation(manifest, node, state));
  } catch (error) {
    await deleteNetns(netns);
    throw error;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

function readPod(manifest: LabManifest, node: string, pod: string): PodState {
  const path = statePath(manifest, node, pod);
  if (!existsSync(path)) throw new TerwayError('INVALID_ARGUMENT', `no pod ${pod} on ${node}`);
  return JSON.parse(readFileSync(path, 'utf8')) as PodState;
}

/** The pod's node, cached state and conflist, as DEL and CHECK need them. */
function loadPod(manifest: LabManifest, nodeName: string, pod: string) {
  const node = findNode(manifest, nodeName);
  const state = readPod(manifest, nodeName, pod);
  return { state, list: readConflist(state.conflist), call: invocation(manifest, node, state) };
}

/** Runs DEL through the conflist, then removes the namespace. */
export async function deletePod(
  manifest: LabManifest,
  nodeName: string,
  pod: string,
): Promise<void> {
  const { state, list, call } = loadPod(manifest, nodeName, pod);
  await cniDel(list, call, state.result);
  await deleteNetns(state.netns);
  rmSync(statePath(manifest, nodeName, pod), { force: true });
}

export async function checkPod(
  manifest: LabManifest,
  nodeName: string,
  pod: string,
): Promise<void> {
  const { state, list, call } = loadPod(manifest, nodeName, pod);
  await cniCheck(list, call, state.result);
}

export function podNetnsPath(manifest: LabManifest, nodeName: string, pod: string): string {
  return readPod(manifest, nodeName, pod).netnsPath;
}

/** Every pod the lab knows, for `lab down` to DEL them before the daemons stop. */
export function listPods(manifest: LabManifest): Array<{ node: string; pod: string }> {
  const out: Array<{ node: string; pod: string }> = [];
  for (const node of manifest.nodes) {
    const dir = join(manifest.dir, 'pods', node.name);
    if (!existsSync(dir)) continue;
    for (const file of readdirSyncSafe(dir)) {
      if (file.endsWith('.json'))
        out.push({ node: node.name, pod: file.slice(0, -'.json'.length) });
    }
  }
  return out;
}

/** A pod as `lab status` shows it: where it runs and the address its CNI result gave. */
export interface LabPodSummary {
  readonly node: string;
  readonly pod: string;
  readonly namespace: string;
  readonly netns: string;
  /** The first address of the cached CNI result (CIDR notation); '' when it has none. */
  readonly ip: string;
}

/** Every pod the lab knows, with its namespace, netns and address, node by node. */
export function podSummaries(manifest: LabManifest): LabPodSummary[] {
  return listPods(manifest).map(({ node, pod }) => {
    const state = readPod(manifest, node, pod);
    const ips = (state.result as { ips?: { address?: unknown }[] } | null)?.ips;
    const address = ips?.[0]?.address;
    return {
      node,
      pod,
      namespace: state.namespace,
      netns: state.netns,
      ip: typeof address === 'string' ? address : '',
    };
  });
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
