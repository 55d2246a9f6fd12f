/**
 * A list call that hands the informer the objects as the apiserver sent them, the way client-node's
 * Watch already delivers watch events. The generated API's list (listServiceForAllNamespaces and
 * the like) parses the JSON and then runs every object through client-node's ObjectSerializer,
 * which walks each field of each object into model classes. In a 10,000-Service initial sync,
 * profiled here, that walk took about a third of the CPU samples, and collecting the garbage it
 * left much of another quarter. Nothing downstream needs the classes: the translation reads fields
 * that raw JSON and the models spell alike.
 *
 * Same transport as the Watch: node-fetch with the kubeconfig's TLS, auth and proxy settings. A
 * page's items are parsed one at a time, each as it is projected (list-items.ts says why), and
 * each loses its managedFields before it is parsed (managed-fields.ts says why).
 */
import { STATUS_CODES } from 'node:http';

import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import fetch from 'node-fetch';

import { TerwayError } from '../errors/terway-error.js';
import { splitListItems } from './list-items.js';
import { withoutManagedFields } from './managed-fields.js';

/**
 * What a failed list throws: the generated API's ApiException shape (a numeric `code` and the
 * response body), so describeKubernetesError words it as before.
 */
export class ListHttpError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly body: string,
  ) {
    super(message);
    this.name = 'ListHttpError';
  }
}

/**
 * Items per list request. client-go's reflector pages its initial lists the same way (500): the
 * apiserver serves a page from one consistent snapshot without building the whole response, and
 * this process parses one page at a time instead of one body of every object in the cluster.
 */
export const DEFAULT_LIST_PAGE_SIZE = 500;

/**
 * `path` is the collection's URL path, e.g. /api/v1/services. Every item goes through `project`
 * as its page arrives, so the full objects of one page at most are alive at a time.
 *
 * Paged with `limit` and `continue`, all pages from the first page's snapshot. If the apiserver
 * has compacted that snapshot away before the last page (410 on a continue request), the list
 * starts over as one unpaged request, as client-go's pager does: a consistent result matters
 * more than the memory it saves.
 */
export function rawLister<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  project: (raw: unknown) => T,
  pageSize: number = DEFAULT_LIST_PAGE_SIZE,
): () => Promise<KubernetesListObject<T>> {
  return async () => {
    const items: T[] = [];
    let page = await fetchPage(kubeConfig, path, { limit: pageSize });
    const resourceVersion = page.metadata.resourceVersion ?? '';
    for (;;) {
      projectInto(items, page, project);
      const token = page.metadata.continue;
      if (token === undefined || token === '') break;
      try {
        page = await fetchPage(kubeConfig, path, { limit: pageSize, continue: token });
      } catch (error) {
        if (!(error instanceof ListHttpError) || error.code !== HTTP_GONE) throw error;
        return unpaged(kubeConfig, path, project);
      }
    }
    return { metadata: { resourceVersion }, items };
  };
}

const HTTP_GONE = 410;

async function unpaged<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  project: (raw: unknown) => T,
): Promise<KubernetesListObject<T>> {
  const page = await fetchPage(kubeConfig, path, {});
  const items: T[] = [];
  projectInto(items, page, project);
  return { metadata: { resourceVersion: page.metadata.resourceVersion ?? '' }, items };
}

/** Appends the page's items to `items`, each parsed and projected in turn (see ListPage.item). */
function projectInto<T>(items: T[], page: ListPage, project: (raw: unknown) => T): void {
  for (let index = 0; index < page.count; index++) items.push(project(page.item(index)));
}

interface ListPage {
  readonly metadata: { resourceVersion?: string; continue?: string };
  readonly count: number;
  /** Item `index` (0 ≤ index < count), parsed when asked for: each once, in order. */
  item(index: number): unknown;
}

async function fetchPage(
  kubeConfig: KubeConfig,
  path: string,
  params: { limit?: number; continue?: string },
): Promise<ListPage> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new TerwayError('INVALID_CONFIG', 'the kubeconfig has no current cluster');
  const url = new URL(cluster.server + path);
  if (params.limit !== undefined && params.limit > 0) {
    url.searchParams.set('limit', String(params.limit));
  }
  if (params.continue !== undefined) url.searchParams.set('continue', params.continue);
  const init = await kubeConfig.applyToFetchOptions({});
  init.method = 'GET';
  const response = await fetch(url, init);
  // Bytes, not text: the items are decoded one at a time (pageOf).
  const body = await response.buffer();
  if (response.status !== 200) {
    const reason = response.statusText || STATUS_CODES[response.status] || 'error';
    throw new ListHttpError(`HTTP ${response.status} ${reason}`, response.status, body.toString());
  }
  return pageOf(body, path);
}

function pageOf(body: Buffer, path: string): ListPage {
  const split = splitListItems(body);
  // Not the shape an apiserver sends: parsed whole, for JSON.parse to read or to reject.
  const list = parsed(split?.rest ?? body.toString(), path);
  const { items, metadata } = (list ?? {}) as { items?: unknown; metadata?: unknown };
  if (!Array.isArray(items) || typeof metadata !== 'object' || metadata === null) {
    throw new TerwayError('KUBERNETES_ERROR', `list of ${path}: the response is not a list`);
  }
  const listMetadata = metadata as ListPage['metadata'];
  if (split === undefined) {
    return { metadata: listMetadata, count: items.length, item: (index) => items[index] };
  }
  const { spans } = split;
  return {
    metadata: listMetadata,
    count: spans.length / 2,
    item: (index) => parsed(body.toString('utf8', spans[2 * index], spans[2 * index + 1]), path),
  };
}

/** JSON text (a list, or one of its items) without its managedFields, parsed. */
function parsed(json: string, path: string): unknown {
  try {
    return JSON.parse(withoutManagedFields(json));
  } catch (error) {
    throw new TerwayError('KUBERNETES_ERROR', `list of ${path}: the response is not JSON`, {
      cause: error,
    });
  }
}
