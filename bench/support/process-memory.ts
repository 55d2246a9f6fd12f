/**
 * A process's memory as the kernel counts it (/proc/<pid>/status, proc(5)): resident set by kind,
 * and the peak resident set since a reset.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface RssBreakdown {
  rssMb: number;
  anonMb: number;
  fileMb: number;
  shmemMb: number;
}

/** The named kB fields of one read of /proc/<pid>/status, in MiB. */
function statusMb<Name extends string>(pid: number, names: readonly Name[]): Record<Name, number> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const fields = {} as Record<Name, number>;
  for (const name of names) {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (match === null) throw new Error(`no ${name} for pid ${pid}`);
    fields[name] = Number(match[1]) / 1024;
  }
  return fields;
}

export function rssOf(pid: number): RssBreakdown {
  const fields = statusMb(pid, ['VmRSS', 'RssAnon', 'RssFile', 'RssShmem']);
  return {
    rssMb: fields.VmRSS,
    anonMb: fields.RssAnon,
    fileMb: fields.RssFile,
    shmemMb: fields.RssShmem,
  };
}

/**
 * Resets the kernel's peak-RSS mark of `pid` (VmHWM) to its current RSS (proc(5), clear_refs 5),
 * so that peakRssMb() then gives the peak of what follows only.
 */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

export function peakRssMb(pid: number): number {
  return statusMb(pid, ['VmHWM']).VmHWM;
}
