/**
 * ICMP errors (destination unreachable) as frames for BPF_PROG_TEST_RUN, quoting a TCP or UDP
 * packet the way a kernel does (its IPv4 header and first 8 bytes of L4), and their reading back:
 * the outer addresses, the quoted addresses and ports, and whether all three checksums a receiver
 * relies on verify (outer IPv4, ICMP, quoted IPv4).
 */
import {
  ETH_HLEN,
  internetChecksum,
  IP_HLEN,
  PROTO_NUMBER,
  TCP_HLEN,
  UDP_HLEN,
  writeEthernetHeader,
  writeIpv4Header,
  type FrameAddresses,
  type FrameProtocol,
} from '../../bench/lb-program/frames.js';

const ICMP_HLEN = 8;
/** What the quoted packet carried after its headers: the quoted total length says so. */
const QUOTED_PAYLOAD = 64;
const ICMP_DEST_UNREACH = 3;
const ICMP_PORT_UNREACH = 3;

export interface IcmpErrorSpec {
  /** The outer packet: who reports, and to whom. */
  src: string;
  dst: string;
  /** The packet the error is about. */
  quoted: FrameAddresses & { protocol: FrameProtocol };
}

export function buildIcmpError(spec: IcmpErrorSpec): Buffer {
  const { quoted } = spec;
  const frame = Buffer.alloc(ETH_HLEN + IP_HLEN + ICMP_HLEN + IP_HLEN + 8);
  writeEthernetHeader(frame);
  writeIpv4Header(frame.subarray(ETH_HLEN), {
    protocol: 1,
    src: spec.src,
    dst: spec.dst,
    totalLength: frame.length - ETH_HLEN,
  });
  const icmp = frame.subarray(ETH_HLEN + IP_HLEN);
  icmp[0] = ICMP_DEST_UNREACH;
  icmp[1] = ICMP_PORT_UNREACH;
  const l4Header = quoted.protocol === 'TCP' ? TCP_HLEN : UDP_HLEN;
  writeIpv4Header(icmp.subarray(ICMP_HLEN), {
    protocol: PROTO_NUMBER[quoted.protocol],
    src: quoted.src,
    dst: quoted.dst,
    totalLength: IP_HLEN + l4Header + QUOTED_PAYLOAD,
  });
  const l4 = icmp.subarray(ICMP_HLEN + IP_HLEN);
  l4.writeUInt16BE(quoted.sport, 0);
  l4.writeUInt16BE(quoted.dport, 2);
  // TCP: the sequence number; UDP: the length and a checksum nothing verifies.
  l4.writeUInt32BE(quoted.protocol === 'TCP' ? 1 : ((l4Header + QUOTED_PAYLOAD) << 16) | 0x1234, 4);
  icmp.writeUInt16BE(internetChecksum(icmp), 2);
  return frame;
}

export interface IcmpErrorSeen {
  /** The IP protocol of the frame: 1 while it is still ICMP. */
  protocol: number;
  src: string;
  dst: string;
  quoted: FrameAddresses;
  checksumsValid: boolean;
}

const dotted = (bytes: Buffer): string => [...bytes].join('.');

export function readIcmpError(frame: Buffer): IcmpErrorSeen {
  const ip = frame.subarray(ETH_HLEN, ETH_HLEN + IP_HLEN);
  const icmp = frame.subarray(ETH_HLEN + IP_HLEN, ETH_HLEN + ip.readUInt16BE(2));
  const quotedIp = icmp.subarray(ICMP_HLEN, ICMP_HLEN + IP_HLEN);
  const quotedL4 = icmp.subarray(ICMP_HLEN + IP_HLEN);
  return {
    protocol: ip[9] ?? 0,
    src: dotted(ip.subarray(12, 16)),
    dst: dotted(ip.subarray(16, 20)),
    quoted: {
      src: dotted(quotedIp.subarray(12, 16)),
      dst: dotted(quotedIp.subarray(16, 20)),
      sport: quotedL4.readUInt16BE(0),
      dport: quotedL4.readUInt16BE(2),
    },
    checksumsValid:
      internetChecksum(ip) === 0 &&
      internetChecksum(icmp) === 0 &&
      internetChecksum(quotedIp) === 0,
  };
}
