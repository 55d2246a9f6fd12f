import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Everything a benchmark leaves behind (child processes, temp dirs) is registered here, so it
 * goes away on a normal return, on a thrown error, on Ctrl-C and on SIGTERM alike.
 */
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
/** Synchronous teardowns (a lab, scratch namespaces): run before the temp dirs go. */
const finalizers = new Set<() => void>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupAllSync();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** A fresh temp dir, removed by `removeDir` or at exit at the latest. */
export function makeTempDir(prefix: string): string {
  install();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/**
 * Registers a synchronous teardown for what neither a child nor a dir covers (a lab whose
 * supervisor runs detached, network namespaces). It runs at exit, on Ctrl-C and on SIGTERM
 * unless the returned function unregisters it first (after a normal, asynchronous teardown).
 */
export function onCleanup(finalizer: () => void): () => void {
  install();
  finalizers.add(finalizer);
  return () => {
    finalizers.delete(finalizer);
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Tracks a child until it exits; it is SIGKILLed if the benchmark process ends first. */
export function trackChild(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export interface ChildOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Tracks a child with piped stdout and stderr and resolves with both once it has closed. */
export function collectOutput(child: ChildProcess): Promise<ChildOutput> {
  trackChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late && alive(child)) {
    child.kill('SIGKILL');
    await exited;
  }
}

export function cleanupAllSync(): void {
  for (const child of children) if (alive(child)) child.kill('SIGKILL');
  children.clear();
  for (const finalizer of [...finalizers].reverse()) {
    finalizers.delete(finalizer);
    try {
      finalizer();
    } catch (error) {
      process.stderr.write(`cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
