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

export function rssOf(pid: number): RssBreakdown {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (match === null) throw new Error(`no ${name} for pid ${pid}`);
    return Number(match[1]) / 1024;
  };
  return {
    rssMb: field('VmRSS'),
    anonMb: field('RssAnon'),
    fileMb: field('RssFile'),
    shmemMb: field('RssShmem'),
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
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(match[1]) / 1024;
}
