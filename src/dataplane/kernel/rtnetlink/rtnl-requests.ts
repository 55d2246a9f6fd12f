/**
 * KernelOps as route netlink requests, meaning exactly what the `ip` line of the same op means
 * (toIpBatchLine): same flags, table, protocol and scope defaults as iproute2 picks. Only the ops a
 * pod's side of a plan uses, for IPv4; anything else stays with iproute2 (see supportsOverRtnl).
 */
import { parseIPv4 } from '../../../util/ipv4.js';
import type { KernelOp } from '../kernel-ops.js';
import type { RtAttr } from './rtnl-wire.js';
import {
  attrBytes,
  attrString,
  attrU32,
  IFA_ADDRESS,
  IFA_LOCAL,
  ifaddrmsg,
  IFF_NOARP,
  IFF_UP,
  ifinfomsg,
  IFLA_IFNAME,
  IFLA_MTU,
  NDA_DST,
  NDA_LLADDR,
  ndmsg,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NUD_PERMANENT,
  RT_SCOPE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_TABLE,
  RTM,
  rtmsg,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_BOOT,
} from './rtnl-wire.js';

/** A request without its sequence number (the socket numbers them). */
export interface RtnlRequest {
  type: number;
  flags: number;
  body: Buffer;
  attrs: RtAttr[];
}

/** Resolves an interface name in the plan's namespace, or throws the "Cannot find" failure. */
export type LinkIndexOf = (name: string) => number;

const MODIFY = NLM_F_REQUEST | NLM_F_ACK;
const REPLACE = MODIFY | NLM_F_CREATE | NLM_F_REPLACE;

function ipv4Bytes(text: string): Buffer | undefined {
  const value = parseIPv4(text);
  if (value === undefined) return undefined;
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/** "a.b.c.d/n" (host bits allowed, as for an address), or undefined. */
function prefixed(text: string): { address: Buffer; prefixLength: number } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = ipv4Bytes(text.slice(0, slash));
  const length = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9]\d?)$/.test(length) || Number(length) > 32) {
    return undefined;
  }
  return { address, prefixLength: Number(length) };
}

/** A route destination: "default", a bare address (a /32, as ip reads it) or a prefix. */
function destination(
  text: string,
): { address: Buffer | undefined; prefixLength: number } | undefined {
  if (text === 'default') return { address: undefined, prefixLength: 0 };
  const bare = ipv4Bytes(text);
  return bare === undefined ? prefixed(text) : { address: bare, prefixLength: 32 };
}

function macBytes(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return Buffer.from(text.split(':').map((octet) => parseInt(octet, 16)));
}

function table(id: number | undefined): { field: number; attrs: RtAttr[] } {
  const tableId = id ?? RT_TABLE_MAIN;
  return tableId < 256
    ? { field: tableId, attrs: [] }
    : { field: RT_TABLE_UNSPEC, attrs: [attrU32(RTA_TABLE, tableId)] };
}

/** Whether an op has a netlink form here (its addresses are IPv4, its names plain). */
export function supportsOverRtnl(op: KernelOp): boolean {
  switch (op.op) {
    case 'link-up':
    case 'link-del':
      return true;
    case 'link-rename':
      return Buffer.byteLength(op.to) < 16;
    case 'addr-replace':
      return prefixed(op.cidr) !== undefined;
    case 'route-replace':
      return (
        destination(op.dst) !== undefined &&
        (op.via === undefined || ipv4Bytes(op.via) !== undefined)
      );
    case 'route-del':
      return destination(op.dst) !== undefined;
    case 'neigh-replace':
      return ipv4Bytes(op.ip) !== undefined && macBytes(op.mac) !== undefined;
    default:
      return false;
  }
}

function unsupported(op: KernelOp): never {
  throw new Error(`${op.op} has no route netlink form here`);
}

