/**
 * Which LB build and clock terwayd loads: CONFIG_HZ from the kernel's config (plain or gzipped),
 * the jiffies constants it gives the programs, and the build chosen from the kernel's BTF.
 */
import { gzipSync } from 'node:zlib';

import { describe, expect, test } from '@jest/globals';

import {
  lbClockConstants,
  parseKernelHz,
  readKernelTick,
  type KernelTick,
} from '../../src/dataplane/bpf/kernel-clock.js';
import {
  compatObjectPath,
  KERN_CTX_KFUNC,
  planLbLoad,
  type LbObjectProbes,
} from '../../src/dataplane/bpf/lb-object.js';
import { thrownTerwayError } from '../support/thrown-terway-error.js';

const CONFIG = '#\n# Timer frequency\nCONFIG_HZ_250=y\nCONFIG_HZ=250\nCONFIG_SCHED_HRTICK=y\n';

describe('kernel tick', () => {
  test('CONFIG_HZ is read from a config text; absent or absurd values give null', () => {
    expect(parseKernelHz(CONFIG)).toBe(250);
    expect(parseKernelHz('CONFIG_HZ_1000=y\nCONFIG_HZ=1000\n')).toBe(1000);
    expect(parseKernelHz('CONFIG_HZ_250=y\n')).toBeNull();
    expect(parseKernelHz('CONFIG_HZ=0\n')).toBeNull();
    expect(parseKernelHz('CONFIG_HZ=99999\n')).toBeNull();
    expect(parseKernelHz('# CONFIG_HZ=250\n')).toBeNull();
  });

  test('/boot/config-<release> is preferred, /proc/config.gz is gunzipped, junk is skipped', () => {
    const files = new Map<string, Buffer>([
      ['/boot/config-6.1.0-9-amd64', Buffer.from('CONFIG_HZ=250\n')],
      ['/proc/config.gz', gzipSync('CONFIG_HZ=1000\n')],
    ]);
    const read = (path: string) => files.get(path) ?? null;
    expect(readKernelTick(read, '6.1.0-9-amd64')).toEqual({
      hz: 250,
      source: '/boot/config-6.1.0-9-amd64',
    });
    expect(readKernelTick(read, 'another-release')).toEqual({
      hz: 1000,
      source: '/proc/config.gz',
    });
    files.set('/proc/config.gz', Buffer.from('not gzip'));
    expect(readKernelTick(read, 'another-release')).toBeNull();
    expect(readKernelTick(() => null, 'x')).toBeNull();
  });

  test('the constants are the jiffy length and INITIAL_JIFFIES; no whole-ns tick, no constants', () => {
    expect(lbClockConstants({ hz: 250, source: 'x' })).toEqual({
      tw_jiffy_ns: 4_000_000n,
      // include/linux/jiffies.h: (unsigned long)(unsigned int)(-300 * HZ)
      tw_initial_jiffies: 4_294_892_296n,
    });
    expect(lbClockConstants({ hz: 1000, source: 'x' })).toEqual({
      tw_jiffy_ns: 1_000_000n,
      tw_initial_jiffies: 2n ** 32n - 300_000n,
    });
    expect(lbClockConstants({ hz: 300, source: 'x' })).toEqual({});
    expect(lbClockConstants(null)).toEqual({});
  });
});

const bpfErrorOf = (plan: () => unknown) => thrownTerwayError(plan, 'BPF_ERROR');

