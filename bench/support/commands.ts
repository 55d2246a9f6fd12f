// Short commands the benchmarks run outside any clock: tool versions, checks, compiles.
import { spawnSync } from 'node:child_process';

/** A command's stdout; throws with its stderr (or why it could not start) when it fails. */
export function commandOutput(command: string, args: readonly string[], cwd?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd });
  if (result.status !== 0) {
    const why = result.error?.message ?? (result.stderr.trim() || `exit ${result.status}`);
    throw new Error(`${command} ${args.join(' ')}: ${why}`);
  }
  return result.stdout;
}

/**
 * A command's stdout and stderr together, whatever its exit status (version banners go to
 * either, and some tools exit non-zero after printing one); undefined when it could not run at
 * all (not installed, killed). For what a report names, not for what a benchmark relies on.
 */
export function toolOutput(command: string, args: readonly string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error !== undefined || result.status === null) return undefined;
  return `${result.stdout}${result.stderr}`;
}

/** The first line of `command args`' output (a version banner), or undefined. */
export function firstLine(command: string, args: readonly string[]): string | undefined {
  return toolOutput(command, args)?.split('\n')[0]?.trim() || undefined;
}
