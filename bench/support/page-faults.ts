/**
 * Minor page faults: how many a stretch of a process's work takes (getrusage), and what one costs
 * on this host. Every first touch of a fresh anonymous page is one: a heap that grows, an array
 * written for the first time. On the 2-CPU guest these benchmarks run on, one costs microseconds,
 * so the fresh memory a figure needs can be a large share of it; the count and the cost, measured
 * in the same process, say how large.
 */

/** Minor faults the process has taken so far. */
export function minorFaults(): number {
  return process.resourceUsage().minorPageFault;
}

export interface FirstTouchCost {
  /**
   * Microseconds per fault, over the allocation and the touch; NaN when the allocator handed back
   * memory that was already touched (under half the pages faulted), which measures nothing.
   */
  usPerFault: number;
  faults: number;
}

/**
 * Bytes the probe touches: above glibc's largest dynamic mmap threshold (32 MiB on 64-bit), so the
 * buffer is a fresh mapping unless the heap holds a free chunk that large (a long-lived process
 * such as a test runner's may: then the probe says NaN). Some 8,700 faults, a tenth of a second or
 * so on the slow host.
 */
const PROBE_BYTES = 34 * 1024 * 1024;
/** The stride of the touch: the smallest page size Linux uses, so that no page is skipped. */
const PAGE_BYTES = 4096;

/**
 * What a first touch of a fresh page costs here: a PROBE_BYTES buffer allocated and written a
 * byte per page. The count starts before the allocation, in case the allocator zeroes the pages
 * itself (then they fault there, and are timed there).
 */
export function firstTouchCost(): FirstTouchCost {
  const before = minorFaults();
  const started = process.hrtime.bigint();
  const buffer = new Uint8Array(PROBE_BYTES);
  for (let at = 0; at < PROBE_BYTES; at += PAGE_BYTES) buffer[at] = 1;
  const ns = Number(process.hrtime.bigint() - started);
  const faults = minorFaults() - before;
  const measured = faults >= PROBE_BYTES / PAGE_BYTES / 2;
  return { usPerFault: measured ? ns / 1000 / faults : Number.NaN, faults };
}
