/**
 * A list call that hands the informer the objects as the apiserver sent them, the way client-node's
 * Watch already delivers watch events. The generated API's list (listServiceForAllNamespaces and
 * the like) parses the JSON and then runs every object through client-node's ObjectSerializer,
 * which walks each field of each object into model classes. In a 10,000-Service initial sync,
 * profiled here, that walk took about a third of the CPU samples, and collecting the garbage it
 * left much of another quarter. Nothing downstream needs the classes: the translation reads fields
 * that raw JSON and the models spell alike.
 *
 * Same transport as the Watch: node-fetch with the kubeconfig's TLS, auth and proxy settings. Each
 * page's objects lose their managedFields before they are parsed (managed-fields.ts says why).
 */
import { STATUS_CODES } from 'node:http';

import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import fetch from 'node-fetch';

import { TerwayError } from '../errors/terway-error.js';
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
      for (const item of page.items) items.push(project(item));
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
  return {
    metadata: { resourceVersion: page.metadata.resourceVersion ?? '' },
    items: page.items.map(project),
  };
}

interface ListPage {
  readonly metadata: { resourceVersion?: string; continue?: string };
  readonly items: readonly unknown[];
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
  const body = await response.text();
  if (response.status !== 200) {
    const reason = response.statusText || STATUS_CODES[response.status] || 'error';
    throw new ListHttpError(`HTTP ${response.status} ${reason}`, response.status, body);
  }
  return pageOf(body, path);
}

function pageOf(body: string, path: string): ListPage {
  let list: unknown;
  try {
    list = JSON.parse(withoutManagedFields(body));
  } catch (error) {
    throw new TerwayError('KUBERNETES_ERROR', `list of ${path}: the response is not JSON`, {
      cause: error,
    });
  }
  const { items, metadata } = (list ?? {}) as { items?: unknown; metadata?: unknown };
  if (!Array.isArray(items) || typeof metadata !== 'object' || metadata === null) {
    throw new TerwayError('KUBERNETES_ERROR', `list of ${path}: the response is not a list`);
  }
  return list as ListPage;
}
