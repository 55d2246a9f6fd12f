/**
 * Applies a plan over one route netlink socket as `ip -force -batch` would: every op runs, in
 * order, and each failure is reported with its op's index and a message in iproute2's words
 * ("Cannot find device", "RTNETLINK answers: File exists"), so the kernel's judgement of what is
 * harmless (kernel-ops.ts) reads both paths alike.
 */
import { getSystemErrorMap } from 'node:util';

import type { BatchFailure } from '../ip-batch-failures.js';
import type { KernelOp } from '../kernel-ops.js';
import type { RtnlRequest } from './rtnl-requests.js';
import { linkLookupRequest, rtnlRequestFor } from './rtnl-requests.js';
import type { RtnlSocket } from './rtnl-socket.js';
import {
  decodeAck,
  decodeMessages,
  encodeMessage,
  linkIndexOf,
  NLMSG_ERROR,
  RTM,
} from './rtnl-wire.js';

/** strerror(3)'s words for the errnos whose text the harmless-failure rules look for. */
const STRERROR: Readonly<Record<string, string>> = {
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EBUSY: 'Device or resource busy',
  EINVAL: 'Invalid argument',
  ENETUNREACH: 'Network is unreachable',
  EPERM: 'Operation not permitted',
  EOPNOTSUPP: 'Operation not supported',
};

function describeErrno(errno: number): string {
  const [name, libuvText] = getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'unknown error'];
  return `${STRERROR[name] ?? libuvText} (${name})`;
}

/** One op's failure, carried to the plan loop. */
class OpFailure extends Error {}

let lastSeq = Math.floor(Math.random() * 0x7fffffff);

function nextSeq(): number {
  lastSeq = (lastSeq + 1) >>> 0;
  return lastSeq;
}

/** Sends a request and returns its replies, the ack checked: a refusal throws OpFailure. */
function transact(socket: RtnlSocket, request: RtnlRequest): ReturnType<typeof decodeMessages> {
  const seq = nextSeq();
  const replies = decodeMessages(socket.exchange(encodeMessage({ ...request, seq })));
  const ack = replies.find((reply) => reply.type === NLMSG_ERROR);
  if (ack !== undefined) {
    const { errno, extack } = decodeAck(ack);
    if (errno !== 0) {
      throw new OpFailure(
        `RTNETLINK answers: ${describeErrno(errno)}${extack === undefined ? '' : `: ${extack}`}`,
      );
    }
  }
  return replies;
}

/** Runs every op; returns the failures, as ip -batch would have printed them. */
export function applyOverRtnl(socket: RtnlSocket, ops: readonly KernelOp[]): BatchFailure[] {
  const indexes = new Map<string, number>();
  const indexOf = (name: string): number => {
    const known = indexes.get(name);
    if (known !== undefined) return known;
    let replies;
    try {
      replies = transact(socket, linkLookupRequest(name));
    } catch (error) {
      if (error instanceof OpFailure && /\(ENODEV\)/.test(error.message)) {
        throw new OpFailure(`Cannot find device "${name}"`);
      }
      throw error;
    }
    const link = replies.find((reply) => reply.type === RTM.NEWLINK);
    if (link === undefined) throw new OpFailure(`Cannot find device "${name}"`);
    const index = linkIndexOf(link);
    indexes.set(name, index);
    return index;
  };

  const failures: BatchFailure[] = [];
  ops.forEach((op, index) => {
    try {
      transact(socket, rtnlRequestFor(op, indexOf));
      // Names move: a renamed or deleted link must be looked up afresh.
      if (op.op === 'link-rename') {
        indexes.delete(op.name);
        indexes.delete(op.to);
      } else if (op.op === 'link-del') {
        indexes.delete(op.name);
      }
    } catch (error) {
      failures.push({ index, message: error instanceof Error ? error.message : String(error) });
    }
  });
  return failures;
}
