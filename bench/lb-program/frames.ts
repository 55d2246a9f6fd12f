// Ethernet + IPv4 + TCP/UDP frames for the program benchmark, with correct checksums, and the
// readers its checks use on what the programs wrote back.
import { isIPv4 } from 'node:net';

export type FrameProtocol = 'TCP' | 'UDP';

export const TCP_FLAGS = { fin: 0x01, syn: 0x02, rst: 0x04, ack: 0x10 } as const;

export interface FrameSpec {
  protocol: FrameProtocol;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP only; ACK when absent. */
  tcpFlags?: number;
}

export const ETH_HLEN = 14;
export const IP_HLEN = 20;
export const TCP_HLEN = 20;
export const UDP_HLEN = 8;
/** After the headers: a small request's worth of bytes. */
const PAYLOAD = 64;
export const PROTO_NUMBER: Record<FrameProtocol, number> = { TCP: 6, UDP: 17 };

function ipv4Bytes(address: string): Buffer {
  if (!isIPv4(address)) throw new Error(`not an IPv4 address: ${address}`);
  return Buffer.from(address.split('.').map(Number));
}

/** The Internet checksum (RFC 1071) of `data`, starting from the partial sum `initial`. */
export function internetChecksum(data: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += data.readUInt16BE(i);
  if (data.length % 2 === 1) sum += (data[data.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function pseudoHeaderSum(ip: Buffer, l4Length: number): number {
  const pseudo = Buffer.alloc(12);
  ip.copy(pseudo, 0, 12, 20);
  pseudo[9] = ip[9] ?? 0;
  pseudo.writeUInt16BE(l4Length, 10);
  return 0xffff - internetChecksum(pseudo);
}

/** An Ethernet header for IPv4 at the start of `frame` (locally administered MACs). */
export function writeEthernetHeader(frame: Buffer): void {
  Buffer.from([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]).copy(frame, 0);
}

/** DF, as a TCP stack sends. */
const DONT_FRAGMENT = 0x4000;

/** A 20-byte IPv4 header (TTL 64) at the start of `into`, its checksum set. */
export function writeIpv4Header(
  into: Buffer,
  header: { protocol: number; src: string; dst: string; totalLength: number; flags?: number },
): void {
  into[0] = 0x45;
  into.writeUInt16BE(header.totalLength, 2);
  into.writeUInt16BE(header.flags ?? 0, 6);
  into[8] = 64;
  into[9] = header.protocol;
  ipv4Bytes(header.src).copy(into, 12);
  ipv4Bytes(header.dst).copy(into, 16);
  into.writeUInt16BE(internetChecksum(into.subarray(0, IP_HLEN)), 10);
}

export function buildFrame(spec: FrameSpec): Buffer {
  const l4Header = spec.protocol === 'TCP' ? TCP_HLEN : UDP_HLEN;
  const frame = Buffer.alloc(ETH_HLEN + IP_HLEN + l4Header + PAYLOAD);
  writeEthernetHeader(frame);
  const ip = frame.subarray(ETH_HLEN, ETH_HLEN + IP_HLEN);
  writeIpv4Header(ip, {
    protocol: PROTO_NUMBER[spec.protocol],
    src: spec.src,
    dst: spec.dst,
    totalLength: frame.length - ETH_HLEN,
    flags: DONT_FRAGMENT,
  });
  const l4 = frame.subarray(ETH_HLEN + IP_HLEN);
  l4.writeUInt16BE(spec.sport, 0);
  l4.writeUInt16BE(spec.dport, 2);
  l4.fill(0x61, l4Header);
  if (spec.protocol === 'TCP') {
    l4.writeUInt32BE(1, 4);
    l4.writeUInt32BE(1, 8);
    l4[12] = (TCP_HLEN / 4) << 4;
    l4[13] = spec.tcpFlags ?? TCP_FLAGS.ack;
    l4.writeUInt16BE(65535, 14);
  } else {
    l4.writeUInt16BE(l4.length, 4);
  }
  const checksumAt = spec.protocol === 'TCP' ? 16 : 6;
  l4.writeUInt16BE(internetChecksum(l4, pseudoHeaderSum(ip, l4.length)), checksumAt);
  return frame;
}

export interface FrameAddresses {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export function frameAddresses(frame: Buffer): FrameAddresses {
  const ip = frame.subarray(ETH_HLEN);
  const l4 = frame.subarray(ETH_HLEN + IP_HLEN);
  return {
    src: [...ip.subarray(12, 16)].join('.'),
    dst: [...ip.subarray(16, 20)].join('.'),
    sport: l4.readUInt16BE(0),
    dport: l4.readUInt16BE(2),
  };
}

/** Whether the IPv4 header's and the TCP or UDP checksum both verify, as a receiver checks them. */
export function checksumsValid(frame: Buffer): boolean {
  const ip = frame.subarray(ETH_HLEN, ETH_HLEN + IP_HLEN);
  const l4 = frame.subarray(ETH_HLEN + IP_HLEN, ETH_HLEN + ip.readUInt16BE(2));
  if (internetChecksum(ip) !== 0) return false;
  if (ip[9] === PROTO_NUMBER.UDP && l4.readUInt16BE(6) === 0) return true; // no checksum sent
  return internetChecksum(l4, pseudoHeaderSum(ip, l4.length)) === 0;
}