describe('LB build choice', () => {
  const tick: KernelTick = { hz: 250, source: '/proc/config.gz' };
  function probes(kernel: boolean | Error, files: string[] = []): LbObjectProbes {
    return {
      hasFunction: (name) => {
        if (kernel instanceof Error) throw kernel;
        return kernel && name === KERN_CTX_KFUNC;
      },
      fileExists: (path) => files.includes(path),
      kernelTick: () => tick,
      kernelRelease: () => '6.1.0-57-amd64',
    };
  }

  test('the compat build sits beside the main one', () => {
    expect(compatObjectPath('/opt/terway/bpf/lb.o')).toBe('/opt/terway/bpf/lb-compat.o');
  });

  test('a kernel with the kfunc gets lb.o, with the clock constants', () => {
    const plan = planLbLoad('/b/lb.o', probes(true));
    expect(plan).toMatchObject({ object: '/b/lb.o', build: 'kfunc' });
    expect(plan.constants).toEqual(lbClockConstants(tick));
    expect(plan.clock).toBe('jiffies (HZ=250 from /proc/config.gz)');
  });

  test('a kernel without it, or without readable BTF, gets lb-compat.o', () => {
    const older = planLbLoad('/b/lb.o', probes(false, ['/b/lb-compat.o']));
    expect(older).toMatchObject({ object: '/b/lb-compat.o', build: 'compat' });
    expect(older.buildReason).toContain('before 6.3');
    const noBtf = planLbLoad('/b/lb.o', probes(new Error('ENOENT'), ['/b/lb-compat.o']));
    expect(noBtf).toMatchObject({ object: '/b/lb-compat.o', build: 'compat' });
    expect(noBtf.buildReason).toContain('ENOENT');
  });

  test('without the tick, lb.o reads the coarse clock and lb-compat.o the monotonic one', () => {
    const noTick = (kernel: boolean): LbObjectProbes => ({
      ...probes(kernel, ['/b/lb-compat.o']),
      kernelTick: () => null,
    });
    expect(planLbLoad('/b/lb.o', noTick(true))).toMatchObject({
      build: 'kfunc',
      constants: {},
      clock: 'coarse clock (CONFIG_HZ not found in /boot or /proc/config.gz)',
    });
    expect(planLbLoad('/b/lb.o', noTick(false))).toMatchObject({
      build: 'compat',
      constants: {},
      clock: 'monotonic clock (CONFIG_HZ not found in /boot or /proc/config.gz)',
    });
    const hz300: LbObjectProbes = {
      ...probes(false, ['/b/lb-compat.o']),
      kernelTick: () => ({ hz: 300, source: '/boot/config-5.10.0-32-amd64' }),
    };
    expect(planLbLoad('/b/lb.o', hz300).clock).toBe(
      'monotonic clock (HZ=300 from /boot/config-5.10.0-32-amd64: its tick is not a whole number of ns)',
    );
  });

  test('a kernel before 5.10 is refused up front, naming what the node needs', () => {
    const onKernel = (kernelRelease: string): LbObjectProbes => ({
      ...probes(false, ['/b/lb-compat.o']),
      kernelRelease: () => kernelRelease,
    });
    for (const old of ['4.19.91-27.al7.x86_64', '5.4.0-150-generic', '5.9.16']) {
      expect(bpfErrorOf(() => planLbLoad('/b/lb.o', onKernel(old))).message).toBe(
        `the Service LB needs Linux 5.10 or later (its programs redirect with bpf_redirect_neigh), ` +
          `and this kernel is ${old}: run the node on a newer kernel, such as Alibaba Cloud Linux 3's`,
      );
    }
    for (const fine of ['5.10.134-16.al8.x86_64', '5.10.0-32-amd64', '6.18.44', 'custom-build']) {
      expect(planLbLoad('/b/lb.o', onKernel(fine)).build).toBe('compat');
    }
  });

  test('a compat build given by name is loaded as it is, whatever the kernel', () => {
    for (const kernel of [true, false]) {
      expect(planLbLoad('/b/lb-compat.o', probes(kernel))).toMatchObject({
        object: '/b/lb-compat.o',
        build: 'compat',
        buildReason: 'the compat build was given',
      });
    }
  });

  test('a kernel that needs the compat build, and a missing one, is a BPF_ERROR naming both', () => {
    const failure = bpfErrorOf(() => planLbLoad('/b/lb.o', probes(false)));
    expect(failure.message).toContain('/b/lb-compat.o');
    expect(failure.message).toContain(KERN_CTX_KFUNC);
  });
});
