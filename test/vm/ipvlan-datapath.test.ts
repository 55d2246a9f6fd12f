/**
 * The VM tier: ipvlan for real. This machine's kernel has no ipvlan, so ONE VM with Debian's
 * kernel boots (scripts/vm/run.sh) and runs test/vm/fixtures/vm-suite.sh there:
 *
 *  - ipvlan-smoke.sh: the kernel parts alone (ipvlan L2 slaves renamed eth0 in namespaces, ping,
 *    tc clsact and cls_bpf on a veth and a slave, a dummy link, a Node TCP round trip);
 *  - ipvlan-datapath.mjs: a real 2-node lab with `--driver ipvlan` (terwayd per node, the ECS
 *    emulator, pods through the real CNI shim), DATAPATH.md's scenarios 1-4 with their paths read
 *    from interface counters, CNI CHECK and DEL, and a terwayd restart that re-syncs a route;
 *  - service-lb.mjs (inside that lab): the Service LB's scenarios 5-7 in ipvlan mode (a Service
 *    backed by a pod on the client's ENI, on the node's other ENI, on the other node: replies,
 *    tcpdump captures, the program's flow map), and one Service over all three (spread, drain,
 *    scaled to zero).
 *
 * Every assertion reads the fixtures' per-check lines from the console, not just the exit code.
 * One boot serves them all: under TCG a boot costs 5-15 s, JavaScript runs 10-40x slower and each
 * `ip` call takes 25-600 ms, so the timeouts are generous. Before the boot, the commands the lab
 * runs are bundled with V8 code caches (scripts/vm/bundle.mjs, cached by a hash of dist/).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VmRunResult } from './vm-runner.js';
import {
  REPO_ROOT,
  VM_SUITE,
  gateVmTier,
  preparedKernelRelease,
  prepareFastCommands,
  runInVm,
} from './vm-runner.js';

/** Which kernel the titles name: apt's default, or the release TERWAY_VM_SUITE asks for. */
const ON_KERNEL = VM_SUITE === undefined ? "on Debian's kernel" : `on Debian ${VM_SUITE}'s kernel`;

/** The whole VM, boot included. The run takes 3-5 minutes on a loaded 2-core machine. */
const VM_TIMEOUT_MS = 600_000;
/** Pings per burst in the fixture's path checks (BURST there). */
const BURST = 40;
/** What an interface off the path may show during a burst (QUIET_MAX there). */
const QUIET_MAX = 3;

const gate = gateVmTier(
  'test/vm/ipvlan-datapath.test.ts (ipvlan smoke; 2-node ipvlan lab: DATAPATH.md scenarios 1-7, Service LB drain/scale-to-zero, CNI CHECK/DEL, restart re-sync)',
);

interface Check {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}
interface Section {
  checks: Map<string, Check>;
  info: Map<string, string>;
  done?: { checks: number; failed: number };
}

/** Reads "CHECK", "INFO" and "<doneTag>" lines (tab-separated) out of one fixture's output. */
function parseSection(output: string, doneTag: string): Section {
  const checks = new Map<string, Check>();
  const info = new Map<string, string>();
  let done: Section['done'];
  for (const line of output.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'CHECK' && f.length >= 4) {
      checks.set(f[1]!, { name: f[1]!, ok: f[2] === 'ok', ms: Number(f[3]), detail: f[4] ?? '' });
    } else if (f[0] === 'INFO' && f.length >= 3) {
      info.set(f[1]!, f[2]!);
    } else if (f[0] === doneTag) {
      const n = (key: string) => Number(/=(\d+)/.exec(f.find((x) => x.startsWith(key)) ?? '')?.[1]);
      done = { checks: n('checks='), failed: n('failed=') };
    }
  }
  return { checks, info, done };
}

/**
 * A path check's detail, "burst 40/40: <label> rx+N/tx+M, ...", as numbers per interface label.
 */
function parsePath(detail: string): {
  received: number;
  sent: number;
  d: Map<string, { rx: number; tx: number }>;
} {
  const head = /burst (\d+)\/(\d+): (.*)$/.exec(detail);
  const d = new Map<string, { rx: number; tx: number }>();
  for (const part of (head?.[3] ?? '').split(', ')) {
    const m = /^(.*) rx\+(-?\d+)\/tx\+(-?\d+)$/.exec(part);
    if (m) d.set(m[1]!, { rx: Number(m[2]), tx: Number(m[3]) });
  }
  return { received: Number(head?.[1] ?? 0), sent: Number(head?.[2] ?? 0), d };
}

