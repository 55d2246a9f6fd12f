/**
 * The real kernel: iproute2 in child processes aimed at a namespace, never a setns in the
 * daemon. A plan is one `ip -batch` per namespace: written to a long-lived ip for the node's
 * namespace (ip-batch-session.ts), a fresh one for a pod's, so a pod ADD costs one spawn.
 */
import { statfs } from 'node:fs/promises';

import type { KernelOp } from './kernel-ops.js';
import { toIpBatchLine } from './kernel-ops.js';
import { KernelError } from './kernel-error.js';
import type { Kernel, KernelBatch, NetnsState } from './kernel.js';
import { parseNetnsState, READ_BATCH } from './iproute2-parse.js';
import { parseBatchFailures } from './ip-batch-failures.js';
import { IpBatchSession } from './ip-batch-session.js';
import { fatalFailures, throwFirstFatal } from './plan-failures.js';
import type { NetnsRef } from './netns-ref.js';
import { commandIn, describeNetns, ipCommand, sameNetns } from './netns-ref.js';
import type { CommandResult } from './run-command.js';
import { runCommand, startCommand } from './run-command.js';

/** statfs f_type of a namespace file (nsfs); anything else is not a namespace. */
const NSFS_MAGIC = 0x6e736673;
/** Pre-started pod-side ips allowed to wait for their plan at once. */
const MAX_WAITING_BATCHES = 8;

export class Iproute2Kernel implements Kernel {
  private ipvlanSupport: Promise<boolean> | undefined;
  private waitingBatches = 0;
  /** The node's namespace gets a long-lived ip (every pod's ADD and DEL programs it). */
  private readonly session: IpBatchSession | undefined;

  constructor(options: { sessionNetns?: NetnsRef } = {}) {
    this.session =
      options.sessionNetns === undefined ? undefined : new IpBatchSession(options.sessionNetns);
  }

  /** Ends the long-lived ip, if any. */
  close(): void {
    this.session?.close();
  }

  /**
   * One `ip -force -batch` per plan: every line runs, and a failure that only says the op was
   * already done (isHarmless) is not one. A fresh pod's plan starts by removing a leftover pair
   * that is not there; without -force ip would stop at that line and cost a second spawn.
   */
  async apply(netns: NetnsRef, ops: readonly KernelOp[]): Promise<void> {
    if (ops.length === 0) return;
    const lines = ops.map(toIpBatchLine);
    if (this.session !== undefined && sameNetns(netns, this.session.netns)) {
      const failures = await this.session.run(lines).catch(() => undefined);
      if (failures !== undefined && fatalFailures(ops, failures).length === 0) return;
      // The session broke, or a line failed, perhaps on a name its cache holds stale: a fresh
      // ip (below) decides, and the session starts over with an empty cache. Plans are written
      // to be re-run (each removes what a previous attempt may have left).
      this.session.restart();
    }
    const [command, args] = ipCommand(netns, ['-force', '-batch', '-']);
    const result = await runCommand(command, args, { stdin: `${lines.join('\n')}\n` });
    this.judge(netns, ops, command, result);
  }

  /**
   * Starts `ip` for the namespace now and feeds it the plan when it comes. A handful at most are
   * kept waiting at once (a burst of ADDs queued on an empty pool must not park a process each);
   * past that, a batch starts its ip when applied, as apply does.
   */
  openBatch(netns: NetnsRef): KernelBatch {
    const [command, args] = ipCommand(netns, ['-force', '-batch', '-']);
    const early =
      this.waitingBatches < MAX_WAITING_BATCHES ? startCommand(command, args) : undefined;
    if (early !== undefined) this.waitingBatches += 1;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (early !== undefined) this.waitingBatches -= 1;
      return true;
    };
    return {
      apply: async (ops) => {
        if (!settle()) throw new KernelError('a kernel batch takes one plan', undefined, '');
        if (early === undefined) return this.apply(netns, ops);
        const lines = ops.map(toIpBatchLine);
        const result = await early.finish(lines.length === 0 ? '' : `${lines.join('\n')}\n`);
        this.judge(netns, ops, command, result);
      },
      close: () => {
        // An ip that reads no line exits at once, successfully.
        if (settle() && early !== undefined) void early.finish('').catch(() => undefined);
      },
    };
  }

  private judge(
    netns: NetnsRef,
    ops: readonly KernelOp[],
    command: string,
    result: CommandResult,
  ): void {
    if (result.code === 0) return;
    const failures = parseBatchFailures(result.stderr);
    if (failures.length === 0) {
      throw new KernelError(
        `${command} failed in ${describeNetns(netns)}`,
        undefined,
        result.stderr.trim(),
      );
    }
    throwFirstFatal(netns, ops, fatalFailures(ops, failures));
  }

  async read(netns: NetnsRef): Promise<NetnsState> {
    const [command, args] = ipCommand(netns, ['-json', '-d', '-s', '-batch', '-']);
    const result = await runCommand(command, args, { stdin: `${READ_BATCH.join('\n')}\n` });
    if (result.code !== 0) {
      throw new KernelError(
        `reading ${describeNetns(netns)} failed`,
        undefined,
        result.stderr.trim(),
      );
    }
    return parseNetnsState(result.stdout);
  }

  async setSysctls(netns: NetnsRef, values: Readonly<Record<string, string>>): Promise<void> {
    const pairs = Object.entries(values).map(([key, value]) => `${key}=${value}`);
    if (pairs.length === 0) return;
    const [command, args] = commandIn(netns, 'sysctl', ['-q', '-w', ...pairs]);
    const result = await runCommand(command, args);
    if (result.code !== 0) {
      throw new KernelError(
        `sysctl in ${describeNetns(netns)} failed`,
        undefined,
        result.stderr.trim(),
      );
    }
  }

  async netnsExists(netns: NetnsRef): Promise<boolean> {
    if (netns.kind === 'self') return true;
    try {
      return (await statfs(netns.path)).type === NSFS_MAGIC;
    } catch {
      return false;
    }
  }

  /**
   * Asks the kernel to make an ipvlan link with no parent: a kernel without the driver says
   * "Unknown device type", one with it refuses the missing parent. Nothing is created either way.
   */
  supportsIpvlan(): Promise<boolean> {
    this.ipvlanSupport ??= runCommand('ip', [
      'link',
      'add',
      'terway-probe0',
      'type',
      'ipvlan',
      'mode',
      'l2',
    ]).then((result) => result.code !== 0 && !/Unknown device type/.test(result.stderr));
    return this.ipvlanSupport;
  }
}
