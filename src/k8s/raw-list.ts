/**
 * A list call that hands the informer the objects as the apiserver sent them, the way client-node's
 * Watch already delivers watch events. The generated API's list (listServiceForAllNamespaces and
 * the like) parses the JSON and then runs every object through client-node's ObjectSerializer,
 * which walks each field of each object into model classes. In a 10,000-Service initial sync,
 * profiled here, that walk took about a third of the CPU samples, and collecting the garbage it
 * left much of another quarter. Nothing downstream needs the classes: the translation reads fields
 * that raw JSON and the models spell alike.
 *
 * Same transport as the Watch: node-fetch with the kubeconfig's TLS, auth and proxy settings.
 */
import { STATUS_CODES } from 'node:http';

import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import fetch from 'node-fetch';

import { TerwayError } from '../errors/terway-error.js';

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

/** `path` is the collection's URL path, e.g. /api/v1/services. */
export function rawLister<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
): () => Promise<KubernetesListObject<T>> {
  return async () => {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new TerwayError('INVALID_CONFIG', 'the kubeconfig has no current cluster');
    const init = await kubeConfig.applyToFetchOptions({});
    init.method = 'GET';
    const response = await fetch(new URL(cluster.server + path), init);
    const body = await response.text();
    if (response.status !== 200) {
      const reason = response.statusText || STATUS_CODES[response.status] || 'error';
      throw new ListHttpError(`HTTP ${response.status} ${reason}`, response.status, body);
    }
    return listOf<T>(body, path);
  };
}

function listOf<T extends KubernetesObject>(body: string, path: string): KubernetesListObject<T> {
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch (error) {
    throw new TerwayError('KUBERNETES_ERROR', `list of ${path}: the response is not JSON`, {
      cause: error,
    });
  }
  const { items, metadata } = (list ?? {}) as { items?: unknown; metadata?: unknown };
  if (!Array.isArray(items) || typeof metadata !== 'object' || metadata === null) {
    throw new TerwayError('KUBERNETES_ERROR', `list of ${path}: the response is not a list`);
  }
  return list as KubernetesListObject<T>;
}
