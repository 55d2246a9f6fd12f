/**
 * The Service LB's desired-state source, as one line for an operator: why it is not delivering,
 * or undefined while it is. terway-cli show services prints it above the frontends, which read the
 * same either way: the maps keep what the source last delivered.
 */
import type { InformerReadout, ServicesFileReadout } from './source-metrics.js';

export function servicesFileProblem(source: ServicesFileReadout): string | undefined {
  const error = source.currentError();
  return error === undefined
    ? undefined
    : `services file not applied, the last good state stays programmed: ${error}`;
}

/** Each informer whose last list or watch failed with nothing succeeding since, and why. */
export function informerProblem(source: InformerReadout): string | undefined {
  const failing = source
    .status()
    .informers.filter((informer) => informer.failing)
    .map(
      (informer) =>
        `${informer.resource} informer failing, retrying with backoff: ` +
        (informer.lastError ?? 'no reason recorded'),
    );
  return failing.length === 0 ? undefined : failing.join('; ');
}
