/**
 * Route netlink messages as bytes (rtnetlink(7), linux/rtnetlink.h): the header, the request
 * structs this datapath sends, attributes, and the replies it reads back (acks, with the kernel's
 * extended-ack text, and RTM_NEWLINK's ifindex). Host byte order, as netlink is.
 */
import { endianness } from 'node:os';

const LE = endianness() === 'LE';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_CREATE = 0x400;
/** Set on an NLMSG_ERROR that carries extended-ack attributes after it. */
const NLM_F_ACK_TLVS = 0x200;
/** NETLINK_CAP_ACK: the error echoes only the request's header. */
const NLM_F_CAPPED = 0x100;
const NLMSGERR_ATTR_MSG = 1;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  NEWROUTE: 24,
  DELROUTE: 25,
  NEWNEIGH: 28,
} as const;

export const AF_UNSPEC = 0;
export const AF_INET = 2;

export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFF_UP = 0x1;
export const IFF_NOARP = 0x80;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_TABLE = 15;
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RTN_UNICAST = 1;
export const RTNH_F_ONLINK = 0x4;
export const RT_SCOPE = { universe: 0, link: 253, host: 254, nowhere: 255 } as const;

export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NUD_PERMANENT = 0x80;

const HEADER_BYTES = 16;

const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute's type and payload; nested attributes are not needed here. */
export interface RtAttr {
  type: number;
  data: Buffer;
}

export const attrU32 = (type: number, value: number): RtAttr => {
  const data = Buffer.alloc(4);
  if (LE) data.writeUInt32LE(value >>> 0);
  else data.writeUInt32BE(value >>> 0);
  return { type, data };
};

/** A NUL-terminated string, as the kernel wants interface names. */
export const attrString = (type: number, value: string): RtAttr => ({
  type,
  data: Buffer.concat([Buffer.from(value, 'utf8'), Buffer.alloc(1)]),
});

export const attrBytes = (type: number, data: Buffer): RtAttr => ({ type, data });

/** A little writer for the fixed family structs: fields in order, host byte order. */
export class StructWriter {
  private readonly buf: Buffer;
  private offset = 0;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }

  u8(value: number): this {
    this.buf.writeUInt8(value, this.offset);
    this.offset += 1;
    return this;
  }

  u16(value: number): this {
    if (LE) this.buf.writeUInt16LE(value, this.offset);
    else this.buf.writeUInt16BE(value, this.offset);
    this.offset += 2;
    return this;
  }

  u32(value: number): this {
    if (LE) this.buf.writeUInt32LE(value >>> 0, this.offset);
    else this.buf.writeUInt32BE(value >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  i32(value: number): this {
    if (LE) this.buf.writeInt32LE(value, this.offset);
    else this.buf.writeInt32BE(value, this.offset);
    this.offset += 4;
    return this;
  }

  done(): Buffer {
    if (this.offset !== this.buf.length) {
      throw new Error(`struct written to ${this.offset} of ${this.buf.length} bytes`);
    }
    return this.buf;
  }
}

/** struct ifinfomsg */
export function ifinfomsg(fields: { index: number; flags: number; change: number }): Buffer {
  return new StructWriter(16)
    .u8(AF_UNSPEC)
    .u8(0)
    .u16(0)
    .i32(fields.index)
    .u32(fields.flags)
    .u32(fields.change)
    .done();
}

/** struct ifaddrmsg */
export function ifaddrmsg(fields: { prefixLength: number; scope: number; index: number }): Buffer {
  return new StructWriter(8)
    .u8(AF_INET)
    .u8(fields.prefixLength)
    .u8(0)
    .u8(fields.scope)
    .u32(fields.index)
    .done();
}

/** struct rtmsg */
export function rtmsg(fields: {
  dstLength: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}): Buffer {
  return new StructWriter(12)
    .u8(AF_INET)
    .u8(fields.dstLength)
    .u8(0)
    .u8(0)
    .u8(fields.table)
    .u8(fields.protocol)
    .u8(fields.scope)
    .u8(fields.type)
    .u32(fields.flags)
    .done();
}

/** struct ndmsg */
export function ndmsg(fields: { index: number; state: number }): Buffer {
  return new StructWriter(12)
    .u8(AF_INET)
    .u8(0)
    .u16(0)
    .i32(fields.index)
    .u16(fields.state)
    .u8(0)
    .u8(0)
    .done();
}

/** A whole request: header, family struct, attributes, each padded to 4 bytes. */
export function encodeMessage(request: {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
  attrs?: readonly RtAttr[];
}): Buffer {
  const attrs = request.attrs ?? [];
  const length =
    HEADER_BYTES +
    align4(request.body.length) +
    attrs.reduce((sum, attr) => sum + align4(4 + attr.data.length), 0);
  const out = Buffer.alloc(length);
  const header = new StructWriter(HEADER_BYTES)
    .u32(length)
    .u16(request.type)
    .u16(request.flags)
    .u32(request.seq)
    .u32(0)
    .done();
  header.copy(out, 0);
  let offset = HEADER_BYTES;
  request.body.copy(out, offset);
  offset += align4(request.body.length);
  for (const attr of attrs) {
    const head = new StructWriter(4)
      .u16(4 + attr.data.length)
      .u16(attr.type)
      .done();
    head.copy(out, offset);
    attr.data.copy(out, offset + 4);
    offset += align4(4 + attr.data.length);
  }
  return out;
}

function readU16(buf: Buffer, offset: number): number {
  return LE ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset);
}

