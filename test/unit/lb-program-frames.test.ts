/**
 * The program benchmark's frames (bench/lb-program/frames.ts): its checks trust checksumsValid to
 * tell a correct rewrite from a broken one, so that must hold for the frames it builds.
 */
import { describe, expect, test } from '@jest/globals';

import {
  buildFrame,
  checksumsValid,
  frameAddresses,
  TCP_FLAGS,
  type FrameSpec,
} from '../../bench/lb-program/frames.js';

const TCP: FrameSpec = {
  protocol: 'TCP',
  src: '10.0.0.10',
  dst: '10.96.0.10',
  sport: 40000,
  dport: 80,
  tcpFlags: TCP_FLAGS.syn,
};
const UDP: FrameSpec = { ...TCP, protocol: 'UDP', tcpFlags: undefined };

describe('program benchmark frames', () => {
  test.each([TCP, UDP])(
    'a built $protocol frame carries its addresses and valid checksums',
    (spec) => {
      const frame = buildFrame(spec);
      expect(frameAddresses(frame)).toEqual({
        src: spec.src,
        dst: spec.dst,
        sport: spec.sport,
        dport: spec.dport,
      });
      expect(checksumsValid(frame)).toBe(true);
    },
  );

  test('the IPv4 header checksum is the one the kernel computes', () => {
    // Words 4500 0068 0000 4000 4006 0a00 000a 0a60 000a sum to d9e2, whose complement is 261d.
    const frame = buildFrame(TCP);
    expect(frame.readUInt16BE(14 + 10)).toBe(0x261d);
  });

  test.each([
    ['the destination address', 14 + 16],
    ['the destination port', 14 + 20 + 2],
    ['a payload byte', 14 + 20 + 20 + 5],
  ])('changing %s without its checksums is caught', (_what, offset) => {
    const frame = buildFrame(TCP);
    frame[offset] = (frame[offset] ?? 0) ^ 0x01;
    expect(checksumsValid(frame)).toBe(false);
  });

  test('a rewrite that fixes both checksums passes', () => {
    const rewritten = buildFrame({ ...TCP, dst: '10.0.0.20', dport: 8080 });
    expect(checksumsValid(rewritten)).toBe(true);
    expect(frameAddresses(rewritten).dst).toBe('10.0.0.20');
  });
});
