/**
 * The VM tier's first test: ipvlan for real. This machine's kernel has no ipvlan, so one VM with
 * Debian's kernel boots (scripts/vm/run.sh) and runs test/vm/fixtures/ipvlan-smoke.sh there: two
 * ipvlan L2 slaves of eth0 in two pod namespaces, renamed eth0, ping between them, tc clsact on a
 * veth and a slave, and a Node TCP round trip. The assertions read the script's per-check lines
 * from the console, not just its exit code.
 *
 * One boot serves every assertion: a boot costs 5-15 s under TCG, and each `ip` call inside costs
 * 25-600 ms (10-20x native), so the timeouts are generous.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import type { VmRunResult } from './vm-runner.js';
import { REPO_ROOT, gateVmTier, runInVm } from './vm-runner.js';

const VM_TIMEOUT_MS = 300_000;
const gate = gateVmTier('test/vm/ipvlan-smoke.test.ts (ipvlan L2 slaves, netns ping, tc clsact)');

interface Check {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

/** Reads the fixture's "CHECK", "INFO" and "SMOKE-DONE" lines out of the command's output. */
function parse(output: string): {
  checks: Map<string, Check>;
  info: Map<string, string>;
  done?: { checks: number; failed: number };
} {
  const checks = new Map<string, Check>();
  const info = new Map<string, string>();
  let done: { checks: number; failed: number } | undefined;
  for (const line of output.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'CHECK' && f.length >= 4) {
      checks.set(f[1]!, { name: f[1]!, ok: f[2] === 'ok', ms: Number(f[3]), detail: f[4] ?? '' });
    } else if (f[0] === 'INFO' && f.length >= 3) {
      info.set(f[1]!, f[2]!);
    } else if (f[0] === 'SMOKE-DONE') {
      const n = (key: string) => Number(/=(\d+)/.exec(f.find((x) => x.startsWith(key)) ?? '')?.[1]);
      done = { checks: n('checks='), failed: n('failed=') };
    }
  }
  return { checks, info, done };
}

if (!gate.run && gate.required) {
  describe('VM tier', () => {
    test('is required here (CI=true or TERWAY_VM_REQUIRED=1) but cannot run', () => {
      throw new Error(`the VM tier cannot run here: ${gate.reason}`);
    });
  });
} else if (!gate.run) {
  describe('VM tier', () => {
    test.skip(`SKIPPED, ipvlan smoke test: ${gate.reason}`, () => undefined);
  });
} else {
  describe('VM tier: ipvlan on a Debian kernel, inside one QEMU boot', () => {
    let run: VmRunResult;
    let result: ReturnType<typeof parse>;

    beforeAll(async () => {
      const started = Date.now();
      run = await runInVm({
        command: ['bash', join(REPO_ROOT, 'test/vm/fixtures/ipvlan-smoke.sh')],
        timeoutMs: VM_TIMEOUT_MS,
      });
      result = parse(run.output);
      const t = run.timings;
      process.stderr.write(
        `vm tier: ipvlan smoke: exit ${run.exitCode}; boot-to-command ${t.bootToCommandMs} ms, ` +
          `command ${t.commandMs} ms, VM total ${t.totalMs} ms, test wall ${Date.now() - started} ms\n`,
      );
      if (run.exitCode !== 0) {
        // Everything a reader needs to see why, in the test log.
        process.stderr.write(`--- VM console ---\n${run.console}\n--- run.sh ---\n${run.log}\n`);
      }
    }, VM_TIMEOUT_MS + 60_000);

    const expectOk = (...names: string[]) => {
      for (const name of names) {
        const c = result.checks.get(name);
        expect({ name, ran: c !== undefined, ok: c?.ok, detail: c?.detail }).toEqual({
          name,
          ran: true,
          ok: true,
          detail: expect.any(String),
        });
      }
    };

    test("the VM booted Debian's kernel and ran the whole script to its end", () => {
      expect(run.log).not.toMatch(/TIMEOUT|ERROR/);
      expect(result.info.get('kernel')).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
      // The host's own node, run inside the VM through the 9p root.
      expect(result.info.get('node')).toBe(process.version);
      expect(result.done).toEqual({ checks: result.checks.size, failed: 0 });
      expect(result.checks.size).toBeGreaterThanOrEqual(20);
      expectOk('in-vm-tier', 'ipvlan-module-loaded');
      expect(run.exitCode).toBe(0);
    });

    test('two ipvlan L2 slaves of one parent, moved into namespaces and renamed eth0', () => {
      expectOk('netns-add', 'netns-add-2', 'parent-up', 'ipvlan-add', 'ipvlan-add-2');
      expectOk('pod-a-setup', 'pod-b-setup', 'pod-a-eth0-is-ipvlan-l2', 'pod-b-eth0-is-ipvlan-l2');
    });

    test('the two pods reach each other over ipvlan: ping both ways, then Node TCP', () => {
      expect(result.info.get('ping-a-to-b')).toMatch(
        /3 packets transmitted, 3 (packets )?received/,
      );
      expectOk('ping-a-to-b', 'ping-b-to-a', 'node-tcp-a-to-b');
      expect(result.checks.get('node-tcp-a-to-b')?.detail).toContain('echo:ping');
    });

    test('tc clsact attaches to a veth and to an ipvlan slave, and cls_bpf loads', () => {
      expectOk('veth-add', 'veth-peer-to-pod', 'veth-up', 'tc-clsact-veth', 'tc-clsact-veth-shown');
      expectOk('tc-bpf-filter', 'tc-bpf-filter-shown', 'tc-clsact-ipvlan-slave');
    });

    test("dummy devices, which this machine's kernel lacks, work in the VM", () => {
      expectOk('dummy-add');
    });
  });
}
