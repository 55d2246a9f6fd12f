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
 * - V8 sizes its old generation from the memory it sees, and lets it grow to four times what the
 *   last full collection kept when that is 2 GB or more (a host's RAM), but only 1.3 times at
 *   256 MB or less (what Node derives from a 256Mi container limit): the same daemon would run a
 *   sawtooth four times its live heap in the lab and a tight one in its pod. Measured under
 *   AllocateIP/ReleaseIP churn (BENCHMARKS.md §10; live heap 32 MB): with the host's 4 GB
 *   ceiling, full collections at 128 MB and RSS swinging 168-212 MB; with this ceiling, at 42 MB
 *   and RSS 107-109 MB, at the same call rate. The price: more, smaller full collections (12% more
 *   CPU under that churn), and one more during a large initial sync (§7's 10,000 Services from
 *   objects about 20% slower, measured A/B), which on a node follows an apiserver list of
 *   seconds. The ceiling is set (TERWAYD_HEAP_LIMIT_MIB, through
 *   NODE_OPTIONS so the chart can change it with the container's memory limit), so what is
 *   measured is what runs in the pod, and a heap near it collects harder before the container's
 *   limit would kill the daemon.
 *
 * --expose-gc lets terwayd run one full collection after a large burst of Service changes
 * (heap-settler.ts) instead of waiting for V8 to judge the process idle. Nothing else calls gc().
 */

/** Node/V8 flags, before the script: `node <flags> dist/cmd/terwayd.js ...`. */
export const TERWAYD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];

/**
 * V8's old-generation ceiling, MiB: the chart's default memory limit (256Mi) less what terwayd
 * holds outside that heap (about 60 MB: code, the young generation, libbpf, the pod store's
 * mapping). About 3 MB of it per 1,000 Services in cluster mode (BENCHMARKS.md §7).
 */
export const TERWAYD_HEAP_LIMIT_MIB = 192;

/**
 * Added to terwayd's environment: the C library's settings, read when the process starts, and the
 * heap ceiling, in NODE_OPTIONS rather than on the command line, where the chart could not
 * override it.
 */
export const TERWAYD_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '65536',
  NODE_OPTIONS: `--max-old-space-size=${TERWAYD_HEAP_LIMIT_MIB}`,
};

/**
 * A parent's environment with terwayd's added: what every launcher of terwayd passes. NODE_OPTIONS
 * keeps the parent's own flags after the heap ceiling, so a preload a benchmark adds, or a ceiling
 * set by hand, still applies.
 */
export function terwaydEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const inherited = base['NODE_OPTIONS']?.trim() ?? '';
  const ours = TERWAYD_ENV['NODE_OPTIONS']!;
  return {
    ...base,
    ...TERWAYD_ENV,
    NODE_OPTIONS: inherited === '' ? ours : `${ours} ${inherited}`,
  };
}
