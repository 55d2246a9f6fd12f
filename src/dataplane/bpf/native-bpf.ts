/**
 * The terway_bpf N-API addon (native/), typed. It programs BPF maps with batch syscalls (50,000
 * entries in milliseconds, where one bpftool process per entry takes minutes), loads the LB object
 * with its maps pinned and reused across restarts, and attaches the tc program inside a pod's
 * netns without spawning a process.
 *
 * Every call is synchronous: each is one syscall or a short loop of them. Every failure is a
 * TerwayError('BPF_ERROR') whose message names the operation, the path and the errno name; the
 * errno name is also readable with bpfErrno().
 *
 * The addon is loaded on first use, so importing this module costs nothing where BPF is unused
 * (the CNI shim, unit tests with MemoryBpfMap).
 */
import { TerwayError } from '../../errors/terway-error.js';
import type {
  BpfDumpCursor,
  BpfMap,
  BpfMapDump,
  BpfMapDumpPage,
  BpfUpdateFlags,
} from './bpf-maps.js';
import { BPF_ANY, toBpfError } from './bpf-maps.js';
import { loadNativeAddon } from '../native/addon-loader.js';

export { ADDON_ENV } from '../native/addon-loader.js';

declare const mapHandleBrand: unique symbol;
/** An open map inside the addon: it owns the fd. Opaque. */
type MapHandle = { readonly [mapHandleBrand]: true };
/** A BpfDumpCursor of the kernel's: the token the batched walk resumes after. */
interface NativeDumpCursor {
  readonly token: Buffer;
}
declare const progHandleBrand: unique symbol;
/** An open program inside the addon: it owns the fd. Opaque. */
type ProgHandle = { readonly [progHandleBrand]: true };

export interface NativeMapInfo {
  id: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  valueStride: number;
  maxEntries: number;
  flags: number;
  percpu: boolean;
}

export interface LoadedObject {
  /** Program (function) name → its pin, <pinDir>/progs/<name>. */
  programs: Record<string, string>;
  /** Map name → its pin, <pinDir>/<name>. */
  maps: Record<string, string>;
  /** The maps whose pins existed before this load and were reused (their contents kept). */
  reusedMaps: string[];
}

/** One BPF_PROG_TEST_RUN: what the program returned, and the frame as it left it. */
export interface TestRunResult {
  retval: number;
  frame: Buffer;
}

export interface ProgInfo {
  id: number;
  /** The kernel's name: the function name cut to 15 characters. */
  name: string;
  type: string;
  /** The kernel's hash of the instructions, 16 hex characters: equal tags, same code. */
  tag: string;
  /**
   * The shared maps the program uses, by id, ascending: the tag alone does not cover them. The
   * object's global-data maps (.rodata and the like, one per load) are not among them.
   */
  mapIds: number[];
  /**
   * The values of those global-data maps, as `<section>=<hex>;` each (`.rodata=…;`; empty for an object
   * without globals): two loads of one object with the same constants have the same loadData.
   */
  loadData: string;
}

/** Where a program sits: tcx (Linux 6.6+) or a filter on the clsact qdisc. */
export type TcHook = 'tcx' | 'clsact';

/**
 * The hook tcAttach prefers. 'tcx' takes tcx where the kernel has it, clsact elsewhere: the
 * program runs without the classifier layer around it (cheaper per packet), but each attach waits
 * for an RCU grace period, whose length grows with the node's CPUs and load (0.5-12 ms per attach
 * on the 2-CPU test machine, depending on the day; README, "The hook"). 'clsact' attaches in well
 * under a millisecond on any node.
 */
export const TC_HOOK_CHOICES = ['clsact', 'tcx'] as const;
export type TcHookChoice = (typeof TC_HOOK_CHOICES)[number];
/** terwayd's hook unless --lb-hook says otherwise: a pod's ADD should not wait on RCU. */
export const DEFAULT_TC_HOOK: TcHookChoice = 'clsact';

export interface TcAttachment {
  progId: number;
  name: string;
  tag: string;
  /** As in ProgInfo. */
  mapIds: number[];
  /** As in ProgInfo. */
  loadData: string;
  hook: TcHook;
}

export type TcDirection = 'ingress' | 'egress';

