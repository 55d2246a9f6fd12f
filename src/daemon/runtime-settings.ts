/**
 * How terwayd's Node.js runtime is started, in one place: the lab, the benchmarks and the
 * container image all run the daemon with these, so what is measured is what is shipped.
 *
 * Both bound memory a node daemon holds for no benefit. terwayd is idle most of the time and
 * allocates in short bursts (a CNI call, a services-file apply); with the defaults each burst
 * leaves memory behind that the process keeps:
 * - V8 grows the young generation to 16 MB per semi-space (32 MB committed) after one burst and
 *   keeps it; 1 MB semi-spaces cost a few more, cheap, scavenges;
 * - glibc gives each thread that mallocs (V8's compiler and GC threads, libuv's pool, a services
 *   file worker) its own arena, up to 8 per core, and freed memory stays in them;
 * - glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
 *   blocks that size come from the heap instead, and a heap with one live block near its top
 *   cannot shrink. A cluster-mode sync reads tens of MB of list pages and watch events in 64 KB
 *   socket chunks: with the moving threshold, terwayd kept about 70 MB of freed heap afterwards
 *   (measured, 10,000 Services). Fixed thresholds (64 KB: such chunks get their own mapping,
 *   unmapped when freed; the heap trimmed once 64 KB at its top are free) kept none of it.
 *
 * --expose-gc lets terwayd run one full collection after a large burst of Service changes
 * (heap-settler.ts) instead of waiting for V8 to judge the process idle. Nothing else calls gc().
 */

/** Node/V8 flags, before the script: `node <flags> dist/cmd/terwayd.js ...`. */
export const TERWAYD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];

/** Added to terwayd's environment (read by the C library when the process starts). */
export const TERWAYD_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '65536',
};
