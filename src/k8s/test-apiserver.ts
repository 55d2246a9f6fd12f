/**
 * A Kubernetes apiserver for tests and benchmarks: Services and EndpointSlices over the real list/watch HTTP
 * protocol, on 127.0.0.1, no auth. Unmodified client-node informers talk to it. Plain http by
 * default; given a certificate, HTTPS, as every real apiserver speaks, so that the client's CA
 * verification and its bearer token over TLS are exercised too.
 *
 * What it models, because the informer source depends on it:
 * - One global resourceVersion (etcd's revision), increasing with every write of any kind.
 * - A bounded event history. A watch from a resourceVersion older than the history answers 200
 *   and then an ERROR event carrying a Status with code 410 "Expired", and ends the stream (as a
 *   real apiserver does); a list at such a resourceVersion answers HTTP 410.
 * - `?watch=true` streams newline-delimited WatchEvents; without a resourceVersion (or "0") it
 *   first replays the current objects as ADDED. `allowWatchBookmarks=true` gets periodic
 *   BOOKMARK events carrying the current resourceVersion; `timeoutSeconds` ends the stream.
 * - Items in a list carry no kind/apiVersion (as in a real List); watch objects do.
 * - Every stored object gets what a real apiserver adds: uid, creationTimestamp, resourceVersion
 *   and a managedFields entry listing the fields written (server-side field tracking).
 * - Paged lists: `limit` cuts a list into pages in key order (namespace/name), each but the last
 *   carrying `continue` and `remainingItemCount`; the later pages come from the first page's
 *   snapshot. A continue token whose resourceVersion is older than the history answers 410
 *   Expired, as after an etcd compaction.
 *
 * Test controls: create/update/remove objects, compactHistory(), dropWatches(),
 * failNextRequests(), sendBookmarks(), and a log of requests (with the credentials they carried).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { KubeConfig } from './kube-client.js';

export type ResourceName = 'services' | 'endpointslices';

interface ResourceType {
  readonly name: ResourceName;
  readonly kind: string;
  readonly listKind: string;
  readonly apiVersion: string;
  /** `/api/v1` or `/apis/<group>/<version>`. */
  readonly prefix: string;
}

const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    name: 'services',
    kind: 'Service',
    listKind: 'ServiceList',
    apiVersion: 'v1',
    prefix: '/api/v1',
  },
  {
    name: 'endpointslices',
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    apiVersion: 'discovery.k8s.io/v1',
    prefix: '/apis/discovery.k8s.io/v1',
  },
];

/** Every resource path this server answers: cluster-wide, namespaced, and one object. */
const RESOURCE_PATH =
  /^(\/api\/v1|\/apis\/discovery\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/(services|endpointslices)(?:\/([^/]+))?$/;

const DEFAULT_HISTORY_LIMIT = 1000;
const DEFAULT_NAMESPACE = 'default';

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  readonly type: EventType;
  readonly resource: ResourceName;
  readonly namespace: string;
  readonly resourceVersion: number;
  readonly object: K8sObject;
}

interface OpenWatch {
  readonly resource: ResourceName;
  readonly namespace: string | undefined;
  readonly bookmarks: boolean;
  readonly response: ServerResponse;
  readonly timeout: NodeJS.Timeout | undefined;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly watch: boolean;
  /** The Authorization header as received: nothing checks it, tests assert what reached here. */
  readonly authorization?: string;
}

/** PEM. The certificate must name IP 127.0.0.1 for a verifying client to accept it. */
export interface TestApiServerTls {
  readonly cert: string;
  readonly key: string;
  /** The CA that issued `cert`: what kubeConfig() and writeKubeconfig() trust unless told. */
  readonly ca?: string;
}

/** How kubeConfig() and writeKubeconfig() configure the client. */
export interface TestClientOptions {
  /** PEM CA the client trusts instead of the server's `tls.ca` (a wrong one, say). TLS only. */
  readonly caPem?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
}

export interface TestApiServerOptions {
  /** Events kept for watches to resume from; older resourceVersions get 410. */
  readonly historyLimit?: number;
  /** Send BOOKMARK events this often to watches that asked; 0 (default) = only sendBookmarks(). */
  readonly bookmarkIntervalMs?: number;
  /** Serve HTTPS with this certificate instead of plain http. */
  readonly tls?: TestApiServerTls;
}

