/** Runs one short-lived command (ip, nsenter, sysctl) with optional stdin and a hard timeout. */
import { spawn } from 'node:child_process';

/** iproute2 answers in milliseconds; seconds mean something is wedged (a hung netns, say). */
export const COMMAND_TIMEOUT_MS = 15_000;

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCommand(
  command: string,
  args: readonly string[],
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return startCommand(command, args).finish(options.stdin ?? '', options.timeoutMs);
}

/** A command started now whose input comes later. */
export interface StartedCommand {
  /**
   * Writes `stdin`, closes it and resolves when the command exits. The timeout runs from here:
   * a command waiting for its input is not late.
   */
  finish(stdin: string, timeoutMs?: number): Promise<CommandResult>;
}

export function startCommand(command: string, args: readonly string[]): StartedCommand {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => undefined);
  const exited = new Promise<CommandResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        code,
        stdout,
        stderr: signal === null ? stderr : `${stderr}killed by ${signal} (timeout?)`,
      }),
    );
  });
  // A spawn failure is reported by finish; until then it must not count as unhandled.
  exited.catch(() => undefined);
  return {
    finish: async (stdin, timeoutMs = COMMAND_TIMEOUT_MS) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdin.end(stdin);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
