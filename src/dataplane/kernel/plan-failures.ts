/**
 * How a plan's failed ops are judged, whichever way the plan ran (ip -batch or route netlink):
 * a failure that still leaves the kernel as the op wanted it is no failure; the first other one
 * becomes the KernelError, named by its op's ip line.
 */
import type { BatchFailure } from './ip-batch-failures.js';
import type { KernelOp } from './kernel-ops.js';
import { isHarmless, toIpBatchLine } from './kernel-ops.js';
import { KernelError } from './kernel-error.js';
import type { NetnsRef } from './netns-ref.js';
import { describeNetns } from './netns-ref.js';

export function fatalFailures(
  ops: readonly KernelOp[],
  failures: readonly BatchFailure[],
): BatchFailure[] {
  return failures.filter((failure) => {
    const op = ops[failure.index];
    return op === undefined || !isHarmless(op, failure.message);
  });
}

export function throwFirstFatal(
  netns: NetnsRef,
  ops: readonly KernelOp[],
  fatal: readonly BatchFailure[],
): void {
  const first = fatal[0];
  if (first === undefined) return;
  const op = ops[first.index];
  const line = op === undefined ? '?' : toIpBatchLine(op);
  const more = fatal.length > 1 ? ` (and ${fatal.length - 1} more)` : '';
  throw new KernelError(`ip ${line} failed in ${describeNetns(netns)}${more}`, op, first.message);
}
