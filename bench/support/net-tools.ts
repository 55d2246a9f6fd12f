/** What the network tools the benchmarks run print, read back as figures. */

export interface RoundTrip {
  p50Us: number;
  p99Us: number;
}

/** sockperf's "---> percentile 50.000 =   18.214" lines, µs (full round trip). */
export function parseSockperf(out: string): RoundTrip {
  const at = (p: string): number => {
    const match = new RegExp(`percentile ${p.replace('.', '\\.')} =\\s*([\\d.]+)`).exec(out);
    if (match?.[1] === undefined) throw new Error(`sockperf printed no ${p} percentile:\n${out}`);
    return Number(match[1]);
  };
  return { p50Us: at('50.000'), p99Us: at('99.000') };
}

export interface Stream {
  gbps: number;
  retransmits: number;
}

/** iperf3 -J: the received rate, and the sender's retransmits. */
export function parseIperf3(out: string): Stream {
  const json = JSON.parse(out) as {
    end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } };
  };
  return {
    gbps: json.end.sum_received.bits_per_second / 1e9,
    retransmits: json.end.sum_sent.retransmits ?? 0,
  };
}
