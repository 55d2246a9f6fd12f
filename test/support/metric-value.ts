/** Reading metrics in tests: one series of a prom-client registry, or a scrape of terwayd. */
import { expect } from '@jest/globals';
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

/** `name{labels} value` lines of a text exposition, as a map from the series to its value. */
export function exposedSeries(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    found.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return found;
}

/** GETs a metrics URL as Prometheus would; it must answer 200 in the text exposition format. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return exposedSeries(await response.text());
}
