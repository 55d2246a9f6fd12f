/**
 * The kernel tick the LB programs read their clock from (bpf/lb.c, lb_now()). Reading jiffies is
 * one load for the program, where a clock helper is a call on every translated packet; but
 * turning jiffies into nanoseconds needs CONFIG_HZ, which the kernel does not expose at run time.
 * The kernel's build config does: /boot/config-<release> on most distributions (the chart mounts
 * the node's /boot read-only into terwayd's pod for it) or /proc/config.gz when the kernel carries
 * its own. Without either, or with a tick that is not a whole number of nanoseconds (HZ=300), the
 * programs keep their helper clock (lb-object.ts says which): slower by a call, never wrong.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

export interface KernelTick {
  readonly hz: number;
  /** The file CONFIG_HZ was read from. */
  readonly source: string;
}

/** Reads a file, or null when it does not exist or cannot be read. */
export type ConfigFileReader = (path: string) => Buffer | null;

const NS_PER_S = 1_000_000_000;
/** The kernel's INITIAL_JIFFIES: 300 s of ticks before the 32-bit jiffies count wraps. */
const JIFFIES_WRAP_DELAY_S = 300;

/** Where distributions keep each kernel's build config, as `config-<release>`. */
export const BOOT_DIR = '/boot';

/** CONFIG_HZ in a kernel config's text, or null when it is absent or not a sane tick rate. */
export function parseKernelHz(configText: string): number | null {
  const match = /^CONFIG_HZ=(\d+)$/m.exec(configText);
  if (!match) return null;
  const hz = Number(match[1]);
  return hz >= 10 && hz <= 10_000 ? hz : null;
}

function readIfPresent(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

/** The running kernel's CONFIG_HZ, from the first config file that names it; null if none does. */
export function readKernelTick(
  read: ConfigFileReader = readIfPresent,
  kernelRelease: string = release(),
): KernelTick | null {
  const candidates: Array<{ path: string; gzipped: boolean }> = [
    { path: `${BOOT_DIR}/config-${kernelRelease}`, gzipped: false },
    { path: '/proc/config.gz', gzipped: true },
  ];
  for (const { path, gzipped } of candidates) {
    const raw = read(path);
    if (raw === null) continue;
    let text: string;
    try {
      text = (gzipped ? gunzipSync(raw) : raw).toString('utf8');
    } catch {
      continue;
    }
    const hz = parseKernelHz(text);
    if (hz !== null) return { hz, source: path };
  }
  return null;
}

/**
 * The LB object's clock constants for this tick: empty (the coarse clock) when the tick is
 * unknown or not a whole number of nanoseconds.
 */
export function lbClockConstants(tick: KernelTick | null): Record<string, bigint> {
  if (tick === null || NS_PER_S % tick.hz !== 0) return {};
  return {
    tw_jiffy_ns: BigInt(NS_PER_S / tick.hz),
    tw_initial_jiffies: 2n ** 32n - BigInt(JIFFIES_WRAP_DELAY_S * tick.hz),
  };
}
