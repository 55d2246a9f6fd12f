/**
 * The iptables-restore input kube-proxy (iptables mode, v1.28+) writes for the benchmark's
 * Services: the baseline the eBPF maps are compared with.
 *
 * Per Service port, as pkg/proxy/iptables/proxier.go writes it with a cluster CIDR configured:
 * - KUBE-SERVICES: `-d <clusterIP>/32 -p tcp --dport 80 -j KUBE-SVC-<hash>`;
 * - KUBE-SVC-<hash>: a KUBE-MARK-MASQ rule for traffic from outside the pod CIDR, then one jump
 *   per endpoint to KUBE-SEP-<hash>, the first n−1 with `-m statistic --mode random
 *   --probability 1/(n−i)`;
 * - KUBE-SEP-<hash>: a hairpin KUBE-MARK-MASQ rule, then `-j DNAT --to-destination ip:port`.
 * Chain names are kube-proxy's: "KUBE-SVC-"/"KUBE-SEP-" + the first 16 characters of the base32
 * of sha256 over the port name, protocol (and endpoint). Every rule carries kube-proxy's comment.
 */
import { createHash } from 'node:crypto';

import {
  BACKEND_PORT,
  backendIps,
  clusterIp,
  namespaceOf,
  PORT_NAME,
  SERVICE_PORT,
  serviceName,
  type FixtureShape,
} from './fixture.js';

/** kube-proxy's --cluster-cidr: the pods' addresses (masquerade everything from outside it). */
const CLUSTER_CIDR = '10.192.0.0/10';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function hash16(text: string): string {
  return base32(createHash('sha256').update(text).digest()).slice(0, 16);
}

/** `ns/name:port`, kube-proxy's ServicePortName.String(). */
function portName(index: number): string {
  return `${namespaceOf(index)}/${serviceName(index)}:${PORT_NAME}`;
}

export function svcChain(index: number): string {
  return `KUBE-SVC-${hash16(`${portName(index)}tcp`)}`;
}

export function sepChain(index: number, endpoint: string): string {
  return `KUBE-SEP-${hash16(`${portName(index)}tcp${endpoint}`)}`;
}

function servicesRule(index: number): string {
  return (
    `-A KUBE-SERVICES -m comment --comment "${portName(index)} cluster IP" -m tcp -p tcp ` +
    `-d ${clusterIp(index)}/32 --dport ${SERVICE_PORT} -j ${svcChain(index)}`
  );
}

/** The chain declarations and the rules of one Service's SVC chain and its SEP chains. */
function serviceChains(
  index: number,
  ips: readonly string[],
): { chains: string[]; rules: string[] } {
  const name = portName(index);
  const svc = svcChain(index);
  const chains = [`:${svc} - [0:0]`];
  const rules = [
    `-A ${svc} -m comment --comment "${name} cluster IP" -m tcp -p tcp -d ${clusterIp(index)}/32 ` +
      `--dport ${SERVICE_PORT} ! -s ${CLUSTER_CIDR} -j KUBE-MARK-MASQ`,
  ];
  ips.forEach((ip, i) => {
    const endpoint = `${ip}:${BACKEND_PORT}`;
    const sep = sepChain(index, endpoint);
    const left = ips.length - i;
    const statistic =
      left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
    rules.push(`-A ${svc} -m comment --comment "${name} -> ${endpoint}"${statistic} -j ${sep}`);
  });
  ips.forEach((ip) => {
    const endpoint = `${ip}:${BACKEND_PORT}`;
    const sep = sepChain(index, endpoint);
    chains.push(`:${sep} - [0:0]`);
    rules.push(
      `-A ${sep} -m comment --comment ${name} -s ${ip}/32 -j KUBE-MARK-MASQ`,
      `-A ${sep} -m comment --comment ${name} -m tcp -p tcp -j DNAT --to-destination ${endpoint}`,
    );
  });
  return { chains, rules };
}

const TOP_CHAINS = [
  ':KUBE-SERVICES - [0:0]',
  ':KUBE-NODEPORTS - [0:0]',
  ':KUBE-POSTROUTING - [0:0]',
  ':KUBE-MARK-MASQ - [0:0]',
];

const TOP_RULES = [
  '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
  '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
  '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
  '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
];

const NODEPORTS_LAST_RULE =
  '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the ' +
  'last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS';

/** The nat table for every Service: what kube-proxy's first sync restores. */
export function fullRestore(shape: FixtureShape): { text: string; rules: number; chains: number } {
  const chains = [...TOP_CHAINS];
  const rules = [...TOP_RULES];
  const services: string[] = [];
  for (let i = 0; i < shape.services; i++) {
    services.push(servicesRule(i));
    const own = serviceChains(i, backendIps(shape, i));
    chains.push(...own.chains);
    rules.push(...own.rules);
  }
  const all = [...rules, ...services, NODEPORTS_LAST_RULE];
  return {
    text: ['*nat', ...chains, ...all, 'COMMIT', ''].join('\n'),
    rules: all.length,
    chains: chains.length,
  };
}

/**
 * One Service's endpoint replaced: the input for `iptables-restore --noflush`. Declaring a chain
 * flushes it; the stale SEP chain is flushed and deleted.
 *
 * `servicesChainToo` adds what kube-proxy ≥ 1.27's partial sync really writes: it rewrites the
 * whole KUBE-SERVICES chain (every Service's jump) on every sync, and only the changed Services'
 * own chains. Without it, this is the lower bound: that one Service's chains alone.
 */
export function changeRestore(
  shape: FixtureShape,
  index: number,
  ips: readonly string[],
  removedIp: string,
  servicesChainToo: boolean,
): string {
  const own = serviceChains(index, ips);
  const stale = sepChain(index, `${removedIp}:${BACKEND_PORT}`);
  const chains = [...own.chains, `:${stale} - [0:0]`];
  const rules = [...own.rules];
  if (servicesChainToo) {
    chains.unshift(':KUBE-SERVICES - [0:0]');
    for (let i = 0; i < shape.services; i++) rules.push(servicesRule(i));
    rules.push(NODEPORTS_LAST_RULE);
  }
  return ['*nat', ...chains, ...rules, `-X ${stale}`, 'COMMIT', ''].join('\n');
}