/** The objects of one list at one resourceVersion, for the pages after the first. */
interface ListSnapshot {
  readonly resourceVersion: number;
  readonly items: readonly K8sObject[];
}

interface ContinuePosition {
  readonly snapshot: number;
  readonly offset: number;
}

/** Paged lists whose snapshot is kept; the oldest goes first. */
const MAX_LIST_SNAPSHOTS = 16;

/** What kube-apiserver answers a continue token whose revision etcd has compacted. */
const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can ' +
  'start a new list without the continue parameter.';

/** The field manager recorded for every write (real clients name themselves: kubectl, ...). */
const MANAGER = 'terway-test-client';

/** `object` without `keys`. */
function without(
  object: Record<string, unknown>,
  keys: readonly string[],
): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([key]) => !keys.includes(key)));
}

/** What the server assigns itself, so no client's managedFields entry owns it. */
const SERVER_ASSIGNED_METADATA = [
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'managedFields',
];

/**
 * The FieldsV1 set of an object: every field path as nested `f:<name>` keys, list items as
 * `i:<index>` (a real apiserver keys associative lists by their keys, `k:{...}`, and sets by
 * value, `v:...`; the size is what matters here, and it grows with the object the same way).
 */
function fieldsV1Of(value: unknown): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (Array.isArray(value)) {
    value.forEach((item, index) => (fields[`i:${index}`] = fieldsV1Of(item)));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) fields[`f:${key}`] = fieldsV1Of(item);
  } else {
    return {};
  }
  return Object.keys(fields).length === 0 ? {} : { '.': {}, ...fields };
}

