/**
 * Which build of the Service LB object this kernel gets, and with which load-time constants.
 *
 * scripts/build-bpf.sh builds bpf/lb.c twice, with the same maps:
 *  - `lb.o` reads the skb's checksum state through the bpf_cast_to_kern_ctx kfunc (Linux 6.3),
 *    which saves a helper call on every translated packet;
 *  - `lb-compat.o`, beside it, does without, for Linux 5.10 to 6.2.
 * The kernel's BTF says whether the kfunc exists. A kernel without BTF cannot relocate lb.o's
 * field access either, so it gets the compat build too. Where the tick is unknown, lb.o reads the
 * coarse clock, and lb-compat.o the monotonic one (the coarse clock's helper is 5.11's).
 */
import { existsSync } from 'node:fs';
import { release } from 'node:os';

import { TerwayError } from '../../errors/terway-error.js';
import { lbClockConstants, readKernelTick, type KernelTick } from './kernel-clock.js';
import { kernelHasFunction } from './native-bpf.js';

export const KERN_CTX_KFUNC = 'bpf_cast_to_kern_ctx';

/**
 * The oldest kernel the programs load on: bpf_redirect_neigh came in 5.10, and the rest is kept to
 * what 5.10 has (bpf/lb.c says how). The VM tier runs every scenario on Debian's 5.10.
 */
export const OLDEST_KERNEL = { major: 5, minor: 10 } as const;

export interface LbObjectProbes {
  /** Whether the kernel has a function of this name; throws when its BTF cannot be read. */
  hasFunction(name: string): boolean;
  fileExists(path: string): boolean;
  kernelTick(): KernelTick | null;
  /** The running kernel's release (`uname -r`). */
  kernelRelease(): string;
}

export interface LbLoadPlan {
  /** The object file to load. */
  readonly object: string;
  readonly build: 'kfunc' | 'compat';
  /** Why this build, for the log. */
  readonly buildReason: string;
  /** The object's load-time constants (the clock's, see kernel-clock.ts). */
  readonly constants: Record<string, bigint>;
  /** Which clock the programs read, for the log. */
  readonly clock: string;
}

const COMPAT_SUFFIX = '-compat.o';

/** `dir/lb.o` → `dir/lb-compat.o`. */
export function compatObjectPath(objectPath: string): string {
  return objectPath.endsWith('.o')
    ? `${objectPath.slice(0, -2)}${COMPAT_SUFFIX}`
    : `${objectPath}${COMPAT_SUFFIX}`;
}

function clockDescription(
  build: LbLoadPlan['build'],
  tick: KernelTick | null,
  constants: Record<string, bigint>,
): string {
  const helperClock = build === 'kfunc' ? 'coarse clock' : 'monotonic clock';
  if (tick === null) return `${helperClock} (CONFIG_HZ not found in /boot or /proc/config.gz)`;
  if (Object.keys(constants).length === 0) {
    return `${helperClock} (HZ=${tick.hz} from ${tick.source}: its tick is not a whole number of ns)`;
  }
  return `jiffies (HZ=${tick.hz} from ${tick.source})`;
}

/**
 * The build of `objectPath` this kernel can load, and the constants to load it with. A compat
 * build given by name is taken as it is: it runs on every kernel the other one does.
 */
export function planLbLoad(objectPath: string, probes: LbObjectProbes): LbLoadPlan {
  refuseOlderKernel(probes.kernelRelease());
  const tick = probes.kernelTick();
  const constants = lbClockConstants(tick);
  if (objectPath.endsWith(COMPAT_SUFFIX)) {
    return {
      object: objectPath,
      build: 'compat',
      buildReason: 'the compat build was given',
      constants,
      clock: clockDescription('compat', tick, constants),
    };
  }
  let reason: string;
  try {
    if (probes.hasFunction(KERN_CTX_KFUNC)) {
      return {
        object: objectPath,
        build: 'kfunc',
        buildReason: `the kernel has ${KERN_CTX_KFUNC}`,
        constants,
        clock: clockDescription('kfunc', tick, constants),
      };
    }
    reason = `the kernel has no ${KERN_CTX_KFUNC} (Linux before 6.3)`;
  } catch (error) {
    reason = `the kernel's BTF cannot be read (${(error as Error).message})`;
  }
  const compat = compatObjectPath(objectPath);
  if (!probes.fileExists(compat)) {
    throw new TerwayError(
      'BPF_ERROR',
      `${objectPath} needs ${KERN_CTX_KFUNC}, but ${reason}, and its compat build ${compat} is missing`,
    );
  }
  return {
    object: compat,
    build: 'compat',
    buildReason: reason,
    constants,
    clock: clockDescription('compat', tick, constants),
  };
}

/**
 * A kernel older than OLDEST_KERNEL would refuse the programs with a verifier log naming a helper
 * (`unknown func bpf_redirect_neigh#152`): say instead what the node needs. A release that does not
 * start with a version is let through, and the load says what it lacks.
 */
function refuseOlderKernel(kernelRelease: string): void {
  const match = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!match) return;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  const { major: needMajor, minor: needMinor } = OLDEST_KERNEL;
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return;
  throw new TerwayError(
    'BPF_ERROR',
    `the Service LB needs Linux ${needMajor}.${needMinor} or later (its programs redirect with ` +
      `bpf_redirect_neigh), and this kernel is ${kernelRelease}: run the node on a newer kernel, ` +
      `such as Alibaba Cloud Linux 3's`,
  );
}

/** The probes of the running kernel and filesystem. */
export const SYSTEM_LB_OBJECT_PROBES: LbObjectProbes = {
  hasFunction: kernelHasFunction,
  fileExists: existsSync,
  kernelTick: () => readKernelTick(),
  kernelRelease: release,
};