interface Addon {
  mapOpenPinned(path: string): MapHandle;
  mapInfo(map: MapHandle): NativeMapInfo;
  mapClose(map: MapHandle): void;
  mapUpdateBatch(
    map: MapHandle,
    keys: Buffer,
    values: Buffer,
    count: number,
    flags: number,
  ): number;
  mapDeleteBatch(map: MapHandle, keys: Buffer, count: number): number;
  mapLookup(map: MapHandle, key: Buffer): Buffer | null;
  mapDump(map: MapHandle): BpfMapDump;
  mapDumpAsync(map: MapHandle): Promise<BpfMapDump>;
  mapDumpPageAsync(
    map: MapHandle,
    token: Buffer | null,
    pageEntries: number,
  ): Promise<BpfMapDump & { token: Buffer | null }>;
  mapMmap(map: MapHandle): ArrayBuffer;
  setBatchOps(enabled: boolean): void;
  loadObject(
    objPath: string,
    pinDir: string,
    constants: Readonly<Record<string, bigint>>,
    mapSizes: Readonly<Record<string, number>>,
  ): LoadedObject;
  kernelHasFunction(name: string): boolean;
  releaseFreedHeap(): void;
  mountBpffs(dir: string): void;
  progInfo(path: string): ProgInfo;
  progOpenPinned(path: string): ProgHandle;
  progTestRun(prog: ProgHandle, frame: Buffer): number;
  progTestRunFrame(prog: ProgHandle, frame: Buffer): TestRunResult;
  progClose(prog: ProgHandle): void;
  tcAttach(
    netnsPath: string,
    ifname: string,
    progPath: string,
    direction: TcDirection,
    hook: TcHookChoice,
  ): { progId: number; hook: TcHook };
  tcQuery(netnsPath: string, ifname: string, direction: TcDirection): TcAttachment | null;
  tcDetach(netnsPath: string, ifname: string, direction: TcDirection): boolean;
}

let addon: Addon | undefined;

