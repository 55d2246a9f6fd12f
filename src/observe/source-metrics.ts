/**
 * The health of the Service LB's desired-state source, read at each scrape: the Kubernetes
 * informers (listed, failing, restarts, lists) or the services file (whether its content is in
 * effect). A source that stops delivering leaves the maps as they were, which no other metric
 * shows: every frontend would still read as programmed.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What these metrics read of one informer (InformerStatus, structurally). */
export interface InformerFigures {
  readonly resource: string;
  readonly listed: boolean;
  readonly lists: number;
  readonly restarts: number;
  /** The last list or watch failed and nothing has succeeded since. */
  readonly failing: boolean;
  /** Why the last list or watch failed. */
  readonly lastError: string | undefined;
}

/** What these metrics read of the cluster source (InformerSource, structurally). */
export interface InformerReadout {
  status(): { readonly informers: readonly InformerFigures[] };
}

/** What these metrics read of the standalone source (ServicesFileSource, structurally). */
export interface ServicesFileReadout {
  /** Why the file's current content is not in effect; undefined when it is. */
  currentError(): string | undefined;
}

export function registerInformerMetrics(registry: Registry, source: InformerReadout): void {
  const each = (report: (informer: InformerFigures) => void) => {
    for (const informer of source.status().informers) report(informer);
  };
  new Gauge({
    name: 'terway_k8s_informer_listed',
    help: "1 once the informer's first list reached the load balancer; 0 before",
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      each(({ resource, listed }) => this.set({ resource }, listed ? 1 : 0));
    },
  });
  new Gauge({
    name: 'terway_k8s_informer_failing',
    help:
      '1 while the last list or watch failed and nothing has succeeded since (it retries with ' +
      'backoff, and the log says why); 0 once a list or an event comes through',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      each(({ resource, failing }) => this.set({ resource }, failing ? 1 : 0));
    },
  });
  new Counter({
    name: 'terway_k8s_informer_restarts_total',
    help: 'Informer restarts after a failed list or watch',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      this.reset();
      each(({ resource, restarts }) => this.inc({ resource }, restarts));
    },
  });
  new Counter({
    name: 'terway_k8s_informer_lists_total',
    help:
      'List calls the informer made: the first, its retries after a failure, and one after each ' +
      'expired watch (410 Gone)',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      this.reset();
      each(({ resource, lists }) => this.inc({ resource }, lists));
    },
  });
}

export function registerServicesFileMetrics(registry: Registry, source: ServicesFileReadout): void {
  new Gauge({
    name: 'terway_services_file_rejected',
    help:
      "1 while the services file's content is not in effect (unreadable, or not valid Services " +
      'and EndpointSlices): the last good state stays programmed and the log says why; 0 when it is',
    registers: [registry],
    collect() {
      this.set(source.currentError() === undefined ? 0 : 1);
    },
  });
}
