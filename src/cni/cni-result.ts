import type { PodNetwork__Output } from '../rpc/generated/terway/v1/PodNetwork.js';
import { CNI_CODES, CniError } from './cni-error.js';
import type { CniVersion } from './cni-version.js';
import { versionAtLeast } from './cni-version.js';

export interface CniIpConfig {
  /** Spec 0.3.x/0.4.0 only; 1.0.0 dropped it. */
  version?: '4' | '6';
  address: string;
  gateway?: string;
  /** Index into the result's `interfaces`. */
  interface?: number;
}

export interface CniInterface {
  name: string;
  mac: string;
  /** The netns path, for an interface inside the container. */
  sandbox?: string;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniAddResult {
  cniVersion: string;
  interfaces?: unknown[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: Record<string, unknown>;
  [key: string]: unknown;
}

function ipFamily(ip: string): '4' | '6' {
  return ip.includes(':') ? '6' : '4';
}

function unusable(subject: string, why: string): CniError {
  return new CniError(
    CNI_CODES.INTERNAL,
    `terwayd returned an unusable network for ${subject}: ${why}`,
  );
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The ADD result for the caller's spec version. When terwayd wired the pod, the result lists the
 * interfaces (the node end first when it belongs to this pod alone, as a veth's does; the pod's
 * own interface with its netns as sandbox) and the IP names the pod interface. Without a
 * datapath (IPAM only) there is no `interfaces` list.
 */
export function buildAddResult(
  network: PodNetwork__Output,
  cniVersion: CniVersion,
  subject: string,
  prevResult?: Record<string, unknown>,
): CniAddResult {
  if (network.ip === '') throw unusable(subject, 'no IP address');
  const family = ipFamily(network.ip);
  const maxPrefix = family === '4' ? 32 : 128;
  if (!Number.isInteger(network.prefixLength) || network.prefixLength < 1) {
    throw unusable(subject, `prefix length ${network.prefixLength} for ${network.ip}`);
  }
  if (network.prefixLength > maxPrefix) {
    throw unusable(subject, `prefix length ${network.prefixLength} for ${network.ip}`);
  }

  const interfaces = resultInterfaces(network);
  const offset = prevResult === undefined ? 0 : asArray(prevResult.interfaces).length;
  const ip: CniIpConfig = { address: `${network.ip}/${network.prefixLength}` };
  if (!versionAtLeast(cniVersion, '1.0.0')) ip.version = family;
  const routes: CniRoute[] = [];
  if (network.gateway !== '') {
    ip.gateway = network.gateway;
    routes.push({ dst: family === '4' ? '0.0.0.0/0' : '::/0', gw: network.gateway });
  }
  if (interfaces.length > 0) ip.interface = offset + interfaces.length - 1;

  // The spec makes a plugin that receives prevResult on ADD pass it on with its own additions.
  if (prevResult === undefined) {
    return {
      cniVersion,
      ...(interfaces.length > 0 ? { interfaces } : {}),
      ips: [ip],
      routes,
      dns: {},
    };
  }
  const mergedInterfaces = [...asArray(prevResult.interfaces), ...interfaces];
  return {
    ...prevResult,
    cniVersion,
    ...(mergedInterfaces.length > 0 ? { interfaces: mergedInterfaces } : {}),
    ips: [...(asArray(prevResult.ips) as CniIpConfig[]), ip],
    routes: [...(asArray(prevResult.routes) as CniRoute[]), ...routes],
    dns: (prevResult.dns as Record<string, unknown> | undefined) ?? {},
  };
}

/** A veth's node end belongs to the pod; an ipvlan pod shares its node side with the ENI. */
const PER_POD_HOST_SIDE = new Set(['veth']);

function resultInterfaces(network: PodNetwork__Output): CniInterface[] {
  const pod = network.podInterface;
  if (network.driver === '' || pod === null || pod.name === '') return [];
  const out: CniInterface[] = [];
  const host = network.hostInterface;
  if (host !== null && host.name !== '' && PER_POD_HOST_SIDE.has(network.driver)) {
    out.push({ name: host.name, mac: host.mac });
  }
  out.push({ name: pod.name, mac: pod.mac, sandbox: pod.sandbox });
  return out;
}
