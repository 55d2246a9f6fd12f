/**
 * Pods' namespaces programmed over route netlink from the daemon itself; everything else (the
 * node's namespace, reads, sysctls, ops without a netlink form) stays with the kernel it wraps.
 *
 * Why: a pod's side of an ADD is half a dozen netlink requests, microseconds of kernel work, but
 * as an `ip -n <pod>` process it costs a fork, an exec, a dynamic link and iproute2's own netns
 * switch first, several milliseconds of every ADD. The node's namespace already has a long-lived
 * `ip` (ip-batch-session.ts), so its plans gain nothing from this.
 */
import { channel } from 'node:diagnostics_channel';

import { KernelError } from './kernel-error.js';
import type { KernelOp } from './kernel-ops.js';
import type { Kernel, KernelBatch, NetnsState } from './kernel.js';
import type { NetnsRef } from './netns-ref.js';
import { describeNetns, sameNetns } from './netns-ref.js';
import { fatalFailures, throwFirstFatal } from './plan-failures.js';
import { applyOverRtnl } from './rtnetlink/rtnl-plan.js';
import { supportsOverRtnl } from './rtnetlink/rtnl-requests.js';
import type { RtnlOpener } from './rtnetlink/rtnl-socket.js';

/** Subscribers (a benchmark probe) get { netns, ops, start, ms } for every plan applied here. */
export const RTNL_PLAN_CHANNEL = 'terway:rtnl-plan';
const published = channel(RTNL_PLAN_CHANNEL);

export class PodNetlinkKernel implements Kernel {
  constructor(
    private readonly base: Kernel,
    private readonly options: { hostNetns: NetnsRef; open: RtnlOpener },
  ) {}

  async apply(netns: NetnsRef, ops: readonly KernelOp[]): Promise<void> {
    if (ops.length === 0) return;
    if (!this.takes(netns, ops)) return this.base.apply(netns, ops);
    this.applyNow(netns as Extract<NetnsRef, { kind: 'path' }>, ops);
  }

  /** A pod's batch starts nothing early: opening a socket costs less than keeping a process. */
  openBatch(netns: NetnsRef): KernelBatch {
    if (!this.isPodNetns(netns)) return this.base.openBatch(netns);
    let used = false;
    return {
      apply: (ops) => {
        if (used) {
          return Promise.reject(new KernelError('a kernel batch takes one plan', undefined, ''));
        }
        used = true;
        return this.apply(netns, ops);
      },
      close: () => {
        used = true;
      },
    };
  }

  read(netns: NetnsRef): Promise<NetnsState> {
    return this.base.read(netns);
  }

  setSysctls(netns: NetnsRef, values: Readonly<Record<string, string>>): Promise<void> {
    return this.base.setSysctls(netns, values);
  }

  netnsExists(netns: NetnsRef): Promise<boolean> {
    return this.base.netnsExists(netns);
  }

  supportsIpvlan(): Promise<boolean> {
    return this.base.supportsIpvlan();
  }

  private isPodNetns(netns: NetnsRef): netns is Extract<NetnsRef, { kind: 'path' }> {
    return netns.kind === 'path' && !sameNetns(netns, this.options.hostNetns);
  }

  private takes(netns: NetnsRef, ops: readonly KernelOp[]): boolean {
    return this.isPodNetns(netns) && ops.every(supportsOverRtnl);
  }

  private applyNow(netns: Extract<NetnsRef, { kind: 'path' }>, ops: readonly KernelOp[]): void {
    const start = performance.now();
    let socket;
    try {
      socket = this.options.open(netns.path);
    } catch (error) {
      throw new KernelError(
        `cannot open a netlink socket in ${describeNetns(netns)}`,
        undefined,
        error instanceof Error ? error.message : String(error),
      );
    }
    let failures;
    try {
      failures = applyOverRtnl(socket, ops);
    } finally {
      socket.close();
    }
    if (published.hasSubscribers) {
      published.publish({
        netns: netns.path,
        ops: ops.length,
        start,
        ms: performance.now() - start,
      });
    }
    throwFirstFatal(netns, ops, fatalFailures(ops, failures));
  }
}
