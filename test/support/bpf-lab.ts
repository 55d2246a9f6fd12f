/**
 * Support for the Service LB datapath test (test/netns/bpf-lb-datapath.test.ts): the compiled tc
 * programs loaded once into a pin directory of this run's own, attached per pod with tc; the maps
 * written and read with bpftool, encoded by the daemon's codecs (src/lb/maps); and a small agent
 * process inside a network namespace that serves or dials TCP/UDP on the test's command.
 *
 * EBPF.md trap 1: every command that must see the shared bpffs (tc, bpftool) runs in the root
 * mount namespace, entering only the pod's network namespace with `nsenter --net=`, never with
 * `ip netns exec` or `tc -n` (they remount /sys).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

import {
  AFFINITY,
  AFFINITY_KEY,
  ARRAY_INDEX,
  BACKEND,
  COUNTERS,
  FLOW,
  FLOW_KEY,
  FLOW_STATES,
  FRONTEND,
  FRONTEND_KEY,
  LB_MAP_NAMES,
  REVERSE_KEY,
} from '../../src/lb/maps/lb-layouts.js';
import { planLbLoad, SYSTEM_LB_OBJECT_PROBES } from '../../src/dataplane/bpf/lb-object.js';
import { gateBit, type GateKey } from '../../src/lb/maps/key-gate.js';
import { decode, encode, type StructValue } from '../../src/lb/maps/struct-codec.js';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';
import { REPO_ROOT } from './bins.js';
import type { TestNetns } from './netns.js';

export const TCP = 6;
export const UDP = 17;
/** tw_flow.state values, by the name the daemon gives each (FLOW_STATES mirrors TW_FLOW_*). */
export const FLOW_NEW = FLOW_STATES.indexOf('new');
export const FLOW_ESTABLISHED = FLOW_STATES.indexOf('established');
export const FLOW_CLOSING = FLOW_STATES.indexOf('closing');
export const FLOW_CLIENT_FIN = FLOW_STATES.indexOf('client-fin');
export const FLOW_BACKEND_FIN = FLOW_STATES.indexOf('backend-fin');
export const FLOW_STREAM = FLOW_STATES.indexOf('stream');

/** Where scripts/build-bpf.sh writes the object (BPF_OUT_DIR moves it, as in the VM tier). */
export const LB_OBJECT = join(process.env.BPF_OUT_DIR ?? join(REPO_ROOT, 'dist/bpf'), 'lb.o');
const BPF_FS_MAGIC = 0xcafe4a11;

