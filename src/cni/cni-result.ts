import type { PodNetwork__Output } from '../rpc/generated/terway/v1/PodNetwork.js';
import { CNI_CODES, CniError } from './cni-error.js';
import type { CniVersion } from './cni-version.js';
import { versionAtLeast } from './cni-version.js';

export interface CniIpConfig {
  /** Spec 0.3.x/0.4.0 only; 1.0.0 dropped it. */
  version?: '4' | '6';
  address: string;
  gateway?: string;
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
 * The ADD result for the caller's spec version. In this release ADD only allocates and records the
 * IP: the dataplane creates the pod's interface later, so there is no `interfaces` list and the
 * IPs carry no `interface` index yet.
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

  const ip: CniIpConfig = { address: `${network.ip}/${network.prefixLength}` };
  if (!versionAtLeast(cniVersion, '1.0.0')) ip.version = family;
  const routes: CniRoute[] = [];
  if (network.gateway !== '') {
    ip.gateway = network.gateway;
    routes.push({ dst: family === '4' ? '0.0.0.0/0' : '::/0', gw: network.gateway });
  }

  // The spec makes a plugin that receives prevResult on ADD pass it on with its own additions.
  if (prevResult === undefined) return { cniVersion, ips: [ip], routes, dns: {} };
  return {
    ...prevResult,
    cniVersion,
    ips: [...(asArray(prevResult.ips) as CniIpConfig[]), ip],
    routes: [...(asArray(prevResult.routes) as CniRoute[]), ...routes],
    dns: (prevResult.dns as Record<string, unknown> | undefined) ?? {},
  };
}