/** Each failed check on one line, its detail cut short. */
function failedChecks(sections: Section[]): string {
  const lines = sections
    .flatMap((section) => [...section.checks.values()])
    .filter((c) => !c.ok)
    .map((c) => `FAILED ${c.name}: ${c.detail.slice(-600)}`);
  return lines.length > 0 ? lines.join('\n') : '(none reported: see the console above)';
}

/** The last warnings and errors of each kept log (pino JSON lines), newest last. */
function complaintsIn(dir: string): string {
  if (!existsSync(dir)) return '';
  const logs = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.log'),
  );
  let out = '';
  for (const file of logs.sort()) {
    const bad = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter(
        (line) => /"level":("(warn|error|fatal)"|[456]0\b)/.test(line) || /^\S*Error/.test(line),
      )
      .slice(-6);
    if (bad.length > 0)
      out += `--- ${file}: last warnings and errors ---\n${bad.map((l) => l.slice(0, 500)).join('\n')}\n`;
  }
  return out;
}

if (!gate.run && gate.required) {
  describe('VM tier', () => {
    test('is required here (CI=true or TERWAY_VM_REQUIRED=1) but cannot run', () => {
      throw new Error(`the VM tier cannot run here: ${gate.reason}`);
    });
  });
} else if (!gate.run) {
  describe('VM tier', () => {
    test.skip(`SKIPPED, ipvlan smoke and datapath tests: ${gate.reason}`, () => undefined);
  });
} else {
  let run: VmRunResult;
  let smoke: Section;
  let dp: Section;
  let workdir: string;

  beforeAll(async () => {
    const started = Date.now();
    const fast = prepareFastCommands();
    workdir = mkdtempSync(join(tmpdir(), 'terway-vm-datapath-'));
    run = await runInVm({
      command: ['bash', join(REPO_ROOT, 'test/vm/fixtures/vm-suite.sh')],
      env: { TERWAY_VM_BUNDLES: fast.dir, TERWAY_VM_KEEP: join(workdir, 'lab-logs') },
      workdir,
      timeoutMs: VM_TIMEOUT_MS,
      // A run takes minutes: show each check as it ends.
      onConsole: (() => {
        let pending = '';
        return (chunk: string) => {
          pending += chunk;
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) {
            if (line.startsWith('CHECK\t')) process.stderr.write(`vm: ${line.slice(0, 200)}\n`);
          }
        };
      })(),
    });
    const [datapathOut, smokeOut = ''] = run.output.split(/^SMOKE-BEGIN$/m);
    dp = parseSection(datapathOut ?? '', 'DATAPATH-DONE');
    smoke = parseSection(smokeOut, 'SMOKE-DONE');
    const t = run.timings;
    process.stderr.write(
      `vm tier: ipvlan smoke + datapath: exit ${run.exitCode}; bundles ${fast.ms} ms; ` +
        `boot-to-command ${t.bootToCommandMs} ms, command ${t.commandMs} ms, VM total ${t.totalMs} ms, ` +
        `test wall ${Date.now() - started} ms; cpu ${dp.info.get('cpu') ?? '?'}\n`,
    );
    if (run.exitCode !== 0) {
      // Everything a reader needs to see why, in the test log; the lab's logs stay on disk. What
      // failed comes last, where a log clipped in the middle still shows it.
      const keptLogs = join(workdir, 'lab-logs');
      process.stderr.write(
        `--- VM console ---\n${run.console}\n--- run.sh ---\n${run.log}\n` +
          `--- the lab's logs (terwayd, supervisor) are kept in ${keptLogs} ---\n` +
          complaintsIn(keptLogs) +
          `--- failed checks ---\n${failedChecks([smoke, dp])}\n`,
      );
    }
  }, VM_TIMEOUT_MS + 360_000);

  afterAll(() => {
    if (workdir !== undefined && run?.exitCode === 0)
      rmSync(workdir, { recursive: true, force: true });
  });

  const expectOk = (section: () => Section, ...names: string[]) => {
    for (const name of names) {
      const c = section().checks.get(name);
      expect({ name, ran: c !== undefined, ok: c?.ok, detail: c?.detail }).toEqual({
        name,
        ran: true,
        ok: true,
        detail: expect.any(String),
      });
    }
  };
  const detail = (name: string) => dp.checks.get(name)?.detail ?? '';
  /** The path check `name` saw the whole burst on `on` (both ways) and nothing much on `off`. */
  const expectPath = (name: string, on: RegExp[], off: RegExp[]) => {
    expectOk(() => dp, name);
    const p = parsePath(detail(name));
    expect(p.sent).toBe(BURST);
    expect(p.received).toBeGreaterThanOrEqual(BURST / 2);
    const find = (re: RegExp) => {
      const hit = [...p.d.entries()].find(([label]) => re.test(label));
      expect({ label: re.source, found: hit !== undefined }).toEqual({
        label: re.source,
        found: true,
      });
      return hit![1];
    };
    for (const re of on) {
      const c = find(re);
      expect({ label: re.source, rx: c.rx >= p.received, tx: c.tx >= p.received }).toEqual({
        label: re.source,
        rx: true,
        tx: true,
      });
    }
    for (const re of off) {
      const c = find(re);
      expect({ label: re.source, ...c, quiet: c.rx + c.tx <= QUIET_MAX }).toMatchObject({
        quiet: true,
      });
    }
  };

  describe(`VM tier: ipvlan kernel parts ${ON_KERNEL} (ipvlan-smoke.sh)`, () => {
    test('the VM booted the kernel prepare.sh proved and ran the whole smoke script to its end', () => {
      expect(run.log).not.toMatch(/TIMEOUT|ERROR/);
      expect(smoke.info.get('kernel')).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
      expect(smoke.info.get('kernel')).toBe(preparedKernelRelease());
      // The host's own node, run inside the VM through the 9p root.
      expect(smoke.info.get('node')).toBe(process.version);
      expect(smoke.done).toEqual({ checks: smoke.checks.size, failed: 0 });
      expect(smoke.checks.size).toBeGreaterThanOrEqual(20);
      expectOk(() => smoke, 'in-vm-tier', 'ipvlan-module-loaded');
    });

    test('two ipvlan L2 slaves of one parent, moved into namespaces and renamed eth0', () => {
      expectOk(() => smoke, 'netns-add', 'netns-add-2', 'parent-up', 'ipvlan-add', 'ipvlan-add-2');
      expectOk(() => smoke, 'pod-a-setup', 'pod-b-setup');
      expectOk(() => smoke, 'pod-a-eth0-is-ipvlan-l2', 'pod-b-eth0-is-ipvlan-l2');
    });

    test('the two pods reach each other over ipvlan: ping both ways, then Node TCP', () => {
      expect(smoke.info.get('ping-a-to-b')).toMatch(/3 packets transmitted, 3 (packets )?received/);
      expectOk(() => smoke, 'ping-a-to-b', 'ping-b-to-a', 'node-tcp-a-to-b');
      expect(smoke.checks.get('node-tcp-a-to-b')?.detail).toContain('echo:ping');
    });

    test('tc clsact attaches to a veth and to an ipvlan slave, and cls_bpf loads', () => {
      expectOk(() => smoke, 'veth-add', 'veth-peer-to-pod', 'veth-up', 'tc-clsact-veth');
      expectOk(() => smoke, 'tc-clsact-veth-shown', 'tc-bpf-filter', 'tc-bpf-filter-shown');
      expectOk(() => smoke, 'tc-clsact-ipvlan-slave');
    });

    test("dummy devices, which this machine's kernel lacks, work in the VM", () => {
      expectOk(() => smoke, 'dummy-add');
    });

    test("terwayd's memory headroom reads a cgroup v2 limit, which this machine's v1 layout cannot show", () => {
      expectOk(() => smoke, 'memory-cgroup-v2-headroom');
    });
  });

  describe(`VM tier: a 2-node lab in ipvlan mode ${ON_KERNEL} (ipvlan-datapath.mjs)`, () => {
    test('the datapath script ran to its end inside the VM, every check passing', () => {
      expect(run.log).not.toMatch(/TIMEOUT/);
      expect(dp.info.get('kernel')).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
      expect(dp.done).toEqual({ checks: dp.checks.size, failed: 0 });
      expect(dp.checks.size).toBeGreaterThanOrEqual(50);
      expect(run.output).toMatch(/^SUITE-END smoke=0 datapath=0$/m);
      expect(run.exitCode).toBe(0);
    });

    test('the lab comes up with --driver ipvlan and terwayd maps every pod with the ipvlan driver', () => {
      expectOk(() => dp, 'in-vm-tier', 'fast-commands', 'lab-up');
      expectOk(() => dp, 'pod-add-a', 'pod-add-b', 'pod-add-c', 'pod-add-d');
      expectOk(() => dp, 'mapping-driver-ipvlan');
      // Four pods, each mapped by its own daemon with driver ipvlan on an ipvl_<ifindex> host link.
      expect(detail('mapping-driver-ipvlan').match(/driver=ipvlan host=ipvl_\d+/g)).toHaveLength(4);
      // least_ips on a fresh node: a and c share ENI A, b has ENI B.
      expectOk(() => dp, 'pods-spread-over-enis');
      expect(detail('pods-spread-over-enis')).toMatch(
        /^ENI A eni-\S+ holds a and c; ENI B eni-\S+ holds b/,
      );
    });

    test("pod and node side have DATAPATH.md's shape", () => {
      expectOk(() => dp, 'datapath-shape');
      expect(detail('datapath-shape')).toMatch(
        /a eth0 ipvlan l2 10\.99\.\d+\.\d+\/16, default via 10\.99\.255\.253 onlink, \S+ PERMANENT/,
      );
      expect(detail('datapath-shape')).toMatch(
        /ipvl_\d+@eth\d and ipvl_\d+@eth\d NOARP \S+\/32 scope host/,
      );
    });

    test('scenario 1, node -> pod on the same node: through ipvl_x, not out of the ENI or its VPC port', () => {
      expectOk(() => dp, 's1-ping', 's1-tcp');
      expect(detail('s1-tcp')).toMatch(/-> "pong a hello-from-/);
      expectPath(
        's1-path',
        [/^ipvl_\d+$/, /^a:eth0$/],
        [/^ENI eth\d$/, /^VPC port A /, /^node eth0 port /],
      );
    });

    test('scenario 2, pod -> pod on the same ENI: switched inside the ipvlan parent, not on ipvl_x nor the VPC port', () => {
      expectOk(() => dp, 's2-ping', 's2-tcp');
      expect(detail('s2-tcp')).toMatch(/-> "pong c hello-from-/);
      expectPath(
        's2-path',
        [/^a:eth0$/, /^c:eth0$/],
        [/^ipvl_\d+$/, /^ENI eth\d$/, /^VPC port A /],
      );
    });

    test("scenario 3, pod -> pod on different ENIs: out of one ENI's VPC port and in through the other's", () => {
      expectOk(() => dp, 's3-ping', 's3-tcp');
      expect(detail('s3-tcp')).toMatch(/-> "pong b hello-from-/);
      expectPath(
        's3-path',
        [/^a:eth0$/, /^b:eth0$/, /^VPC port A /, /^VPC port B /],
        [/^ipvl_\d+$/, /^node eth0 port /],
      );
      // Not just "some" traffic: both host-side slaves stayed out of it.
      expect(
        [...parsePath(detail('s3-path')).d.keys()].filter((l) => /^ipvl_/.test(l)),
      ).toHaveLength(2);
    });

    test('scenario 4, pod -> pod on different nodes: ENI -> VPC -> ENI', () => {
      expectOk(() => dp, 's4-ping', 's4-tcp');
      expect(detail('s4-tcp')).toMatch(/-> "pong d hello-from-/);
      expectPath(
        's4-path',
        [/^VPC port A /, /^VPC port D /, /^d:eth0$/],
        [/^node-1 ipvl_/, /^node-2 ipvl_/],
      );
    });

    test('CNI CHECK passes, then names the drift; DEL twice succeeds and leaves nothing behind', () => {
      expectOk(() => dp, 'cni-check-passes', 'cni-check-names-drift');
      expect(detail('cni-check-passes')).toContain('lab pod check node-2 d: ok');
      expect(detail('cni-check-names-drift')).toMatch(
        /exit [1-9]\d*: route default via 10\.99\.255\.253 dev eth0 is missing/,
      );
      expectOk(() => dp, 'cni-del-once', 'cni-del-twice', 'cni-del-leaves-nothing');
      expect(detail('cni-del-leaves-nothing')).toMatch(
        /only lo; node-2 has no \S+ route and no twt\* link/,
      );
    });

    test('a restarted terwayd puts back a pod route deleted behind its back, leaving the pods alone', () => {
      expectOk(() => dp, 'resync-route-deleted', 'daemon-stopped', 'daemon-restarted');
      expect(detail('daemon-restarted')).toMatch(/serving \d+ ms after start; resynced 3 pods/);
      expectOk(
        () => dp,
        'resync-route-back',
        'resync-pods-untouched',
        'resync-traffic',
        'resync-mapping',
      );
      expect(detail('resync-route-back')).toMatch(/dev ipvl_\d+ scope link is back/);
      expect(detail('resync-pods-untouched')).toMatch(
        /^pod eth0 ifindexes unchanged: \{"a":\d+,"b":\d+,"c":\d+\}$/,
      );
      expect(dp.info.get('pod-eth0-ifindex-before')).toBe(
        detail('resync-pods-untouched').replace('pod eth0 ifindexes unchanged: ', ''),
      );
      // Traffic to b flows again, node -> b back through its ENI's ipvl_x.
      const p = parsePath(detail('resync-traffic').replace(/^.*node -> b path again: /, ''));
      const ipvl = [...p.d.entries()].find(([label]) => /^ipvl_\d+$/.test(label))?.[1];
      expect(ipvl?.tx).toBeGreaterThanOrEqual(p.received);
      expect(p.received).toBeGreaterThanOrEqual(BURST / 2);
      expect(detail('resync-mapping')).toMatch(/driver ipvlan/);
    });

    test('lab down removes everything, the restarted daemon and the Service LB pins included', () => {
      expectOk(() => dp, 'lab-down', 'restarted-daemon-stopped', 'nothing-left');
      expect(detail('lab-down')).toMatch(/deleted pod d on node-2 .*is down/);
      expect(detail('nothing-left')).toMatch(/no \/sys\/fs\/bpf\/\S+-\* pin dir left/);
    });
  });

  describe(`VM tier: the Service LB in ipvlan mode ${ON_KERNEL}, DATAPATH.md scenarios 5-7 (service-lb.mjs)`, () => {
    const ipOf = (pod: string) =>
      (JSON.parse(dp.info.get(`pod-${pod}`) ?? '{}') as { ip?: string }).ip ?? `<no ${pod}>`;
    const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const enis = () =>
      JSON.parse(dp.info.get('node-1-enis') ?? '{}') as Record<'A' | 'B', { link: string }>;

    test("node-1's services file reaches its maps; ipvlan pods carry the L2 egress program", () => {
      expectOk(() => dp, 'lb-services-programmed', 'lb-programs-on-pod-eth0', 'lb-agents');
      for (const ip of ['10.96.5.1', '10.96.6.1', '10.96.7.1', '10.96.9.1']) {
        expect(detail('lb-services-programmed')).toContain(`${ip}:80/TCP -> `);
        expect(detail('lb-services-programmed')).toContain(`${ip}:53/UDP -> `);
      }
      // ipvlan is an L2 driver: tw_lb_egress (with the next-hop fix), never the _gw variant.
      expect(detail('lb-programs-on-pod-eth0')).toContain(
        'a (node-1) eth0: egress tw_lb_egress, ingress tw_lb_ingress; ' +
          'd (node-2) eth0: egress tw_lb_egress, ingress tw_lb_ingress; ',
      );
      // Debian's 6.1 has no bpf_cast_to_kern_ctx: terwayd loads the compat build, and says why.
      expect(detail('lb-programs-on-pod-eth0')).toContain(
        'node-1 loaded lb-compat.o (compat: the kernel has no bpf_cast_to_kern_ctx (Linux before 6.3))',
      );
    });

    test.each([
      { scenario: 's5', clusterIP: '10.96.5.1', backend: 'c', where: "on the client's ENI" },
      { scenario: 's6', clusterIP: '10.96.6.1', backend: 'b', where: 'on the other ENI' },
      { scenario: 's7', clusterIP: '10.96.7.1', backend: 'd', where: 'on the other node' },
    ])(
      'scenario $scenario, backend $where: TCP and UDP answered by $backend, which sees the client pod; no capture shows the ClusterIP; the flow map names $backend',
      ({ scenario, clusterIP, backend }) => {
        expectOk(() => dp, `${scenario}-lb-reply`, `${scenario}-lb-capture`, `${scenario}-lb-flow`);
        const client = esc(ipOf('a'));
        const ip = esc(clusterIP);
        const backendIp = esc(ipOf(backend));
        expect(detail(`${scenario}-lb-reply`)).toMatch(
          new RegExp(
            `TCP ${ip}:80 from a:\\d+ answered by ${backend} \\(${backendIp}:8080\\) seeing peer ${client}:\\d+, socket peer ${ip}:80; ` +
              `UDP ${ip}:53 answered by ${backend} seeing ${client}, reply from ${ip}:53$`,
          ),
        );
        const capture = detail(`${scenario}-lb-capture`);
        expect(capture).toMatch(new RegExp(`^no ${ip} in any capture; `));
        expect(capture).toMatch(new RegExp(`client a [1-9]\\d* pkts a<->${backend} on eth0`));
        expect(capture).toMatch(
          new RegExp(`backend ${backend} [1-9]\\d* pkts a<->${backend} on eth0`),
        );
        const { A, B } = enis();
        if (scenario === 's5') {
          // Switched inside ENI A's ipvlan parent, as scenario 2: node-1 never sees it.
          expect(capture).toMatch(/node-1 0 pkts a<->c(;|$)/);
        } else if (scenario === 's6') {
          // Out of ENI A and back in through ENI B, as scenario 3.
          const on = /node-1 [1-9]\d* pkts a<->b on (\S+?)(;|$)/.exec(capture)?.[1]?.split(',');
          expect(on).toEqual(expect.arrayContaining([A.link, B.link]));
        } else {
          // ENI -> VPC -> ENI, as scenario 4: both nodes see pod IPs, never the ClusterIP.
          expect(capture).toMatch(new RegExp(`node-1 [1-9]\\d* pkts a<->d on \\S*${esc(A.link)}`));
          expect(capture).toMatch(/node-2 [1-9]\d* pkts a<->d on /);
        }
        for (const [proto, port, target] of [
          ['TCP', 80, 8080],
          ['UDP', 53, 5353],
        ] as const) {
          expect(detail(`${scenario}-lb-flow`)).toMatch(
            new RegExp(
              `${proto} ${client}:\\d+ -> ${ip}:${port} => ${backendIp}:${target} \\(id \\d+, \\w+, [1-9]\\d* pkts\\)`,
            ),
          );
        }
      },
    );

    test('terway-cli show flows, through the restarted terwayd, names each scenario’s Service, backend and pods', () => {
      expectOk(() => dp, 'lb-cli-flows');
      for (const { scenario, backend } of [
        { scenario: 's5', backend: 'c' },
        { scenario: 's6', backend: 'b' },
        { scenario: 's7', backend: 'd' },
      ]) {
        // d is on node-2: node-1's daemon knows no pod behind its address.
        const where = backend === 'd' ? 'not on node-1' : backend;
        for (const [proto, target] of [
          ['TCP', 8080],
          ['UDP', 5353],
        ] as const) {
          expect(detail('lb-cli-flows')).toContain(
            `${scenario} ${proto} default/svc-${scenario} => ${ipOf(backend)}:${target} (${where})`,
          );
        }
      }
    });

    test('a direct connection from a port a ClusterIP flow holds towards its backend leaves from a moved port, and terway-cli lists it', () => {
      expectOk(() => dp, 'lb-direct-moved');
      expect(detail('lb-direct-moved')).toMatch(
        /answered by c; a:33100 -> [\d.]+:8080 answered by c, which saw port 6\d{4}; terway-cli: direct [\d.]+:8080 sent as :6\d{4}$/,
      );
    });

    test('one Service over all three backends: many connections use every backend, each connection one', () => {
      expectOk(() => dp, 'lb-spread');
      const counts = /: b (\d+), c (\d+), d (\d+);/.exec(detail('lb-spread'));
      expect(
        counts
          ?.slice(1)
          .map(Number)
          .every((n) => n > 0),
      ).toBe(true);
    });

    test('the restarted terwayd follows the services file: a backend marked not ready gets no new flow, its established connection keeps working', () => {
      expectOk(() => dp, 'lb-drain');
      const m =
        /on (\w); \1 marked not ready, .*: ([\w,!]+); the established one answered by (\w+)$/.exec(
          detail('lb-drain'),
        );
      expect(m?.[3]).toBe(m?.[1]);
      expect(m?.[2]?.split(',')).not.toContain(m?.[1]);
    });

    test('scaled to zero: TCP connect and a connected UDP socket are refused at once', () => {
      expectOk(() => dp, 'lb-scaled-to-zero');
      expect(detail('lb-scaled-to-zero')).toMatch(
        /with no endpoints .*: TCP ECONNREFUSED in \d+ ms, UDP ECONNREFUSED in \d+ ms$/,
      );
    });
  });
}