/** Opaque to clients, as the real one is (base64 of JSON there too). */
function encodeContinueToken(position: ContinuePosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function decodeContinueToken(token: string): ContinuePosition | undefined {
  try {
    const { snapshot, offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      snapshot?: unknown;
      offset?: unknown;
    };
    if (!Number.isInteger(snapshot) || !Number.isInteger(offset) || (offset as number) < 0) {
      return undefined;
    }
    return { snapshot: snapshot as number, offset: offset as number };
  } catch {
    return undefined;
  }
}

interface PendingFailure {
  remaining: number;
  readonly status: number;
  readonly matches: (request: RecordedRequest) => boolean;
}

export class TestApiServer {
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly historyLimit: number;
  /** The CA a client trusts by default; undefined over plain http. */
  private readonly defaultCaPem: string | undefined;
  private readonly secure: boolean;
  private readonly objects = new Map<ResourceName, Map<string, K8sObject>>(
    RESOURCE_TYPES.map((type) => [type.name, new Map()]),
  );
  private history: HistoryEvent[] = [];
  private resourceVersion = 1;
  /** Watches from a resourceVersion below this get 410: the events after it are gone. */
  private oldestResumableVersion = 1;
  private readonly watches = new Set<OpenWatch>();
  /** Paged lists in progress: the state their first page was cut from, by snapshot id. */
  private readonly listSnapshots = new Map<number, ListSnapshot>();
  private nextSnapshotId = 1;
  private failures: PendingFailure[] = [];
  private readonly bookmarkTimer: NodeJS.Timeout | undefined;

  private constructor(server: Server, options: TestApiServerOptions) {
    this.server = server;
    this.historyLimit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    this.secure = options.tls !== undefined;
    this.defaultCaPem = options.tls?.ca;
    const { port } = server.address() as AddressInfo;
    this.url = `${this.secure ? 'https' : 'http'}://127.0.0.1:${port}`;
    const interval = options.bookmarkIntervalMs ?? 0;
    this.bookmarkTimer =
      interval > 0 ? setInterval(() => this.sendBookmarks(), interval) : undefined;
    this.bookmarkTimer?.unref();
  }

  static async start(options: TestApiServerOptions = {}): Promise<TestApiServer> {
    const server =
      options.tls === undefined
        ? createServer()
        : createHttpsServer({ cert: options.tls.cert, key: options.tls.key });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const instance = new TestApiServer(server, options);
    server.on('request', (request, response) => instance.handle(request, response));
    return instance;
  }

  async close(): Promise<void> {
    if (this.bookmarkTimer !== undefined) clearInterval(this.bookmarkTimer);
    this.dropWatches('close');
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- client configuration -------------------------------------------------------------

  /**
   * A kubeconfig for this server. Over http, client-node refuses the URL unless TLS checks are
   * off; over HTTPS the checks stay on, with the CA inline, as a real cluster's kubeconfig has it.
   */
  kubeConfig(options: TestClientOptions = {}): KubeConfig {
    const caData = this.caDataFor(options);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [
        caData === undefined
          ? { name: 'test', server: this.url, skipTLSVerify: true }
          : { name: 'test', server: this.url, skipTLSVerify: false, caData },
      ],
      users: [{ name: 'test', ...(options.token === undefined ? {} : { token: options.token }) }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
    return kubeConfig;
  }

  /** The same, as a kubeconfig file (`--kubeconfig`). */
  writeKubeconfig(path: string, options: TestClientOptions = {}): string {
    const caData = this.caDataFor(options);
    const document = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster:
            caData === undefined
              ? { server: this.url, 'insecure-skip-tls-verify': true }
              : { server: this.url, 'certificate-authority-data': caData },
        },
      ],
      users: [{ name: 'test', user: options.token === undefined ? {} : { token: options.token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    };
    writeFileSync(path, JSON.stringify(document, null, 2));
    return path;
  }

  /** Base64 PEM, as kubeconfigs carry it; undefined over plain http. */
  private caDataFor(options: TestClientOptions): string | undefined {
    if (!this.secure) {
      // A CA that would silently go unused hides a test that is not testing what it says.
      if (options.caPem !== undefined) throw new Error('caPem needs a TLS test apiserver');
      return undefined;
    }
    const pem = options.caPem ?? this.defaultCaPem;
    // Falling back to skipping verification would defeat the point of the TLS mode.
    if (pem === undefined) throw new Error('a TLS test apiserver needs tls.ca or caPem');
    return Buffer.from(pem).toString('base64');
  }

  // ---- objects ----------------------------------------------------------------------------

  currentResourceVersion(): number {
    return this.resourceVersion;
  }

  /** Stores a new object (kind Service or EndpointSlice); returns it as stored. */
  create(object: K8sObject): K8sObject {
    const type = typeOfKind(object.kind);
    const { namespace, name } = identity(object);
    const store = this.store(type.name);
    const key = `${namespace}/${name}`;
    if (store.has(key)) throw new Error(`${type.kind} ${key} already exists`);
    const stored = this.stamp(type, object, {
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    store.set(key, stored);
    this.record('ADDED', type, stored);
    return stored;
  }

  /** Replaces an existing object; uid and creationTimestamp are kept. */
  update(object: K8sObject): K8sObject {
    const type = typeOfKind(object.kind);
    const { namespace, name } = identity(object);
    const store = this.store(type.name);
    const key = `${namespace}/${name}`;
    const existing = store.get(key);
    if (existing === undefined) throw new Error(`${type.kind} ${key} does not exist`);
    const stored = this.stamp(type, object, {
      uid: existing.metadata?.uid ?? randomUUID(),
      creationTimestamp: existing.metadata?.creationTimestamp ?? '',
    });
    store.set(key, stored);
    this.record('MODIFIED', type, stored);
    return stored;
  }

  /** Creates or updates. */
  apply(object: K8sObject): K8sObject {
    const type = typeOfKind(object.kind);
    const { namespace, name } = identity(object);
    return this.store(type.name).has(`${namespace}/${name}`)
      ? this.update(object)
      : this.create(object);
  }

  remove(kind: string, namespace: string, name: string): void {
    const type = typeOfKind(kind);
    const store = this.store(type.name);
    const key = `${namespace}/${name}`;
    const existing = store.get(key);
    if (existing === undefined) throw new Error(`${type.kind} ${key} does not exist`);
    store.delete(key);
    // The DELETED event carries the last state, at the deletion's resourceVersion.
    this.resourceVersion += 1;
    const deleted = {
      ...existing,
      metadata: { ...existing.metadata, resourceVersion: String(this.resourceVersion) },
    };
    this.append({
      type: 'DELETED',
      resource: type.name,
      namespace,
      resourceVersion: this.resourceVersion,
      object: deleted,
    });
  }

  get(kind: string, namespace: string, name: string): K8sObject | undefined {
    return this.store(typeOfKind(kind).name).get(`${namespace}/${name}`);
  }

  // ---- fault injection --------------------------------------------------------------------

  /** Forgets every event: a watch from any resourceVersion older than now gets 410. */
  compactHistory(): void {
    this.history = [];
    this.oldestResumableVersion = this.resourceVersion;
  }

  /**
   * Ends every open watch. `error` (default) destroys the connection mid-stream, as a network
   * failure or an apiserver crash does; `close` ends the response cleanly, as a server-side
   * watch timeout does.
   */
  dropWatches(mode: 'error' | 'close' = 'error'): number {
    const dropped = [...this.watches];
    for (const watch of dropped) {
      this.forget(watch);
      if (mode === 'close') watch.response.end();
      else watch.response.socket?.destroy();
    }
    return dropped.length;
  }

  /** The next `count` requests (matching `filter`, if given) fail with `status` and a Status. */
  failNextRequests(
    count: number,
    status: number,
    filter: (request: RecordedRequest) => boolean = () => true,
  ): void {
    this.failures.push({ remaining: count, status, matches: filter });
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that asked for them. */
  sendBookmarks(): void {
    for (const watch of this.watches) {
      if (!watch.bookmarks) continue;
      const type = typeOfResource(watch.resource);
      this.writeEvent(watch.response, 'BOOKMARK', {
        kind: type.kind,
        apiVersion: type.apiVersion,
        metadata: { resourceVersion: String(this.resourceVersion) },
      });
    }
  }

  openWatches(resource?: ResourceName): number {
    return [...this.watches].filter(
      (watch) => resource === undefined || watch.resource === resource,
    ).length;
  }

  /** Requests for `resource` so far: lists and watches separately. */
  requestCounts(resource: ResourceName): { lists: number; watches: number } {
    const matching = this.requests.filter((request) => request.path.endsWith(`/${resource}`));
    return {
      lists: matching.filter((request) => !request.watch).length,
      watches: matching.filter((request) => request.watch).length,
    };
  }

  // ---- HTTP -------------------------------------------------------------------------------

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams.entries());
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      query,
      watch: query['watch'] === 'true' || query['watch'] === '1',
      ...(request.headers.authorization === undefined
        ? {}
        : { authorization: request.headers.authorization }),
    };
    this.requests.push(recorded);

    const failure = this.failures.find((candidate) => candidate.matches(recorded));
    if (failure !== undefined) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) this.failures = this.failures.filter((f) => f !== failure);
      sendStatus(response, failure.status, 'InternalError', `injected failure ${failure.status}`);
      return;
    }
    if (recorded.method !== 'GET') {
      sendStatus(response, 405, 'MethodNotAllowed', `${recorded.method} is not supported here`);
      return;
    }
    if (this.handleDiscovery(url.pathname, response)) return;

    const match = RESOURCE_PATH.exec(url.pathname);
    const type = RESOURCE_TYPES.find((candidate) => candidate.name === match?.[3]);
    if (match === null || type === undefined || match[1] !== type.prefix) {
      sendStatus(response, 404, 'NotFound', `the server could not find ${url.pathname}`);
      return;
    }
    const namespace = match[2];
    const name = match[4];
    if (name !== undefined) this.serveGet(type, namespace ?? '', name, response);
    else if (recorded.watch) this.serveWatch(type, namespace, query, request, response);
    else this.serveList(type, namespace, query, response);
  }

  /** client-node's list/watch never asks; kubectl-like tools do. Minimal documents suffice. */
  private handleDiscovery(path: string, response: ServerResponse): boolean {
    const documents: Record<string, unknown> = {
      '/version': { major: '1', minor: '33', gitVersion: 'v1.33.0-terway-test' },
      '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
      '/apis': {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [
          {
            name: 'discovery.k8s.io',
            versions: [{ groupVersion: 'discovery.k8s.io/v1', version: 'v1' }],
            preferredVersion: { groupVersion: 'discovery.k8s.io/v1', version: 'v1' },
          },
        ],
      },
      '/api/v1': resourceList('v1', 'services', 'Service', true),
      '/apis/discovery.k8s.io/v1': resourceList(
        'discovery.k8s.io/v1',
        'endpointslices',
        'EndpointSlice',
        true,
      ),
    };
    const document = documents[path];
    if (document === undefined) return false;
    sendJson(response, 200, document);
    return true;
  }

  private serveGet(
    type: ResourceType,
    namespace: string,
    name: string,
    response: ServerResponse,
  ): void {
    const object = this.store(type.name).get(`${namespace}/${name}`);
    if (object === undefined) {
      sendStatus(response, 404, 'NotFound', `${type.name} "${name}" not found`);
      return;
    }
    sendJson(response, 200, object);
  }

  private serveList(
    type: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
    response: ServerResponse,
  ): void {
    const requested = query['resourceVersion'];
    if (requested !== undefined && requested !== '' && requested !== '0') {
      const version = Number(requested);
      if (!Number.isInteger(version)) {
        sendStatus(response, 400, 'BadRequest', `invalid resourceVersion ${requested}`);
        return;
      }
      if (version < this.oldestResumableVersion) {
        sendStatus(response, 410, 'Expired', tooOldMessage(version, this.oldestResumableVersion));
        return;
      }
    }
    const limit = query['limit'] === undefined ? 0 : Number(query['limit']);
    if (!Number.isInteger(limit) || limit < 0) {
      sendStatus(response, 400, 'BadRequest', `invalid limit ${query['limit']}`);
      return;
    }
    const token = query['continue'];
    if (token !== undefined && token !== '') {
      this.serveContinuedList(type, token, limit, response);
      return;
    }
    // etcd order: by key, which is namespace/name.
    const items = [...this.store(type.name).entries()]
      .filter(([, object]) => namespace === undefined || object.metadata?.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      // List items carry no kind/apiVersion; the list does.
      .map(([, object]) => without(object, ['kind', 'apiVersion']));
    this.sendListPage(type, { resourceVersion: this.resourceVersion, items }, 0, limit, response);
  }

  /**
   * A page after the first: from the snapshot the first page was cut from, as etcd serves the
   * rest of a paged list at the first page's revision. Once that revision is older than what
   * the server can still serve (history trimmed or compacted), 410 Expired, with the message a
   * real apiserver sends.
   */
  private serveContinuedList(
    type: ResourceType,
    token: string,
    limit: number,
    response: ServerResponse,
  ): void {
    const position = decodeContinueToken(token);
    if (position === undefined) {
      sendStatus(response, 400, 'BadRequest', `invalid continue token ${JSON.stringify(token)}`);
      return;
    }
    const snapshot = this.listSnapshots.get(position.snapshot);
    if (snapshot === undefined || snapshot.resourceVersion < this.oldestResumableVersion) {
      this.listSnapshots.delete(position.snapshot);
      sendStatus(response, 410, 'Expired', CONTINUE_EXPIRED_MESSAGE);
      return;
    }
    this.sendListPage(type, snapshot, position.offset, limit, response, position.snapshot);
  }

  private sendListPage(
    type: ResourceType,
    snapshot: ListSnapshot,
    offset: number,
    limit: number,
    response: ServerResponse,
    snapshotId?: number,
  ): void {
    const end =
      limit === 0 ? snapshot.items.length : Math.min(offset + limit, snapshot.items.length);
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.resourceVersion) };
    if (end < snapshot.items.length) {
      let id = snapshotId;
      if (id === undefined) {
        id = this.nextSnapshotId++;
        this.listSnapshots.set(id, snapshot);
        // A client that never finishes its list must not keep every snapshot alive.
        for (const old of this.listSnapshots.keys()) {
          if (this.listSnapshots.size <= MAX_LIST_SNAPSHOTS) break;
          this.listSnapshots.delete(old);
        }
      }
      metadata['continue'] = encodeContinueToken({ snapshot: id, offset: end });
      metadata['remainingItemCount'] = snapshot.items.length - end;
    } else if (snapshotId !== undefined) {
      this.listSnapshots.delete(snapshotId);
    }
    sendJson(response, 200, {
      kind: type.listKind,
      apiVersion: type.apiVersion,
      metadata,
      items: snapshot.items.slice(offset, end),
    });
  }

  private serveWatch(
    type: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    const requested = query['resourceVersion'] ?? '';
    const fromCurrentState = requested === '' || requested === '0';
    const version = fromCurrentState ? this.resourceVersion : Number(requested);
    if (!Number.isInteger(version)) {
      sendStatus(response, 400, 'BadRequest', `invalid resourceVersion ${requested}`);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.flushHeaders();
    if (!fromCurrentState && version < this.oldestResumableVersion) {
      // What a real apiserver does: 200, one ERROR event with a 410 Status, end of stream.
      this.writeEvent(response, 'ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: tooOldMessage(version, this.oldestResumableVersion),
        reason: 'Expired',
        code: 410,
      });
      response.end();
      return;
    }
    if (fromCurrentState) {
      for (const object of this.store(type.name).values()) {
        if (namespace === undefined || object.metadata?.namespace === namespace) {
          this.writeEvent(response, 'ADDED', object);
        }
      }
    } else {
      for (const event of this.history) {
        if (event.resourceVersion > version && matchesWatch(event, type.name, namespace)) {
          this.writeEvent(response, event.type, event.object);
        }
      }
    }
    const timeoutSeconds = Number(query['timeoutSeconds'] ?? '0');
    const watch: OpenWatch = {
      resource: type.name,
      namespace,
      bookmarks: query['allowWatchBookmarks'] === 'true',
      response,
      timeout:
        timeoutSeconds > 0
          ? setTimeout(() => {
              this.forget(watch);
              response.end();
            }, timeoutSeconds * 1000)
          : undefined,
    };
    this.watches.add(watch);
    request.on('close', () => this.forget(watch));
    response.on('close', () => this.forget(watch));
  }

  private forget(watch: OpenWatch): void {
    if (watch.timeout !== undefined) clearTimeout(watch.timeout);
    this.watches.delete(watch);
  }

  private writeEvent(response: ServerResponse, type: string, object: unknown): void {
    if (!response.writableEnded) response.write(`${JSON.stringify({ type, object })}\n`);
  }

  // ---- storage ----------------------------------------------------------------------------

  private store(resource: ResourceName): Map<string, K8sObject> {
    const store = this.objects.get(resource);
    if (store === undefined) throw new Error(`unknown resource ${resource}`);
    return store;
  }

  private stamp(
    type: ResourceType,
    object: K8sObject,
    keep: { uid: string; creationTimestamp: string },
  ): K8sObject {
    this.resourceVersion += 1;
    const copy = structuredClone(object);
    const givenMetadata = without(copy.metadata ?? {}, ['managedFields']);
    const content = without(copy, ['kind', 'apiVersion', 'metadata']);
    return {
      ...copy,
      kind: type.kind,
      apiVersion: type.apiVersion,
      metadata: {
        ...givenMetadata,
        namespace: copy.metadata?.namespace ?? DEFAULT_NAMESPACE,
        uid: keep.uid,
        creationTimestamp: keep.creationTimestamp,
        resourceVersion: String(this.resourceVersion),
        // Server-side field tracking, as every real apiserver since 1.18 records it: what a
        // cache that keeps whole objects pays for on every object.
        managedFields: [
          {
            manager: MANAGER,
            operation: 'Update',
            apiVersion: type.apiVersion,
            time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            fieldsType: 'FieldsV1',
            fieldsV1: fieldsV1Of({
              metadata: without(givenMetadata, SERVER_ASSIGNED_METADATA),
              ...content,
            }),
          },
        ],
      },
    };
  }

  private record(type: EventType, resourceType: ResourceType, object: K8sObject): void {
    this.append({
      type,
      resource: resourceType.name,
      namespace: object.metadata?.namespace ?? DEFAULT_NAMESPACE,
      resourceVersion: this.resourceVersion,
      object,
    });
  }

  private append(event: HistoryEvent): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped !== undefined) this.oldestResumableVersion = dropped.resourceVersion;
    }
    for (const watch of this.watches) {
      if (matchesWatch(event, watch.resource, watch.namespace)) {
        this.writeEvent(watch.response, event.type, event.object);
      }
    }
  }
}

