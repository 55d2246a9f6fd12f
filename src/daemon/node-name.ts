/**
 * The Kubernetes name of the node this daemon serves. The Service LB needs it for
 * `internalTrafficPolicy: Local`, whose ClusterIP traffic may only reach endpoints on the client's
 * own node, and an EndpointSlice names an endpoint's node only by that name.
 *
 * Chosen in kubelet's order: the flag, then NODE_NAME (what a DaemonSet sets from the downward
 * API's spec.nodeName, the only source right on clouds whose node names are not hostnames, such
 * as Alibaba Cloud's `<region>.<ip>`), then the hostname, lowercased, which is kubelet's default.
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
