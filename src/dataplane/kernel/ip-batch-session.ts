/**
 * One long-lived `ip -force -batch -` in the node's namespace. Every pod ADD and DEL programs the
 * node side, and a fresh `ip` per plan costs a fork of the daemon, an exec and a dynamic link
 * (about 6 ms, most of it before ip does anything); writing the plan's lines to a process that
 * is already running costs the netlink work alone.
 *
 * ip reads its input a line at a time and reports each failed line on stderr, unbuffered, as
 * "<message>\nCommand failed -:<line>". A plan ends with a sentinel line that always fails
 * (`link show dev <unique name>`), so the sentinel's report marks the end of the plan's output.
 *
 * One caveat: ip caches interface names. A link deleted and re-created under the same name by
 * someone else (a pod's netns deleted before its DEL, an ENI re-attached) leaves a stale entry,
 * and an op naming it fails with "No such device" / "Cannot find device". The caller retries such
 * a plan in a fresh process (see Iproute2Kernel) after `restart()`.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';

import type { BatchFailure } from './ip-batch-failures.js';
import { parseBatchFailures } from './ip-batch-failures.js';
import type { NetnsRef } from './netns-ref.js';
import { describeNetns, ipCommand } from './netns-ref.js';
import { COMMAND_TIMEOUT_MS } from './run-command.js';

/** Subscribers (a benchmark probe, say) get { netns, lines, start, ms } for every plan run here. */
export const IP_BATCH_CHANNEL = 'terway:ip-batch-session';
const published = channel(IP_BATCH_CHANNEL);

const SENTINEL_PREFIX = 'terway-sync-';

interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Lines written so far: ip numbers its input from 1 across the whole session. */
  linesWritten: number;
  stderr: string;
  /** Settles the plan in flight when its sentinel is reported or the process dies. */
  waiter: ((outcome: string | Error) => void) | undefined;
}

export class IpBatchSession {
  private running: Running | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private sentinels = 0;

  constructor(
    readonly netns: NetnsRef,
    private readonly timeoutMs = COMMAND_TIMEOUT_MS,
  ) {}

  /** Runs the lines in order (plans queue behind each other); resolves with the failed ones. */
  run(lines: readonly string[]): Promise<BatchFailure[]> {
    const result = this.queue.then(() => this.runNow(lines));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Ends the process; the next plan starts a new one (with an empty name cache). */
  restart(): void {
    const running = this.running;
    this.running = undefined;
    if (running === undefined) return;
    running.child.stdin.end();
    running.child.kill('SIGKILL');
    running.waiter?.(new Error(`ip in ${describeNetns(this.netns)} was restarted`));
  }

  close(): void {
    this.restart();
  }

  private async runNow(lines: readonly string[]): Promise<BatchFailure[]> {
    const running = this.running ?? this.start();
    const started = performance.now();
    const first = running.linesWritten + 1;
    const sentinelLine = first + lines.length;
    this.sentinels += 1;
    const sentinel = `link show dev ${SENTINEL_PREFIX}${process.pid}-${this.sentinels}`;
    running.stderr = '';
    const output = new Promise<string | Error>((resolve) => (running.waiter = resolve));
    const timer = setTimeout(() => {
      running.waiter?.(new Error(`ip in ${describeNetns(this.netns)} did not finish a plan`));
      this.restart();
    }, this.timeoutMs);
    running.linesWritten = sentinelLine;
    running.child.stdin.write(`${[...lines, sentinel].join('\n')}\n`);
    const outcome = await output;
    clearTimeout(timer);
    running.waiter = undefined;
    if (outcome instanceof Error) throw outcome;
    published.publish({
      netns: this.netns,
      lines: lines.length,
      start: started,
      ms: performance.now() - started,
    });
    return planFailures(outcome, first, sentinelLine);
  }

  private start(): Running {
    const [command, args] = ipCommand(this.netns, ['-force', '-batch', '-']);
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const running: Running = { child, linesWritten: 0, stderr: '', waiter: undefined };
    this.running = running;
    // Never what keeps a process alive (a plan in flight has its timer for that).
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      // The pipes are net.Sockets underneath; their type says only Readable/Writable.
      (stream as unknown as { unref?: () => void }).unref?.();
    }
    child.stdout.resume();
    child.stdin.on('error', () => undefined);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      running.stderr += chunk;
      // The whole line: a chunk may end half-way through the number.
      const sentinelReport = `Command failed -:${running.linesWritten}\n`;
      if (running.waiter !== undefined && running.stderr.includes(sentinelReport)) {
        running.waiter(running.stderr);
      }
    });
    const died = (why: string) => {
      if (this.running === running) this.running = undefined;
      running.waiter?.(new Error(`ip in ${describeNetns(this.netns)} ${why}`));
    };
    child.once('error', (error) => died(`could not run: ${error.message}`));
    child.once('exit', (code, signal) => died(`exited (${signal ?? code})`));
    return running;
  }
}

/** The plan's failed lines, indexed within the plan; the sentinel's own report left out. */
function planFailures(stderr: string, firstLine: number, sentinelLine: number): BatchFailure[] {
  return parseBatchFailures(stderr)
    .filter(({ index }) => index + 1 >= firstLine && index + 1 < sentinelLine)
    .map((failure) => ({ ...failure, index: failure.index + 1 - firstLine }));
}
