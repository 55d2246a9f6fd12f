/** Reading one series of a prom-client registry, as a scrape would show it. */
import type { Registry } from 'prom-client';

/**
 * The value of one series (a histogram's by its `_count` or `_sum` name); undefined when the
 * registry has no such series.
 */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric =
    registry.getSingleMetric(name) ?? registry.getSingleMetric(name.replace(/_(count|sum)$/, ''));
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  return values.find(
    (value) =>
      ((value as { metricName?: string }).metricName ?? name) === name &&
      wanted.every(([key, label]) => (value.labels as Record<string, unknown>)[key] === label),
  )?.value;
}