function matchesWatch(
  event: HistoryEvent,
  resource: ResourceName,
  namespace: string | undefined,
): boolean {
  return event.resource === resource && (namespace === undefined || event.namespace === namespace);
}

function typeOfKind(kind: string | undefined): ResourceType {
  const type = RESOURCE_TYPES.find((candidate) => candidate.kind === kind);
  if (type === undefined) throw new Error(`test apiserver does not serve kind ${String(kind)}`);
  return type;
}

function typeOfResource(resource: ResourceName): ResourceType {
  const type = RESOURCE_TYPES.find((candidate) => candidate.name === resource);
  if (type === undefined) throw new Error(`unknown resource ${resource}`);
  return type;
}

function identity(object: K8sObject): { namespace: string; name: string } {
  const name = object.metadata?.name;
  if (name === undefined || name === '') throw new Error('object has no metadata.name');
  return { namespace: object.metadata?.namespace ?? DEFAULT_NAMESPACE, name };
}

function tooOldMessage(requested: number, oldest: number): string {
  return `too old resource version: ${requested} (${oldest})`;
}

function resourceList(groupVersion: string, name: string, kind: string, namespaced: boolean) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: [{ name, singularName: '', namespaced, kind, verbs: ['get', 'list', 'watch'] }],
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

function sendStatus(response: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(response, code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}
