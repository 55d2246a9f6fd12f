// Compiling the benchmarks' own BPF sources, the way scripts/build-bpf.sh compiles bpf/lb.c.
import { commandOutput } from './commands.js';

/**
 * `source` compiled into the BPF object `out` with scripts/build-bpf.sh's flags (clang
 * `-target bpf -mcpu=v3`, with BTF, warnings as errors) and `extraArgs` (include dirs, defines).
 */
export function compileBpf(source: string, out: string, extraArgs: readonly string[] = []): void {
  // The multiarch include dir holds asm/types.h, which the uapi headers need under -target bpf.
  const arch = commandOutput('uname', ['-m']).trim();
  commandOutput('clang', [
    '-O2',
    '-g',
    '-Wall',
    '-Werror',
    '-target',
    'bpf',
    '-mcpu=v3',
    `-I/usr/include/${arch}-linux-gnu`,
    ...extraArgs,
    '-c',
    source,
    '-o',
    out,
  ]);
}
