/**
 * Lower bounds for the two cloud-facing benchmarks, computed from the same latencies and limits
 * the emulator is started with. Pure functions, unit-tested in test/unit/burst-bound.test.ts.
 */

/** The emulator's account-wide token bucket: starts full, refills continuously. */
export interface TokenBucketSpec {
  ratePerSecond: number;
  burst: number;
}

export interface BurstModel {
  /** Pod IPs wanted at once on an empty node. */
  pods: number;
  /** Private IPs one ENI can hold, its own primary included. */
  ipsPerEni: number;
  /** Secondary ENIs the instance may attach. */
  maxEnis: number;
  /** IPs one CreateNetworkInterface or AssignPrivateIpAddresses call may carry. */
  maxIpsPerCall: number;
  /** Response latency of CreateNetworkInterface. */
  createMs: number;
  /** Response latency of AttachNetworkInterface (the call, not the attach). */
  attachCallMs: number;
  /** Attaching → InUse, counted from the attach call's answer. */
  attachMs: number;
  /** Response latency of AssignPrivateIpAddresses. */
  assignMs: number;
  /** Response latency of DescribeNetworkInterfaces. */
  describeMs: number;
  /** The bucket every mutating call (create, attach, assign) takes a token from. */
  mutating: TokenBucketSpec;
}

export interface BurstBound {
  /** Earliest moment, from the first request, at which all `pods` IPs can be usable. */
  ms: number;
  enis: number;
  creates: number;
  attaches: number;
  assigns: number;
  /** When the last mutating call could get its token. */
  lastTokenMs: number;
}

/**
 * Hands out tokens of a bucket that starts full, in the order they are asked for and never
 * before they are asked for: token k (1-based) exists at max(0, k − burst) / rate.
 */
export class TokenSchedule {
  private taken = 0;
  private lastMs = 0;

  constructor(private readonly bucket: TokenBucketSpec) {
    if (!(bucket.ratePerSecond > 0) || !(bucket.burst >= 1)) {
      throw new Error(`a token bucket needs rate > 0 and burst >= 1: ${JSON.stringify(bucket)}`);
    }
  }

  /** Time at which the next token is granted to a call that is ready at `readyMs`. */
  take(readyMs: number): number {
    this.taken++;
    const exists = (Math.max(0, this.taken - this.bucket.burst) / this.bucket.ratePerSecond) * 1000;
    this.lastMs = Math.max(this.lastMs, readyMs, exists);
    return this.lastMs;
  }
}

/**
 * The earliest time ANY client could have N pod IPs usable on an empty node, under the given
 * API latencies and mutating-call token bucket. The model, per ENI (the emulator enforces each
 * step the same way ECS does):
 *
 *  1. CreateNetworkInterface carries up to `maxIpsPerCall` IPs, the ENI's own primary included
 *     (a secondary ENI's primary is handed to pods too). N IPs need ⌈N / ipsPerEni⌉ ENIs: no
 *     client can do with fewer, and more would only cost more calls.
 *  2. AttachNetworkInterface, once the create has returned. The ENI is Attaching for
 *     `attachMs`, then InUse.
 *  3. InUse is known only from a DescribeNetworkInterfaces sent once it is InUse, i.e. one
 *     `describeMs` later (one Describe can name every ENI, so this costs time, not tokens).
 *  4. IPs beyond what the create carried: AssignPrivateIpAddresses calls of up to
 *     `maxIpsPerCall`, all sent at once. ECS refuses them while the ENI is Attaching, so they
 *     go either before the attach or after InUse; either way they add `assignMs` to that ENI's
 *     chain, and after InUse is the choice that spends the bucket later, so this is it.
 *
 * Every mutating call takes one token when ECS admits it. Tokens go to all creates first, then
 * to the attaches in create order, then to the assigns: every ENI's chain is create → attach →
 * 2 s of waiting, so the ENI whose attach gets the last attach token finishes last whatever the
 * order, and creates-first makes that last attach token as early as the bucket allows; assigns
 * come seconds later, when the bucket has refilled. With the bucket's burst at least the number
 * of mutating calls (the benchmark's case) no call waits at all and the bound is the plain
 * chain: create + attach call + attach + describe (+ assign).
 */
