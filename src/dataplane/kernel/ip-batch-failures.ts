/**
 * What `ip -batch` says about the lines that failed: each failure's messages come first, then
 * "Command failed -:<line>" (the line counted from 1 over everything ip has read).
 */
const FAILED_LINE = /^Command failed -:(\d+)$/;

export interface BatchFailure {
  /** The failed line, counted from 0. */
  index: number;
  message: string;
}

/** Splits `ip -batch` stderr into the failed line numbers and the messages printed before each. */
export function parseBatchFailures(stderr: string): BatchFailure[] {
  const failures: BatchFailure[] = [];
  let pending: string[] = [];
  for (const line of stderr.split('\n')) {
    const match = FAILED_LINE.exec(line.trim());
    if (match === null) {
      if (line.trim() !== '') pending.push(line.trim());
      continue;
    }
    failures.push({ index: Number(match[1]) - 1, message: pending.join('; ') });
    pending = [];
  }
  return failures;
}