/** The request for one op; names are resolved through `indexOf` as the op needs them. */
export function rtnlRequestFor(op: KernelOp, indexOf: LinkIndexOf): RtnlRequest {
  switch (op.op) {
    case 'link-up': {
      const noarp = op.noarp === true ? IFF_NOARP : 0;
      return {
        type: RTM.NEWLINK,
        flags: MODIFY,
        body: ifinfomsg({ index: indexOf(op.name), flags: IFF_UP | noarp, change: IFF_UP | noarp }),
        attrs: op.mtu === undefined ? [] : [attrU32(IFLA_MTU, op.mtu)],
      };
    }
    case 'link-rename':
      return {
        type: RTM.NEWLINK,
        flags: MODIFY,
        body: ifinfomsg({ index: indexOf(op.name), flags: 0, change: 0 }),
        attrs: [attrString(IFLA_IFNAME, op.to)],
      };
    case 'link-del':
      return {
        type: RTM.DELLINK,
        flags: MODIFY,
        body: ifinfomsg({ index: indexOf(op.name), flags: 0, change: 0 }),
        attrs: [],
      };
    case 'addr-replace': {
      const cidr = prefixed(op.cidr) ?? unsupported(op);
      const scope = op.scope === undefined ? RT_SCOPE.universe : RT_SCOPE[op.scope];
      return {
        type: RTM.NEWADDR,
        flags: REPLACE,
        body: ifaddrmsg({ prefixLength: cidr.prefixLength, scope, index: indexOf(op.dev) }),
        attrs: [attrBytes(IFA_LOCAL, cidr.address), attrBytes(IFA_ADDRESS, cidr.address)],
      };
    }
    case 'route-replace': {
      const dst = destination(op.dst) ?? unsupported(op);
      const gateway = op.via === undefined ? undefined : (ipv4Bytes(op.via) ?? unsupported(op));
      const { field, attrs } = table(op.table);
      // iproute2's default: a route without a gateway is on the link.
      const scope =
        op.scope !== undefined
          ? RT_SCOPE[op.scope]
          : gateway === undefined
            ? RT_SCOPE.link
            : RT_SCOPE.universe;
      return {
        type: RTM.NEWROUTE,
        flags: REPLACE,
        body: rtmsg({
          dstLength: dst.prefixLength,
          table: field,
          protocol: RTPROT_BOOT,
          scope,
          type: RTN_UNICAST,
          flags: op.onlink === true ? RTNH_F_ONLINK : 0,
        }),
        attrs: [
          ...attrs,
          ...(dst.address === undefined ? [] : [attrBytes(RTA_DST, dst.address)]),
          ...(gateway === undefined ? [] : [attrBytes(RTA_GATEWAY, gateway)]),
          attrU32(RTA_OIF, indexOf(op.dev)),
        ],
      };
    }
    case 'route-del': {
      const dst = destination(op.dst) ?? unsupported(op);
      const { field, attrs } = table(op.table);
      return {
        type: RTM.DELROUTE,
        flags: MODIFY,
        body: rtmsg({
          dstLength: dst.prefixLength,
          table: field,
          protocol: 0,
          scope: RT_SCOPE.nowhere,
          type: 0,
          flags: 0,
        }),
        attrs: [
          ...attrs,
          ...(dst.address === undefined ? [] : [attrBytes(RTA_DST, dst.address)]),
          ...(op.dev === undefined ? [] : [attrU32(RTA_OIF, indexOf(op.dev))]),
        ],
      };
    }
    case 'neigh-replace':
      return {
        type: RTM.NEWNEIGH,
        flags: REPLACE,
        body: ndmsg({ index: indexOf(op.dev), state: NUD_PERMANENT }),
        attrs: [
          attrBytes(NDA_DST, ipv4Bytes(op.ip) ?? unsupported(op)),
          attrBytes(NDA_LLADDR, macBytes(op.mac) ?? unsupported(op)),
        ],
      };
    default:
      return unsupported(op);
  }
}

/** The lookup of an interface by name: RTM_GETLINK with IFLA_IFNAME. */
export function linkLookupRequest(name: string): RtnlRequest {
  return {
    type: RTM.GETLINK,
    flags: MODIFY,
    body: ifinfomsg({ index: 0, flags: 0, change: 0 }),
    attrs: [attrString(IFLA_IFNAME, name)],
  };
}