export function burstLowerBound(model: BurstModel): BurstBound {
  if (model.pods <= 0) {
    return { ms: 0, enis: 0, creates: 0, attaches: 0, assigns: 0, lastTokenMs: 0 };
  }
  const enis = Math.ceil(model.pods / model.ipsPerEni);
  if (enis > model.maxEnis) {
    throw new Error(`${model.pods} pods need ${enis} ENIs; the instance allows ${model.maxEnis}`);
  }
  const ipsOf = (eni: number): number =>
    Math.min(model.ipsPerEni, model.pods - eni * model.ipsPerEni);
  const perCall = Math.min(model.maxIpsPerCall, model.ipsPerEni);
  const assignsOf = (eni: number): number =>
    Math.ceil(Math.max(0, ipsOf(eni) - perCall) / model.maxIpsPerCall);

  const tokens = new TokenSchedule(model.mutating);
  const ids = Array.from({ length: enis }, (_, eni) => eni);
  const created = ids.map(() => tokens.take(0) + model.createMs);
  const attachSent = ids.map((eni) => tokens.take(created[eni] ?? 0));
  // ECS acts on the attach when it answers it; the ENI is InUse `attachMs` after that.
  const inUseKnown = attachSent.map(
    (sent) => sent + model.attachCallMs + model.attachMs + model.describeMs,
  );

  let assigns = 0;
  let lastTokenMs = attachSent[enis - 1] ?? 0;
  const usable = ids.map((eni) => {
    const count = assignsOf(eni);
    let done = inUseKnown[eni] ?? 0;
    for (let i = 0; i < count; i++) {
      const sent = tokens.take(inUseKnown[eni] ?? 0);
      lastTokenMs = sent;
      done = Math.max(done, sent + model.assignMs);
    }
    assigns += count;
    return done;
  });
  return {
    ms: Math.max(...usable),
    enis,
    creates: enis,
    attaches: enis,
    assigns,
    lastTokenMs,
  };
}

export interface ClusterCallModel {
  nodes: number;
  podsPerNode: number;
  ipsPerEni: number;
  maxEnis: number;
  maxIpsPerCall: number;
}

export interface ClusterCallFloor {
  /** The fewest API calls one node needs to give `podsPerNode` pods an IP each. */
  perNode: { creates: number; attaches: number; assigns: number; describes: number };
  perNodeTotal: number;
  total: number;
}

/**
 * The fewest API calls a cluster needs to converge, whatever the client: per node, the ENIs
 * and assigns of burstLowerBound's model, plus one DescribeNetworkInterfaces to learn that they
 * are InUse (one call can name all of a node's ENIs). Start-up reads (instance type, existing
 * ENIs, vSwitch, security groups) are left out: a client could know them in advance. Under an
 * account-wide throttle of R calls/s, no client converges in less than `total` / R (less the
 * bucket's initial burst, which this floor ignores: a second at 50/s burst 50).
 *
 * Spending a further ENI instead of assigns never needs fewer calls: an ENI costs a create and
 * an attach, the IPs it would save cost at most that many assigns (e.g. 30 pods on 15-IP ENIs:
 * 2 creates + 2 attaches + 2 assigns, or 3 creates + 3 attaches, both 6 mutating calls).
 */
export function clusterCallFloor(model: ClusterCallModel): ClusterCallFloor {
  const enis = Math.ceil(model.podsPerNode / model.ipsPerEni);
  if (enis > model.maxEnis) {
    throw new Error(
      `${model.podsPerNode} pods need ${enis} ENIs; the instance allows ${model.maxEnis}`,
    );
  }
  const perCall = Math.min(model.maxIpsPerCall, model.ipsPerEni);
  let assigns = 0;
  for (let eni = 0; eni < enis; eni++) {
    const ips = Math.min(model.ipsPerEni, model.podsPerNode - eni * model.ipsPerEni);
    assigns += Math.ceil(Math.max(0, ips - perCall) / model.maxIpsPerCall);
  }
  const perNode = { creates: enis, attaches: enis, assigns, describes: enis > 0 ? 1 : 0 };
  const perNodeTotal = perNode.creates + perNode.attaches + perNode.assigns + perNode.describes;
  return { perNode, perNodeTotal, total: perNodeTotal * model.nodes };
}
