/**
 * Preloaded into a lab's terwayd with `NODE_OPTIONS=--import=<this file>` (see lab.ts) when
 * TN_BENCH_PROBE_DIR is set; inert in every other process. It times, without touching src/:
 *
 * - every gRPC handler, from the moment grpc-js hands it the decoded request to the moment it
 *   calls back with the reply (the daemon's own share of a CNI call);
 * - every child process the daemon spawns (`ip -batch`, `nsenter … sysctl`), spawn to close,
 *   as src/dataplane/kernel/run-command.ts waits for it (less any wait for its input: a pod's
 *   ip starts with the ADD, before its plan exists), and every plan written to the node's
 *   long-lived `ip` (published on IP_BATCH_CHANNEL), and every pod plan applied over route
 *   netlink (RTNL_PLAN_CHANNEL): together, the kernel-programming share.
 *
 * Records go to `<dir>/terwayd-<pid>.jsonl`, written after the measured work (setImmediate), so
 * the probe adds microseconds to what it measures. Times are epoch ms with sub-ms precision.
 */
import childProcess from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';

import { IP_BATCH_CHANNEL } from '../../src/dataplane/kernel/ip-batch-session.js';
import { RTNL_PLAN_CHANNEL } from '../../src/dataplane/kernel/pod-netlink-kernel.js';

export type ProbeRecord =
  | { kind: 'rpc'; method: string; start: number; ms: number; ok: boolean }
  | {
      kind: 'spawn';
      command: string;
      args: string[];
      start: number;
      ms: number;
      /** Exit code; an `ip -batch` stops at its first failed line unless -force. */
      code: number | null;
      /** Started before its input existed: how long it waited for it (not in ms). */
      waitedMs: number;
    }
  | { kind: 'batch'; lines: number; start: number; ms: number }
  /** A pod's plan applied over route netlink from the daemon itself (no process). */
  | { kind: 'netlink'; ops: number; start: number; ms: number };

type Handler = (call: unknown, callback: (error: unknown, ...rest: unknown[]) => void) => void;
interface ServerPrototype {
  addService(service: unknown, implementation: Record<string, unknown>): void;
}

const dir = process.env.TN_BENCH_PROBE_DIR;
const main = process.argv[1] ?? '';

function now(): number {
  return performance.timeOrigin + performance.now();
}

function install(probeDir: string): void {
  const out = join(probeDir, `terwayd-${process.pid}.jsonl`);
  let pending: ProbeRecord[] = [];
  const record = (entry: ProbeRecord): void => {
    if (pending.length === 0) {
      setImmediate(() => {
        const lines = pending.map((item) => JSON.stringify(item)).join('\n');
        pending = [];
        appendFileSync(out, `${lines}\n`);
      });
    }
    pending.push(entry);
  };

  const spawn = childProcess.spawn;
  const timedSpawn = function (this: unknown, ...args: unknown[]): ChildProcess {
    const start = now();
    const child = (spawn as (...a: unknown[]) => ChildProcess).apply(this, args);
    // The fork is on the daemon's thread either way. A child started before its input exists
    // (a pod's ip, started with the ADD) then waits for it: that wait overlaps other work and
    // is not kernel time, so the clock restarts when its stdin is closed.
    const spawnedAt = now();
    let inputAt = spawnedAt;
    const stdin = child.stdin;
    if (stdin !== null) {
      const end = stdin.end.bind(stdin) as (...a: unknown[]) => unknown;
      stdin.end = ((...a: unknown[]) => {
        inputAt = now();
        return end(...a);
      }) as typeof stdin.end;
    }
    const [command, argv] = args;
    child.once('close', (code: number | null) =>
      record({
        kind: 'spawn',
        command: String(command),
        args: Array.isArray(argv) ? argv.slice(0, 4).map(String) : [],
        start,
        ms: spawnedAt - start + (now() - Math.max(inputAt, spawnedAt)),
        waitedMs: Math.max(0, inputAt - spawnedAt),
        code,
      }),
    );
    return child;
  };
  childProcess.spawn = timedSpawn as typeof childProcess.spawn;
  // `import { spawn } from 'node:child_process'` sees the wrapper from here on.
  syncBuiltinESMExports();

  // Both kernel paths publish a plan's start (performance.now()) and duration.
  const plans = { batch: IP_BATCH_CHANNEL, netlink: RTNL_PLAN_CHANNEL } as const;
  for (const [kind, name] of Object.entries(plans) as Array<[keyof typeof plans, string]>) {
    subscribe(name, (message) => {
      const plan = message as { lines?: number; ops?: number; start: number; ms: number };
      const start = performance.timeOrigin + plan.start;
      record(
        kind === 'batch'
          ? { kind, lines: plan.lines ?? 0, start, ms: plan.ms }
          : { kind, ops: plan.ops ?? 0, start, ms: plan.ms },
      );
    });
  }

  // The same @grpc/grpc-js instance terwayd itself loads (resolved from terwayd.js).
  const grpc = createRequire(main)('@grpc/grpc-js') as { Server: { prototype: ServerPrototype } };
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (service, implementation) {
    const timed: Record<string, unknown> = {};
    for (const [method, handler] of Object.entries(implementation)) {
      timed[method] = ((call, callback) => {
        const start = now();
        (handler as Handler)(call, (error, ...rest) => {
          const ms = now() - start;
          callback(error, ...rest);
          record({ kind: 'rpc', method, start, ms, ok: error === null || error === undefined });
        });
      }) satisfies Handler;
    }
    addService.call(this, service, timed);
  };
}

if (dir !== undefined && dir !== '' && /terwayd\.js$/.test(main)) install(dir);
