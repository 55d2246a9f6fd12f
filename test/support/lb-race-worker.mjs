// One side of the LB programs' race test (test/netns/lb-program-race.test.ts): runs a pinned
// program on one frame per trial, each run starting as the other worker's does, on the other CPU.
// The two workers may run different programs (an egress program and the collector).
//
// workerData: { addonPath, programPath, role (0 or 1), frames (one per trial), arrivals
// (SharedArrayBuffer: an Int32 per trial, both workers add 1 and wait for 2), results
// (SharedArrayBuffer: Int32 × 4 per trial and role: retval, destination address, destination
// port, source port of the frame as the program left it), times (SharedArrayBuffer: BigInt64 × 2
// per trial and role: CLOCK_MONOTONIC ns before and after the run) }. Posts 'done'.
// Plain JavaScript so a worker runs it directly; every global it uses is imported.
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { hrtime } from 'node:process';
import { parentPort, workerData } from 'node:worker_threads';

const { addonPath, programPath, role, frames, arrivals, results, times } = workerData;
const ETH_HLEN = 14;
const IP_HLEN = 20;

const native = createRequire(import.meta.url)(addonPath);
const program = native.progOpenPinned(programPath);
const buffers = frames.map((frame) => Buffer.from(frame));
const arrived = new Int32Array(arrivals);
const seen = new Int32Array(results);
const clock = new BigInt64Array(times);
try {
  for (let trial = 0; trial < buffers.length; trial++) {
    Atomics.add(arrived, trial, 1);
    // A spin, not Atomics.wait: waking a sleeping thread takes tens of microseconds, far longer
    // than the runs whose overlap the test wants.
    while (Atomics.load(arrived, trial) < 2);
    const slot = trial * 2 + role;
    clock[slot * 2] = hrtime.bigint();
    const { retval, frame } = native.progTestRunFrame(program, buffers[trial]);
    clock[slot * 2 + 1] = hrtime.bigint();
    seen[slot * 4] = retval;
    // A packet's addresses; a frame too short for them (the collector's) leaves zeros.
    if (frame.length >= ETH_HLEN + IP_HLEN + 4) {
      seen[slot * 4 + 1] = frame.readUInt32BE(ETH_HLEN + 16);
      seen[slot * 4 + 2] = frame.readUInt16BE(ETH_HLEN + IP_HLEN + 2);
      seen[slot * 4 + 3] = frame.readUInt16BE(ETH_HLEN + IP_HLEN);
    }
  }
} finally {
  native.progClose(program);
}
parentPort.postMessage('done');