function readU32(buf: Buffer, offset: number): number {
  return LE ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}

function readI32(buf: Buffer, offset: number): number {
  return LE ? buf.readInt32LE(offset) : buf.readInt32BE(offset);
}

export interface ReplyMessage {
  type: number;
  flags: number;
  seq: number;
  /** Everything after the header. */
  payload: Buffer;
}

/** Splits a reply buffer into messages; a truncated one is an error, not silently dropped. */
export function decodeMessages(buf: Buffer): ReplyMessage[] {
  const messages: ReplyMessage[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= buf.length) {
    const length = readU32(buf, offset);
    if (length < HEADER_BYTES || offset + length > buf.length) {
      throw new Error(`a truncated netlink message at byte ${offset} (length ${length})`);
    }
    messages.push({
      type: readU16(buf, offset + 4),
      flags: readU16(buf, offset + 6),
      seq: readU32(buf, offset + 8),
      payload: buf.subarray(offset + HEADER_BYTES, offset + length),
    });
    offset += align4(length);
  }
  return messages;
}

export interface Ack {
  /** 0 for success, else a positive errno. */
  errno: number;
  /** The kernel's extended-ack explanation, when it gave one. */
  extack: string | undefined;
}

/** Reads an NLMSG_ERROR: a negative errno, the echoed request header, then extack attributes. */
export function decodeAck(message: ReplyMessage): Ack {
  const errno = -readI32(message.payload, 0);
  let extack: string | undefined;
  if ((message.flags & NLM_F_ACK_TLVS) !== 0) {
    // struct nlmsgerr: the error, then the request's header (alone when capped).
    const echoed = readU32(message.payload, 4);
    let offset = 4 + ((message.flags & NLM_F_CAPPED) !== 0 ? HEADER_BYTES : align4(echoed));
    while (offset + 4 <= message.payload.length) {
      const length = readU16(message.payload, offset);
      const type = readU16(message.payload, offset + 2);
      if (length < 4 || offset + length > message.payload.length) break;
      if (type === NLMSGERR_ATTR_MSG) {
        extack = message.payload
          .subarray(offset + 4, offset + length)
          .toString('utf8')
          .replace(/\0+$/, '');
      }
      offset += align4(length);
    }
  }
  return { errno, extack };
}

/** The ifindex of an RTM_NEWLINK reply (struct ifinfomsg's ifi_index). */
export function linkIndexOf(message: ReplyMessage): number {
  return readI32(message.payload, 4);
}