/** Runs a command in a namespace's network namespace (and the root mount namespace). */
export function inNs(
  ns: { readonly path: string },
  cmd: string,
  args: string[],
  input?: string,
): string {
  return execFileSync('nsenter', [`--net=${ns.path}`, cmd, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** `ip -batch -` inside a namespace: one process for a whole setup. */
export function ipBatch(ns: TestNetns, lines: string[]): void {
  inNs(ns, 'ip', ['-batch', '-'], `${lines.join('\n')}\n`);
}

export function sysctl(ns: TestNetns, settings: Record<string, string | number>): void {
  inNs(ns, 'sysctl', [
    '-q',
    '-w',
    ...Object.entries(settings).map(([key, value]) => `${key}=${value}`),
  ]);
}

/** A namespace with IPv6 off before any link exists, so no link ever sends RS/MLD noise. */
export function quietIpv6(ns: TestNetns): void {
  sysctl(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
}

interface LinkJson {
  address: string;
  stats64?: { tx: { packets: number } };
}

/** `ip -j link show dev <dev>` inside a namespace (with its counters if asked). */
function showLink(ns: TestNetns, dev: string, withStats = false): LinkJson {
  const args = ['-j', ...(withStats ? ['-s'] : []), 'link', 'show', 'dev', dev];
  const [link] = JSON.parse(inNs(ns, 'ip', args)) as LinkJson[];
  return link!;
}

export function linkTxPackets(ns: TestNetns, dev: string): number {
  return showLink(ns, dev, true).stats64!.tx.packets;
}

/** The MAC a link sends from. */
export function linkMac(ns: TestNetns, dev: string): string {
  return showLink(ns, dev).address;
}

// --- Map encodings: the daemon's own codecs (src/lb/maps), so this test also checks them ------

/** struct tw_frontend_key */
export function frontendKey(addr: string, port: number, proto: number): Buffer {
  return encode(FRONTEND_KEY, { addr: ipToInt(addr), port, proto });
}

export interface Frontend {
  id: number;
  slotBase: number;
  slotCapacity: number;
  backendCount: number;
  affinityTimeoutS?: number;
  flags?: number;
}

/** struct tw_frontend */
export function frontendValue(fe: Frontend): Buffer {
  return encode(FRONTEND, { affinityTimeoutS: 0, flags: 0, ...fe });
}

/** A __u32 key or value: an array index (slot, backend id, counter), or a backend id. */
export function u32(n: number): Buffer {
  return encode(ARRAY_INDEX, { index: n });
}

/** struct tw_backend; an all-zero value (addr 0) is a free id. */
export const NO_BACKEND = Buffer.alloc(BACKEND.size);

/** struct tw_backend */
export function backendValue(addr: string, port: number, proto: number): Buffer {
  return encode(BACKEND, { addr: ipToInt(addr), port, proto, flags: 0 });
}

export interface FlowKey {
  clientAddr: string;
  frontendAddr: string;
  clientPort: number;
  frontendPort: number;
  proto: number;
}

/** struct tw_flow_key */
export function flowKey(k: FlowKey): Buffer {
  return encode(FLOW_KEY, {
    ...k,
    clientAddr: ipToInt(k.clientAddr),
    frontendAddr: ipToInt(k.frontendAddr),
  });
}

export function decodeFlowKey(b: Buffer): FlowKey {
  const k = decode(FLOW_KEY, b);
  return { ...k, clientAddr: intToIp(k.clientAddr), frontendAddr: intToIp(k.frontendAddr) };
}

export interface Flow {
  firstSeenNs: bigint;
  lastSeenNs: bigint;
  packets: bigint;
  bytes: bigint;
  nextHop: bigint;
  frontendId: number;
  backendId: number;
  backendAddr: string;
  backendPort: number;
  state: number;
}

/** struct tw_flow */
export function decodeFlow(b: Buffer): Flow {
  const flow = decode(FLOW, b);
  return { ...flow, backendAddr: intToIp(flow.backendAddr) };
}

export interface ReverseKey {
  clientAddr: string;
  backendAddr: string;
  clientPort: number;
  backendPort: number;
  proto: number;
}

/** struct tw_reverse_key */
export function reverseKey(k: ReverseKey): Buffer {
  return encode(REVERSE_KEY, {
    ...k,
    clientAddr: ipToInt(k.clientAddr),
    backendAddr: ipToInt(k.backendAddr),
  });
}

/** struct tw_affinity_key */
export function affinityKey(clientAddr: string, frontendId: number): Buffer {
  return encode(AFFINITY_KEY, { clientAddr: ipToInt(clientAddr), frontendId });
}

/** struct tw_affinity */
export function decodeAffinity(b: Buffer): { lastUsedNs: bigint; backendId: number } {
  const { lastUsedNs, backendId } = decode(AFFINITY, b);
  return { lastUsedNs, backendId };
}

export type Counters = StructValue<{ packets: 'u64'; bytes: 'u64'; flows: 'u64'; rejected: 'u64' }>;

/** struct tw_counters */
export function decodeCounters(b: Buffer): Counters {
  return decode(COUNTERS, b);
}

// --- The loaded programs and their pinned maps ---------------------------------------------------

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
const fromHex = (bytes: string[]) => Buffer.from(bytes.map((x) => Number.parseInt(x, 16)));

/** The programs in lb.o: tw_lb_egress_gw skips the L2 fix, for pods with a single next hop. */
export type LbProgram = 'tw_lb_egress' | 'tw_lb_egress_gw' | 'tw_lb_ingress' | 'tw_lb_collect';

/**
 * The build of `object` (an lb.o path) that this kernel loads, as terwayd chooses it: lb.o, or
 * lb-compat.o beside it on a kernel before 6.3.
 */
export function kernelBuildOf(object: string): string {
  return planLbLoad(object, SYSTEM_LB_OBJECT_PROBES).object;
}

/**
 * Compiles bpf/lb.c into dist/bpf/lb.o and lb-compat.o with the project's own script, and returns
 * the build this kernel loads.
 */
export function buildLbObject(): string {
  execFileSync(join(REPO_ROOT, 'scripts/build-bpf.sh'), { stdio: 'pipe' });
  return kernelBuildOf(LB_OBJECT);
}

/**
 * The same source built for BPF ISA v2 into `dir` (lb.o and lb-compat.o): same maps and
 * behaviour, other instructions, so its programs' tags differ from dist/bpf's, as another
 * release's would. Returns the lb.o path, as a daemon's --bpf-object would name it.
 */
export function buildOtherLbBuild(dir: string): string {
  execFileSync(join(REPO_ROOT, 'scripts/build-bpf.sh'), {
    stdio: 'pipe',
    env: { ...process.env, BPF_OUT_DIR: dir, BPF_CPU: 'v2' },
  });
  return join(dir, 'lb.o');
}

/**
 * The programs of one object, loaded once and pinned with their maps in a directory of this run's
 * own: under /sys/fs/bpf when a bpffs is mounted there, otherwise on a private bpffs mounted for the
 * run (and unmounted by cleanup()), so the test never changes the machine's /sys/fs/bpf. The name
 * has no dots: libbpf rewrites dots in pin paths.
 */
export class LbPins {
  readonly dir: string;
  private readonly mountPoint: string | undefined;

  /** Without `object`, the directory is left empty for a test that loads into it itself. */
  constructor(object?: string) {
    const name = `terway-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    if (statfsSync('/sys/fs/bpf').type === BPF_FS_MAGIC) {
      this.dir = `/sys/fs/bpf/${name}`;
      mkdirSync(this.dir);
    } else {
      this.mountPoint = `/tmp/${name}`;
      mkdirSync(this.mountPoint);
      execFileSync('mount', ['-t', 'bpf', 'bpf', this.mountPoint]);
      this.dir = this.mountPoint;
    }
    if (object === undefined) return;
    try {
      execFileSync(
        'bpftool',
        ['prog', 'loadall', kernelBuildOf(object), `${this.dir}/progs`, 'pinmaps', this.dir],
        { stdio: 'pipe' },
      );
    } catch (error) {
      this.cleanup();
      throw error;
    }
  }

  prog(name: LbProgram): string {
    return `${this.dir}/progs/${name}`;
  }

  map(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** clsact on the pod's device, egress and ingress programs attached from their pins. */
  attach(ns: TestNetns, egress: LbProgram = 'tw_lb_egress', dev = 'eth0'): void {
    inNs(ns, 'tc', ['qdisc', 'replace', 'dev', dev, 'clsact']);
    for (const [hook, prog] of [
      ['egress', egress],
      ['ingress', 'tw_lb_ingress'],
    ] as const) {
      inNs(ns, 'tc', [
        'filter',
        'replace',
        'dev',
        dev,
        hook,
        'bpf',
        'da',
        'pinned',
        this.prog(prog),
      ]);
    }
  }

  /**
   * Many map updates and deletes through one bpftool process. A frontend or backend written is
   * gated in first, as the daemon does (src/lb/maps/key-gate.ts); a deleted one keeps its bit,
   * which costs the program only a lookup that misses.
   */
  batch(ops: Array<{ map: string; key: Buffer; value?: Buffer }>): void {
    if (ops.length === 0) return;
    ops = ops.flatMap((op) => {
      if (op.value === undefined) return [op];
      if (op.map === LB_MAP_NAMES.frontend) {
        return [this.gateOp(LB_MAP_NAMES.frontendGate, decode(FRONTEND_KEY, op.key)), op];
      }
      if (op.map === LB_MAP_NAMES.backend && !op.value.equals(NO_BACKEND)) {
        return [this.gateOp(LB_MAP_NAMES.backendGate, decode(BACKEND, op.value)), op];
      }
      return [op];
    });
    const lines = ops.map(({ map, key, value }) =>
      value === undefined
        ? `map delete pinned ${this.map(map)} key hex ${hex(key)}`
        : `map update pinned ${this.map(map)} key hex ${hex(key)} value hex ${hex(value)}`,
    );
    execFileSync('bpftool', ['batch', 'file', '-'], {
      input: `${lines.join('\n')}\n`,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  /** Per gate, the 64-bit words this test has set bits in. */
  private readonly gateWords = new Map<string, Map<number, bigint>>();

  /** The update of a gate map that sets the bit of (addr, port, proto). */
  private gateOp(
    gate: string,
    { addr, port, proto }: GateKey,
  ): { map: string; key: Buffer; value: Buffer } {
    const bit = gateBit(addr, port, proto);
    const word = Math.floor(bit / 64);
    const words = this.gateWords.get(gate) ?? new Map<number, bigint>();
    this.gateWords.set(gate, words);
    const bits = (words.get(word) ?? 0n) | (1n << BigInt(bit % 64));
    words.set(word, bits);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(bits);
    return { map: gate, key: u32(word), value };
  }

  update(map: string, key: Buffer, value: Buffer): void {
    this.batch([{ map, key, value }]);
  }

  delete(map: string, key: Buffer): void {
    this.batch([{ map, key }]);
  }

  lookup(map: string, key: Buffer): Buffer | undefined {
    try {
      const out = execFileSync(
        'bpftool',
        ['-j', 'map', 'lookup', 'pinned', this.map(map), 'key', 'hex', ...hex(key).split(' ')],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const entry = JSON.parse(out) as { value: string[] } | null;
      return entry === null ? undefined : fromHex(entry.value);
    } catch {
      return undefined; // bpftool exits non-zero for a missing key
    }
  }

  dump(map: string): Array<{ key: Buffer; value: Buffer }> {
    const out = execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', this.map(map)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return (JSON.parse(out) as Array<{ key: string[]; value: string[] }>).map((e) => ({
      key: fromHex(e.key),
      value: fromHex(e.value),
    }));
  }

  /** Removes the pins (the maps go once no attached program holds them) and any private mount. */
  cleanup(): void {
    if (this.mountPoint !== undefined) {
      try {
        execFileSync('umount', [this.mountPoint]);
      } finally {
        rmSync(this.mountPoint, { recursive: true, force: true });
      }
    } else if (existsSync(this.dir)) {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

// --- An agent process inside a network namespace -------------------------------------------------

/*
 * The agent reads one JSON command per line on stdin and answers one JSON line per command on
 * stdout, tagged with the command's id. Servers answer every line (TCP) or datagram (UDP) with
 * {name, peer, peerPort, echo}: the address and port the server saw the client as. A UDP request
 * "big:<n>" gets an answer padded with spaces to n bytes; a request "late:<ms>" (TCP or UDP) gets
 * its answer that much later. A TCP server closes its side once the client has closed its own and
 * every answer is sent (half-open: a client's FIN does not cut a late answer short); a TCP line
 * "bye" makes it answer and close its side first, while it goes on reading. Plain JavaScript, run
 * with node -e.
 */
const AGENT_JS = String.raw`
import { createConnection, createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import process from 'node:process';

let name = '?';
const received = [];
const tcpConns = new Map();
const udpSocks = new Map();
const servers = [];
let nextHandle = 1;

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const codeOf = (e) => (e && e.code) || 'ERROR';
const err = (code, message) => Object.assign(new Error(message || code), { code });

function lineQueue(socket) {
  const q = { buf: '', lines: [], waiters: [], error: null, closed: false };
  socket.on('data', (chunk) => {
    q.buf += chunk.toString('utf8');
    let i;
    while ((i = q.buf.indexOf('\n')) >= 0) {
      const line = q.buf.slice(0, i);
      q.buf = q.buf.slice(i + 1);
      const w = q.waiters.shift();
      if (w) w.resolve(line);
      else q.lines.push(line);
    }
  });
  socket.on('error', (e) => {
    q.error = e;
    for (const w of q.waiters.splice(0)) w.reject(e);
  });
  socket.on('close', () => {
    q.closed = true;
    for (const w of q.waiters.splice(0)) w.reject(q.error || err('CLOSED', 'connection closed'));
  });
  return q;
}

function nextLine(q, ms) {
  if (q.lines.length > 0) return Promise.resolve(q.lines.shift());
  if (q.error) return Promise.reject(q.error);
  if (q.closed) return Promise.reject(err('CLOSED', 'connection closed'));
  return new Promise((resolve, reject) => {
    const w = {
      resolve: (l) => { clearTimeout(t); resolve(l); },
      reject: (e) => { clearTimeout(t); reject(e); },
    };
    const t = setTimeout(() => {
      q.waiters.splice(q.waiters.indexOf(w), 1);
      reject(err('TIMEOUT', 'no answer in ' + ms + ' ms'));
    }, ms);
    q.waiters.push(w);
  });
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => { t = setTimeout(() => reject(err('TIMEOUT', what)), ms); }),
  ]).finally(() => clearTimeout(t));
}

async function tcpOpen(m) {
  const t0 = performance.now();
  // allowHalfOpen: a server's FIN leaves this side open for writing (see tcpWrite).
  const socket = createConnection({ host: m.host, port: m.port, localPort: m.localPort,
    allowHalfOpen: Boolean(m.allowHalfOpen) });
  const q = lineQueue(socket);
  try {
    await withTimeout(new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }), m.timeoutMs || 3000, 'connect timed out');
  } catch (e) {
    socket.destroy();
    throw Object.assign(e, { ms: performance.now() - t0 });
  }
  const handle = nextHandle++;
  tcpConns.set(handle, { socket, q });
  return { conn: handle, ms: performance.now() - t0, localPort: socket.localPort,
    remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
}

async function tcpSend(m) {
  const c = tcpConns.get(m.conn);
  if (!c) throw err('NOCONN');
  c.socket.write(m.line + '\n');
  return { reply: JSON.parse(await nextLine(c.q, m.timeoutMs || 3000)) };
}

/** Sends a line and expects no answer (the server may have closed its side). */
function tcpWrite(m) {
  const c = tcpConns.get(m.conn);
  if (!c) throw err('NOCONN');
  c.socket.write(m.line + '\n');
  return {};
}

/** Sends a line, if given, then the client's FIN; answers may still come (tcpRead). */
function tcpShutdown(m) {
  const c = tcpConns.get(m.conn);
  if (!c) throw err('NOCONN');
  if (m.line !== undefined) c.socket.write(m.line + '\n');
  c.socket.end();
  return {};
}

/** The next answer on the connection. */
async function tcpRead(m) {
  const c = tcpConns.get(m.conn);
  if (!c) throw err('NOCONN');
  return { reply: JSON.parse(await nextLine(c.q, m.timeoutMs || 3000)) };
}

async function tcpClose(m) {
  const c = tcpConns.get(m.conn);
  if (!c) return {};
  tcpConns.delete(m.conn);
  if (m.reset) {
    // A RST instead of a FIN: no TIME_WAIT is left, so the same 4-tuple can connect again.
    c.socket.resetAndDestroy();
    return {};
  }
  if (!c.q.closed) {
    const closed = new Promise((resolve) => c.socket.once('close', resolve));
    c.socket.end();
    await withTimeout(closed, 3000, 'close timed out').catch(() => c.socket.destroy());
  }
  return {};
}

async function udpOpen(m) {
  const socket = createSocket('udp4');
  const s = { socket, messages: [], errors: [], waiters: [], connected: Boolean(m.connect), m };
  const wake = () => { for (const w of s.waiters.splice(0)) w(); };
  socket.on('message', (msg, rinfo) => { s.messages.push({ msg, rinfo }); wake(); });
  socket.on('error', (e) => { s.errors.push(e); wake(); });
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(m.localPort || 0, () => { socket.off('error', reject); resolve(); });
  });
  if (m.connect) await new Promise((resolve) => socket.connect(m.port, m.host, resolve));
  const handle = nextHandle++;
  udpSocks.set(handle, s);
  return { sock: handle, localPort: socket.address().port };
}

async function udpSend(m) {
  const s = udpSocks.get(m.sock);
  if (!s) throw err('NOSOCK');
  s.messages.length = 0;
  s.errors.length = 0;
  if (s.connected) s.socket.send(m.line);
  else s.socket.send(m.line, s.m.port, s.m.host);
  const deadline = Date.now() + (m.timeoutMs || 3000);
  for (;;) {
    if (s.errors.length > 0) throw s.errors.shift();
    if (s.messages.length > 0) {
      const { msg, rinfo } = s.messages.shift();
      return { reply: JSON.parse(msg.toString('utf8').trim()), size: msg.length, rinfo };
    }
    const left = deadline - Date.now();
    if (left <= 0) throw err('TIMEOUT', 'no datagram in time');
    await new Promise((resolve) => {
      const t = setTimeout(resolve, left);
      s.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }
}

function udpClose(m) {
  const s = udpSocks.get(m.sock);
  if (s) { udpSocks.delete(m.sock); s.socket.close(); }
  return {};
}

function serveTcp(host, port) {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let buf = '';
    let pending = 0;
    let clientDone = false;
    const endIfDone = () => { if (clientDone && pending === 0) socket.end(); };
    socket.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        received.push({ proto: 'tcp', port, peer: socket.remoteAddress, peerPort: socket.remotePort, line });
        if (!socket.writable) continue; // this side has closed ("bye"): read, do not answer
        const answer = JSON.stringify({ name, peer: socket.remoteAddress, peerPort: socket.remotePort, echo: line }) + '\n';
        const late = /^late:(\d+)/.exec(line);
        if (late) {
          pending++;
          setTimeout(() => { pending--; socket.write(answer); endIfDone(); }, Number(late[1]));
        } else {
          socket.write(answer);
          if (line === 'bye') socket.end();
        }
      }
    });
    socket.on('end', () => { clientDone = true; endIfDone(); });
    socket.on('error', () => socket.destroy());
  });
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
}

