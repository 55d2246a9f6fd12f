/**
 * The node this daemon serves, as Kubernetes knows it: its name and its zone. The Service LB needs
 * the name for `internalTrafficPolicy: Local`, whose ClusterIP traffic may only reach endpoints on
 * the client's own node (an EndpointSlice names an endpoint's node only by that name), and for
 * `forNodes` hints; it needs the zone for `forZones` hints (topology-aware routing).
 *
 * The name is chosen in kubelet's order: the flag, then NODE_NAME (what a DaemonSet sets from the
 * downward API's spec.nodeName, the only source right on clouds whose node names are not
 * hostnames, such as Alibaba Cloud's `<region>.<ip>`), then the hostname, lowercased, which is
 * kubelet's default.
 */
import { hostname } from 'node:os';

import { TerwayError } from '../errors/terway-error.js';

export const NODE_NAME_ENV = 'NODE_NAME';

export type NodeNameSource = 'flag' | 'env' | 'hostname';

export interface ChosenNodeName {
  readonly name: string;
  readonly source: NodeNameSource;
}

export function chooseNodeName(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  host: () => string = hostname,
): ChosenNodeName {
  if (flag !== undefined) {
    if (flag.trim() === '') throw new TerwayError('INVALID_ARGUMENT', '--node-name is empty');
    return { name: flag, source: 'flag' };
  }
  const fromEnv = env[NODE_NAME_ENV]?.trim() ?? '';
  if (fromEnv !== '') return { name: fromEnv, source: 'env' };
  return { name: host().trim().toLowerCase(), source: 'hostname' };
}

export type NodeZoneSource = 'flag' | 'instance metadata';

export interface ChosenNodeZone {
  readonly zone: string;
  readonly source: NodeZoneSource;
}

/** `--zone` as given, trimmed; undefined when not given. An empty one is refused. */
export function zoneFlag(flag: string | undefined): string | undefined {
  if (flag === undefined) return undefined;
  if (flag.trim() === '') throw new TerwayError('INVALID_ARGUMENT', '--zone is empty');
  return flag.trim();
}

/**
 * The zone is the flag (zoneFlag), else the ECS instance's zone from instance metadata.
 * Kubernetes reads a node's zone from its `topology.kubernetes.io/zone` label, which Alibaba
 * Cloud's cloud controller sets to that same zone id; the flag is for nodes labelled otherwise.
 */
export function chooseNodeZone(fromFlag: string | undefined, instanceZone: string): ChosenNodeZone {
  return fromFlag === undefined
    ? { zone: instanceZone, source: 'instance metadata' }
    : { zone: fromFlag, source: 'flag' };
}
