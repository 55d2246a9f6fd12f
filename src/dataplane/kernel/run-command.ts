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
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        code,
        stdout,
        stderr: signal === null ? stderr : `${stderr}killed by ${signal} (timeout?)`,
      }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });
}
