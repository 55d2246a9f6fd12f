/**
 * How much more memory this process's memory cgroups let it charge: what creating a BPF map draws
 * on. Since Linux 5.11 the kernel charges a map's memory (every entry of a preallocated hash map,
 * at creation) to the memory cgroup of the process that creates it, and it stays charged there
 * (or to the cgroup's parent once that is gone) for as long as the map is pinned. So in a container
 * a Service LB table sized past the container's memory limit fails to load with ENOMEM, and one that
 * barely fits leaves the daemon too little to live in.
 *
 * Read from cgroupfs as the kernel shows it to this process: /proc/self/cgroup names its cgroup in
 * each hierarchy, /proc/self/mountinfo where that hierarchy is mounted (in a container, usually its
 * own cgroup at the mount's root). cgroup v2 (memory.max, memory.current) and v1's memory
 * controller (memory.limit_in_bytes, memory.usage_in_bytes) alike. Every ancestor visible under the
 * mount is read too, and the tightest binds: a Kubernetes pod's cgroup limits its containers
 * together. Page cache not recently used (inactive_file) does not count as used: the kernel
 * reclaims it before it fails a charge. Above them all, the node's own available memory
 * (/proc/meminfo's MemAvailable) binds too: a table sized for a larger node fails there, or first
 * squeezes every other pod's page cache.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

export interface MemoryHeadroom {
  /** What the tightest limit above this process still allows it to charge, in bytes. */
  readonly bytes: number;
  /** That limit, in bytes. */
  readonly limitBytes: number;
  /** The cgroup directory whose limit it is; undefined for the node's memory (MemTotal). */
  readonly cgroup?: string;
}

/** A file's text, or undefined when it cannot be read. */
export type TextReader = (path: string) => string | undefined;

/** cgroup v1 writes its "no limit" as a page-rounded 2^63 − 1; anything this large is none. */
const V1_UNLIMITED_FROM = 2 ** 62;

interface MemoryCgroupDir {
  readonly version: 1 | 2;
  /** The process's cgroup, as a path under the mount point. */
  readonly dir: string;
  readonly mountPoint: string;
}

/**
 * The headroom under the tightest memory limit above this process, the node's memory included
 * (the cgroups left out with `cgroups: false`); undefined when nothing can be read (another OS).
 */
export function memoryHeadroom(
  read: TextReader = readTextOrNone,
  { cgroups = true }: { cgroups?: boolean } = {},
): MemoryHeadroom | undefined {
  let tightest = nodeHeadroom(read);
  for (const level of cgroups ? cgroupHeadrooms(read) : []) {
    if (tightest === undefined || level.bytes < tightest.bytes) tightest = level;
  }
  return tightest;
}

/** Each limited memory cgroup from this process's own up to its hierarchy's mount. */
function cgroupHeadrooms(read: TextReader): MemoryHeadroom[] {
  const membership = read('/proc/self/cgroup');
  const mountinfo = read('/proc/self/mountinfo');
  if (membership === undefined || mountinfo === undefined) return [];
  const found = memoryCgroupDir(membership, mountinfo);
  if (found === undefined) return [];
  const levels: MemoryHeadroom[] = [];
  for (let dir = found.dir; ; dir = posix.dirname(dir)) {
    const level = headroomAt(dir, found.version, read);
    if (level !== undefined) levels.push(level);
    if (dir === found.mountPoint || !dir.startsWith(`${found.mountPoint}/`)) return levels;
  }
}

/** MemAvailable of MemTotal, from /proc/meminfo (in kB there). */
function nodeHeadroom(read: TextReader): MemoryHeadroom | undefined {
  const meminfo = read('/proc/meminfo');
  const available = meminfoBytes(meminfo, 'MemAvailable');
  const total = meminfoBytes(meminfo, 'MemTotal');
  return available === undefined || total === undefined
    ? undefined
    : { bytes: available, limitBytes: total };
}

