/**
 * IPv4 arithmetic on unsigned 32-bit integers. Addresses travel as dotted strings everywhere
 * else; this module is the one place that turns them into numbers and back.
 */
import { TerwayError } from '../errors/terway-error.js';

/** Longest prefix that still has a gateway (broadcast − 2 must lie above the network). */
export const MAX_GATEWAY_PREFIX_LENGTH = 30;

export interface Cidr {
  /** The network address as an unsigned 32-bit integer. */
  network: number;
  prefixLength: number;
  /** Number of addresses in the block, network and broadcast included (2^(32 − prefix)). */
  size: number;
  /** The last address of the block as an unsigned 32-bit integer. */
  broadcast: number;
}

/** True for a canonical dotted quad (no leading zeros, each octet 0–255). */
export function isIPv4(text: string): boolean {
  // parseIPv4's single pass, not a split and a regex per octet: a services file checks every
  // endpoint address with this, 100,000 of them in a large cluster.
  return parseIPv4(text) !== undefined;
}

/**
 * The unsigned 32-bit value of a canonical dotted quad, or undefined. One pass over the characters:
 * the load balancer converts every frontend and backend address, so this sits on the path of a
 * 100,000-entry initial sync.
 */
export function parseIPv4(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 46 /* . */) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (code - 48);
      if (octet > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || dots !== 3) return undefined;
  return value * 256 + octet;
}

/** Orders dotted-quad addresses numerically; anything else (IPv6) falls back to text order. */
export function compareIp(a: string, b: string): number {
  const pa = parseIPv4(a);
  const pb = parseIPv4(b);
  if (pa !== undefined && pb !== undefined) return pa - pb;
  return a.localeCompare(b);
}

export function ipToInt(ip: string): number {
  if (!isIPv4(ip)) {
    throw new TerwayError('INVALID_ARGUMENT', `not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  // Multiplication instead of `<<`, which would overflow into the sign bit for octets ≥ 128.
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIp(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new TerwayError('INVALID_ARGUMENT', `not a 32-bit address value: ${value}`);
  }
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/**
 * Parses "a.b.c.d/n". Host bits must be zero: a vSwitch CIDR with host bits set is almost
 * always a typo (a host address pasted instead of the block), so it is refused, not masked.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const ipPart = slash < 0 ? '' : text.slice(0, slash);
  const prefixPart = slash < 0 ? '' : text.slice(slash + 1);
  if (!isIPv4(ipPart) || !/^(0|[1-9]\d?)$/.test(prefixPart) || Number(prefixPart) > 32) {
    throw new TerwayError('INVALID_ARGUMENT', `not an IPv4 CIDR: ${JSON.stringify(text)}`);
  }
  const prefixLength = Number(prefixPart);
  const size = 2 ** (32 - prefixLength);
  const network = ipToInt(ipPart);
  if (network % size !== 0) {
    const masked = intToIp(network - (network % size));
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `CIDR ${text} has host bits set; did you mean ${masked}/${prefixLength}?`,
    );
  }
  return { network, prefixLength, size, broadcast: network + size - 1 };
}

export function formatCidr(cidr: Pick<Cidr, 'network' | 'prefixLength'>): string {
  return `${intToIp(cidr.network)}/${cidr.prefixLength}`;
}

/** Dotted netmask for a prefix length, e.g. 24 → 255.255.255.0 (IMDS reports this form). */
export function netmaskOf(prefixLength: number): string {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new TerwayError('INVALID_ARGUMENT', `not a prefix length: ${prefixLength}`);
  }
  return intToIp(prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0);
}

/**
 * The vSwitch gateway. Alibaba Cloud reserves the first address and the last three of every
 * vSwitch and puts the gateway on the first of those three, i.e. broadcast − 2: 192.168.1.253
 * for 192.168.1.0/24 and 172.16.15.253 for 172.16.0.0/20. (network + 1, the AWS/Linux habit, is
 * wrong here.) For a /24 this is exactly network + 253.
 */
export function gatewayOf(cidr: string | Cidr): string {
  const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  if (block.prefixLength > MAX_GATEWAY_PREFIX_LENGTH) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `${formatCidr(block)} is too small to have a gateway (needs /${MAX_GATEWAY_PREFIX_LENGTH} or larger)`,
    );
  }
  return intToIp(block.broadcast - 2);
}

/** True when `ip` lies inside `cidr` (network and broadcast included). */
export function cidrContains(cidr: string | Cidr, ip: string): boolean {
  const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const value = ipToInt(ip);
  return value >= block.network && value <= block.broadcast;
}