function loadAddon(): Addon {
  if (addon !== undefined) return addon;
  try {
    addon = loadNativeAddon() as Addon;
  } catch (error) {
    throw new TerwayError('BPF_ERROR', error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
  return addon;
}

/** True when the addon can be loaded; for callers that fall back to bpftool. */
export function nativeBpfAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

/**
 * Test-only: turns the batch syscalls off (or back on), forcing the one-call-per-entry paths
 * that kernels or map types without batch ops take, so they can be tested on any kernel.
 */
export function setNativeBatchOpsForTests(enabled: boolean): void {
  call((native) => native.setBatchOps(enabled));
}

/** Runs an addon call, turning its errors into BPF_ERROR. */
function call<T>(fn: (native: Addon) => T): T {
  const native = loadAddon();
  try {
    return fn(native);
  } catch (error) {
    throw asBpfError(error);
  }
}

/** An addon call's error as a BPF_ERROR (one that already is, as it is). */
function asBpfError(error: unknown): TerwayError {
  if (error instanceof TerwayError) return error;
  if (error instanceof Error) return toBpfError(error);
  return new TerwayError('BPF_ERROR', String(error), { cause: error });
}

/** A pinned map, opened through the addon. */
export class NativeBpfMap implements BpfMap {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly valueStride: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly percpu: boolean;

  private constructor(
    readonly path: string,
    private readonly handle: MapHandle,
    info: NativeMapInfo,
  ) {
    this.id = info.id;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.valueStride = info.valueStride;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.percpu = info.percpu;
  }

  /** Opens the map pinned at `path` (bpf_obj_get). */
  static openPinned(path: string): NativeBpfMap {
    return call((native) => {
      const handle = native.mapOpenPinned(path);
      return new NativeBpfMap(path, handle, native.mapInfo(handle));
    });
  }

  updateBatch(
    keys: Buffer,
    values: Buffer,
    count: number,
    flags: BpfUpdateFlags = BPF_ANY,
  ): number {
    return call((native) => native.mapUpdateBatch(this.handle, keys, values, count, flags));
  }

  deleteBatch(keys: Buffer, count: number): number {
    return call((native) => native.mapDeleteBatch(this.handle, keys, count));
  }

  lookup(key: Buffer): Buffer | undefined {
    return call((native) => native.mapLookup(this.handle, key) ?? undefined);
  }

  dump(): BpfMapDump {
    return call((native) => native.mapDump(this.handle));
  }

  /** The walk runs on a thread of libuv's pool, with a dup of the map's fd. */
  async dumpAsync(): Promise<BpfMapDump> {
    // Async, so what the addon throws at once (a closed handle) rejects too, like the walk's own
    // failures: a caller awaits one promise, never a throw and a rejection.
    try {
      return await call((native) => native.mapDumpAsync(this.handle));
    } catch (error) {
      throw asBpfError(error);
    }
  }

  /** The page is read on a thread of libuv's pool; the cursor is the kernel's resume token. */
  async dumpPageAsync(
    cursor: BpfDumpCursor | undefined,
    pageEntries: number,
  ): Promise<BpfMapDumpPage> {
    const token = cursor === undefined ? null : (cursor as unknown as NativeDumpCursor).token;
    try {
      const page = await call((native) => native.mapDumpPageAsync(this.handle, token, pageEntries));
      const next: NativeDumpCursor | undefined =
        page.token === null ? undefined : { token: page.token };
      return {
        keys: page.keys,
        values: page.values,
        count: page.count,
        next: next as unknown as BpfDumpCursor | undefined,
      };
    } catch (error) {
      throw asBpfError(error);
    }
  }

  /**
   * The values of an array created with BPF_F_MMAPABLE, as shared memory: stores are seen by the
   * program at once, without a syscall. Stays valid after close().
   */
  mmap(): ArrayBuffer {
    return call((native) => native.mapMmap(this.handle));
  }

  close(): void {
    call((native) => native.mapClose(this.handle));
  }
}

/**
 * Loads a BPF object: its maps pinned at <pinDir>/<map> (existing pins reused, so their contents
 * survive; a layout mismatch fails with libbpf's "parameter mismatch"), its programs pinned at
 * <pinDir>/progs/<program>, replacing older pins. pinDir must be on bpffs (/sys/fs/bpf).
 * `constants` sets the object's `volatile const` globals by name before the verifier runs; a name
 * the object lacks, or a value its variable cannot hold, fails the load (EINVAL). `mapSizes` sets
 * the max_entries of maps by name; a pinned map is reused only at its own size, so give it that.
 */
export function loadObject(
  objPath: string,
  pinDir: string,
  constants: Readonly<Record<string, bigint>> = {},
  mapSizes: Readonly<Record<string, number>> = {},
): LoadedObject {
  return call((native) => native.loadObject(objPath, pinDir, constants, mapSizes));
}

/** Whether the running kernel's BTF describes a function `name` (so a kfunc of that name exists). */
export function kernelHasFunction(name: string): boolean {
  return call((native) => native.kernelHasFunction(name));
}

/**
 * Hands the C heap's free pages back to the kernel (glibc malloc_trim). Freed memory below live
 * allocations otherwise stays in the daemon's RSS; worth it after a burst that freed tens of MB.
 */
export function releaseFreedHeap(): void {
  call((native) => native.releaseFreedHeap());
}

/** Mounts a bpffs on `dir` (mode 0700). Whether that is wise is bpffs.ts's decision. */
export function mountBpffs(dir: string): void {
  call((native) => native.mountBpffs(dir));
}

/** The program pinned at `path`. */
export function progInfo(path: string): ProgInfo {
  return call((native) => native.progInfo(path));
}

/**
 * A pinned program held open: how terwayd calls a program that is never attached (the conntrack
 * collector, thousands of runs a pass), without opening the pin for every run.
 */
export class NativeBpfProgram {
  private constructor(
    readonly path: string,
    private readonly handle: ProgHandle,
  ) {}

  /** Opens the program pinned at `path` (bpf_obj_get); anything else pinned there is refused. */
  static openPinned(path: string): NativeBpfProgram {
    return call((native) => new NativeBpfProgram(path, native.progOpenPinned(path)));
  }

  /** Runs the program once on `frame` (BPF_PROG_TEST_RUN) and returns what it returned. */
  testRun(frame: Buffer): number {
    return call((native) => native.progTestRun(this.handle, frame));
  }

  /** testRun, and the frame as the program left it. */
  testRunFrame(frame: Buffer): TestRunResult {
    return call((native) => native.progTestRunFrame(this.handle, frame));
  }

  /** Idempotent; a run after it fails (EBADF). */
  close(): void {
    call((native) => native.progClose(this.handle));
  }
}

/**
 * Attaches the pinned program to `ifname` inside the netns at `netnsPath`, on the preferred hook,
 * replacing the one this function attached there before; our program on the other hook is removed
 * once the new one is in place.
 */
export function tcAttach(
  netnsPath: string,
  ifname: string,
  progPinnedPath: string,
  direction: TcDirection,
  hook: TcHookChoice = DEFAULT_TC_HOOK,
): { progId: number; hook: TcHook } {
  return call((native) => native.tcAttach(netnsPath, ifname, progPinnedPath, direction, hook));
}

/** The program tcAttach put on `ifname` (tcx first, then clsact), or null when there is none. */
export function tcQuery(
  netnsPath: string,
  ifname: string,
  direction: TcDirection,
): TcAttachment | null {
  return call((native) => native.tcQuery(netnsPath, ifname, direction));
}

/** Removes what tcAttach attached, from both hooks; false when there was nothing. A clsact qdisc stays. */
export function tcDetach(netnsPath: string, ifname: string, direction: TcDirection): boolean {
  return call((native) => native.tcDetach(netnsPath, ifname, direction));
}