function serveUdp(host, port) {
  const socket = createSocket('udp4');
  servers.push(socket);
  socket.on('message', (msg, rinfo) => {
    const line = msg.toString('utf8');
    received.push({ proto: 'udp', port, peer: rinfo.address, peerPort: rinfo.port, line: line.slice(0, 64), size: msg.length });
    const text = JSON.stringify({ name, peer: rinfo.address, peerPort: rinfo.port, echo: line.slice(0, 64), size: msg.length });
    const big = /^big:(\d+)/.exec(line);
    const reply = big ? Buffer.concat([Buffer.from(text), Buffer.alloc(Math.max(0, Number(big[1]) - text.length), 0x20)]) : Buffer.from(text);
    const late = /^late:(\d+)/.exec(line);
    if (late) setTimeout(() => socket.send(reply, rinfo.port, rinfo.address), Number(late[1]));
    else socket.send(reply, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, resolve);
  });
}

const ops = {
  async serve(m) {
    name = m.name;
    for (const p of m.tcp || []) await serveTcp(m.host, p);
    for (const p of m.udp || []) await serveUdp(m.host, p);
    return {};
  },
  received(m) {
    const list = received.slice();
    if (m.clear) received.length = 0;
    return { received: list };
  },
  tcpOpen,
  tcpSend,
  tcpWrite,
  tcpShutdown,
  tcpRead,
  tcpClose,
  async tcpOnce(m) {
    const o = await tcpOpen(m);
    try {
      const r = await tcpSend({ conn: o.conn, line: m.line, timeoutMs: m.timeoutMs });
      return { ...o, ...r };
    } finally {
      await tcpClose({ conn: o.conn });
    }
  },
  udpOpen,
  udpSend,
  udpClose,
  async udpOnce(m) {
    const o = await udpOpen(m);
    try {
      return { ...o, ...(await udpSend({ sock: o.sock, line: m.line, timeoutMs: m.timeoutMs })) };
    } finally {
      udpClose({ sock: o.sock });
    }
  },
};

