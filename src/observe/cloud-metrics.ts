/**
 * Prometheus metrics for cloud API calls. Registered on a caller-supplied Registry, never the
 * global one, so tests and several daemons in one process each count their own calls.
 */
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** Outcome of one attempt; every attempt is counted exactly once. */
export type CloudCallOutcome = 'ok' | 'throttled' | 'retried' | 'error';

/** ECS answers in tens of ms; a create plus SDK timeout can reach several seconds. */
const LATENCY_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Waiting for a token is usually nothing, or up to a minute when an API is held back. */
const WAIT_BUCKETS_SECONDS = [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface CloudMetrics {
  calls: Counter<'api' | 'outcome'>;
  latency: Histogram<'api'>;
  rateLimitWait: Histogram<'api'>;
}

export function createCloudMetrics(registry: Registry): CloudMetrics {
  return {
    calls: new Counter({
      name: 'terway_cloud_api_calls_total',
      help:
        'Cloud API attempts by outcome: ok; throttled (Throttling, retried); ' +
        'retried (another retryable failure, retried); error (the call gave up on this attempt)',
      labelNames: ['api', 'outcome'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'terway_cloud_api_latency_seconds',
      help: 'Latency of each cloud API attempt, failures included, rate-limit wait excluded',
      labelNames: ['api'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
    rateLimitWait: new Histogram({
      name: 'terway_cloud_api_rate_limit_wait_seconds',
      help: "Time an attempt waited for its API's node-local token bucket",
      labelNames: ['api'],
      buckets: WAIT_BUCKETS_SECONDS,
      registers: [registry],
    }),
  };
}
