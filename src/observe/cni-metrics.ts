/**
 * The CNI's calls into terwayd (AllocateIP for ADD, ReleaseIP for DEL, GetIPInfo for CHECK, ...):
 * how many, how they ended, how long they took. An ADD that waits for the pool to refill shows
 * here as a slow AllocateIP, and one that gave up as POOL_EXHAUSTED.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** `outcome`: OK, or the TerwayError code the call failed with. */
export type CallObserver = (method: string, outcome: string, seconds: number) => void;

/** From a warm pool's millisecond ADD to one that waited out a refill (the shim's deadline). */
const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

export function registerCniMetrics(registry: Registry): CallObserver {
  const requests = new Counter({
    name: 'terway_cni_requests_total',
    help: 'Calls from the CNI plugin by method and outcome (OK, or the error code it failed with)',
    labelNames: ['method', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'terway_cni_request_duration_seconds',
    help: 'How long terwayd took to answer a CNI plugin call, failures included',
    labelNames: ['method'],
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  });
  return (method, outcome, seconds) => {
    requests.inc({ method, outcome });
    duration.observe({ method }, seconds);
  };
}
