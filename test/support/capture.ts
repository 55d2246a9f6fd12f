/**
 * Packet captures for the datapath tests: tcpdump on every interface of a namespace, then the
 * packets it saw, one summary line each (`tcpdump -n -r`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { run } from './lab.js';

export interface Capture {
  /** tcpdump's one-line summaries of every captured packet. */
  readonly packets: string[];
  /** Those that mention `address` as source or destination. */
  mentioning(address: string): string[];
}

export interface RunningCapture {
  stop(): Promise<Capture>;
}

/**
 * Starts tcpdump in `netnsPath` (every interface; `filter` is a pcap expression) and resolves
 * once it listens. Entering with nsenter --net keeps the node's /sys as it is. `verbose` reads the
 * packets back with `-v`, each still one line: an ICMP error's line then ends with the header it
 * quotes.
 */
export async function startCapture(
  netnsPath: string,
  filter = 'ip',
  options: { verbose?: boolean } = {},
): Promise<RunningCapture> {
  const dir = mkdtempSync(join(tmpdir(), 'tncap-'));
  const file = join(dir, 'capture.pcap');
  const tcpdump = spawn(
    'nsenter',
    [
      `--net=${netnsPath}`,
      'tcpdump',
      '-i',
      'any',
      '-n',
      '--immediate-mode',
      '-U',
      '-w',
      file,
      ...filter.split(' '),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const cleanup = () => {
    if (tcpdump.exitCode === null && tcpdump.signalCode === null) tcpdump.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  let stderr = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
      tcpdump.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      tcpdump.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited (${code}): ${stderr}`));
      });
    });
  } catch (error) {
    cleanup();
    throw error;
  }
  return {
    stop: async () => {
      try {
        // --immediate-mode and -U: each packet reaches the file as it comes; a short pause lets the
        // last ones land.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const exited = new Promise((resolve) => tcpdump.once('exit', resolve));
        tcpdump.kill('SIGINT');
        await exited;
        const read = await run('tcpdump', ['-n', ...(options.verbose ? ['-v'] : []), '-r', file]);
        const packets: string[] = [];
        for (const line of read.stdout.split('\n')) {
          if (line.trim() === '') continue;
          // -v continues a packet on indented lines.
          if (/^\s/.test(line) && packets.length > 0)
            packets[packets.length - 1] += ` ${line.trim()}`;
          else packets.push(line);
        }
        return {
          packets,
          mentioning: (address) =>
            packets.filter((line) =>
              new RegExp(
                `(^|[^0-9.])${address.replace(/\./g, '\\.')}([^0-9]|\\.[0-9]+[: ]|$)`,
              ).test(line),
            ),
        };
      } finally {
        cleanup();
      }
    },
  };
}

/** Captures in every namespace of `netnsPaths` at once while `action` runs. */
export async function captureDuring(
  netnsPaths: readonly string[],
  action: () => Promise<void>,
): Promise<Capture[]> {
  const running: RunningCapture[] = [];
  let failure: unknown;
  try {
    for (const path of netnsPaths) running.push(await startCapture(path));
    await action();
  } catch (error) {
    failure = error ?? new Error('capture action failed');
  }
  // Stopped in every case, so no tcpdump outlives a failed action.
  const captures = await Promise.all(running.map((capture) => capture.stop()));
  if (failure !== undefined) throw failure;
  return captures;
}