function meminfoBytes(meminfo: string | undefined, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(meminfo ?? '');
  return match === null ? undefined : Number(match[1]) * 1024;
}

/** Where this process's memory cgroup is: v1's memory controller if mounted, else v2's. */
function memoryCgroupDir(membership: string, mountinfo: string): MemoryCgroupDir | undefined {
  const mounts = mountinfo.split('\n').flatMap((line) => {
    const mount = parseMountinfoLine(line);
    return mount === undefined ? [] : [mount];
  });
  for (const line of membership.split('\n')) {
    const [id, controllers, path] = splitMembership(line);
    if (path === undefined) continue;
    const v1Memory = controllers!.split(',').includes('memory');
    const v2 = id === '0' && controllers === '';
    if (!v1Memory && !v2) continue;
    const mount = mounts.find((candidate) =>
      v1Memory
        ? candidate.type === 'cgroup' && candidate.options.split(',').includes('memory')
        : candidate.type === 'cgroup2',
    );
    if (mount === undefined) continue;
    // The mount shows the hierarchy from `root` down; a process outside it (a container without a
    // cgroup namespace, whose mount is its own cgroup) is read at the mount's top.
    const relative =
      mount.root === '/'
        ? path
        : path === mount.root || path.startsWith(`${mount.root}/`)
          ? path.slice(mount.root.length)
          : '/';
    return {
      version: v1Memory ? 1 : 2,
      dir: withoutTrailingSlash(posix.join(mount.mountPoint, relative)),
      mountPoint: withoutTrailingSlash(mount.mountPoint),
    };
  }
  return undefined;
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** `id:controllers:path`; the path may itself hold colons. */
function splitMembership(line: string): [string, string, string] | [] {
  const first = line.indexOf(':');
  const second = line.indexOf(':', first + 1);
  if (first < 0 || second < 0) return [];
  return [line.slice(0, first), line.slice(first + 1, second), line.slice(second + 1)];
}

interface Mount {
  readonly root: string;
  readonly mountPoint: string;
  readonly type: string;
  readonly options: string;
}

/** proc(5): `id parent major:minor root mountpoint options [optional…] - type source superoptions`. */
function parseMountinfoLine(line: string): Mount | undefined {
  const fields = line.split(' ');
  const separator = fields.indexOf('-');
  if (separator < 5 || fields.length < separator + 4) return undefined;
  return {
    root: unescapeMountPath(fields[3]!),
    mountPoint: unescapeMountPath(fields[4]!),
    type: fields[separator + 1]!,
    options: fields[separator + 3]!,
  };
}

/** mountinfo writes a space, tab, newline or backslash in a path as a three-digit octal escape. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

function headroomAt(dir: string, version: 1 | 2, read: TextReader): MemoryHeadroom | undefined {
  const [limitFile, usageFile, inactiveStat] =
    version === 2
      ? ['memory.max', 'memory.current', 'inactive_file']
      : ['memory.limit_in_bytes', 'memory.usage_in_bytes', 'total_inactive_file'];
  const limitText = read(posix.join(dir, limitFile))?.trim();
  const usage = Number(read(posix.join(dir, usageFile))?.trim());
  if (limitText === undefined || limitText === 'max' || !Number.isFinite(usage)) return undefined;
  const limitBytes = Number(limitText);
  if (!Number.isFinite(limitBytes) || limitBytes >= V1_UNLIMITED_FROM) return undefined;
  const inactive = statField(read(posix.join(dir, 'memory.stat')), inactiveStat);
  return {
    bytes: Math.max(0, limitBytes - Math.max(0, usage - inactive)),
    limitBytes,
    cgroup: dir,
  };
}

function statField(stat: string | undefined, name: string): number {
  for (const line of stat?.split('\n') ?? []) {
    const [key, value] = line.split(' ');
    if (key === name) return Number(value) || 0;
  }
  return 0;
}

function readTextOrNone(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