createInterface({ input: process.stdin }).on('line', (text) => {
  let m;
  try { m = JSON.parse(text); } catch { return; }
  Promise.resolve()
    .then(() => {
      const op = ops[m.op];
      if (!op) throw err('BADOP', 'unknown op ' + m.op);
      return op(m);
    })
    .then((r) => out({ id: m.id, ok: true, ...r }))
    .catch((e) => out({ id: m.id, ok: false, code: codeOf(e), message: String(e && e.message), ms: e && e.ms }));
}).on('close', () => process.exit(0));
out({ id: 0, ok: true, ready: true });
`;

export interface AgentReply {
  ok: boolean;
  code?: string;
  message?: string;
  ms?: number;
  [key: string]: unknown;
}

/** What a server reports about one request. */
export interface EchoReply {
  name: string;
  peer: string;
  peerPort: number;
  echo: string;
  size?: number;
}

/** A node process in a network namespace, driven over stdin/stdout. */
export class Agent {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, (reply: AgentReply) => void>();
  private nextId = 1;
  private buffer = '';
  private stderr = '';
  readonly ready: Promise<void>;

  constructor(
    readonly ns: { readonly path: string },
    readonly label: string,
  ) {
    this.child = spawn(
      'nsenter',
      [`--net=${ns.path}`, process.execPath, '--input-type=module', '-e', AGENT_JS],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.ready = new Promise((resolve, reject) => {
      this.pending.set(0, () => resolve());
      this.child.once('exit', (code) =>
        reject(new Error(`agent ${label} exited (${code}): ${this.stderr}`)),
      );
    });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      let newline;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        const reply = JSON.parse(line) as AgentReply & { id: number };
        const resolve = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        resolve?.(reply);
      }
    });
  }

  /** Sends one command; resolves with its answer, ok or not (a failure is data, not an error). */
  call(op: string, args: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<AgentReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent ${this.label}: no answer to ${op} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Like call(), but a failed command throws. */
  async must(op: string, args: Record<string, unknown> = {}): Promise<AgentReply> {
    const reply = await this.call(op, args);
    if (!reply.ok) {
      throw new Error(
        `agent ${this.label}: ${op} ${JSON.stringify(args)} failed: ${reply.code} ${reply.message}`,
      );
    }
    return reply;
  }

  /** Ends the agent (closing stdin ends it; SIGKILL if it lingers). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
