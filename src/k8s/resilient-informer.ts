/**
 * One resource's client-node `ListWatch` (the real informer, unmodified), kept alive.
 *
 * What client-node 1.4's ListWatch does by itself, and what this module adds:
 * - A watch that ends cleanly (server timeout) is re-opened from the last resourceVersion.
 * - 410 Gone, as a watch ERROR event or as an HTTP status, clears the resourceVersion and the
 *   informer re-lists; objects missing from the new list are reported as deleted.
 * - Any other failure (list error, refused connection, broken stream) fires `error` and the
 *   informer stops for good. This module restarts it with capped exponential backoff; the
 *   restart resumes the watch from the last resourceVersion, or re-lists if that has expired.
 * - ListWatch never asks for bookmarks and sends no timeoutSeconds. The Watch it is given adds
 *   both: bookmarks keep the resourceVersion fresh on quiet resources, so a reconnect after the
 *   apiserver compacted its history resumes instead of re-listing everything.
 * - ListWatch has no "synced" signal. It opens its first watch only after its first list has
 *   been applied, so that first watch is the signal.
 * - After stop(), a list still in flight would go on to open a watch nobody stops, and events
 *   would still be delivered; both are refused here.
 */
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

import { TerwayError } from '../errors/terway-error.js';
import type { Logger } from '../log/logger.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { messageOf } from '../errors/error-message.js';
import { ListWatch, Watch } from './kube-client.js';

/** First restart delay after a failure; doubles per consecutive failure up to the cap. */
export const DEFAULT_INITIAL_BACKOFF_MS = 500;
export const DEFAULT_MAX_BACKOFF_MS = 30_000;
/**
 * Up to this fraction is taken off at random, so a fleet of nodes does not reconnect in step;
 * taken off rather than added, so the cap stays a cap.
 */
const BACKOFF_JITTER = 0.2;
/**
 * client-go's reflector asks for 5–10 minutes; a watch on a silently dead connection then ends
 * within that time even if TCP keepalive never notices.
 */
const MIN_WATCH_TIMEOUT_SECONDS = 300;
/** A non-Status error body (a proxy's HTML page) is cut to keep the log line readable. */
const MAX_BODY_CHARS_IN_REASON = 200;

export interface InformerStatus {
  readonly resource: string;
  /** The first list has been applied. */
  readonly listed: boolean;
  readonly resourceVersion: string;
  readonly lists: number;
  readonly watches: number;
  readonly bookmarks: number;
  /** Restarts after a failure (not ListWatch's own reconnects after a clean close). */
  readonly restarts: number;
  /** Failures since the last event received; drives the backoff. */
  readonly consecutiveFailures: number;
  /**
   * The last list or watch failed, and nothing has succeeded since (a list, or an event). Unlike
   * consecutiveFailures, a successful list clears it: the backoff must survive a list that works
   * before a watch that keeps failing, a health signal must not.
   */
  readonly failing: boolean;
  readonly lastError: string | undefined;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  readonly resource: string;
  readonly path: string;
  /**
   * The list call (rawLister of `path`, or a fake in tests), whose items are already projected;
   * the watch uses `path`.
   */
  readonly list: () => Promise<KubernetesListObject<T>>;
  /**
   * What the informer keeps of an object a watch event carries (object-projection.ts): the cache
   * holds every object for the informer's life, so it holds only what is read.
   */
  readonly project: (raw: unknown) => T;
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly watchTimeoutSeconds: number | undefined;
  readonly onUpsert: (object: T) => void;
  readonly onDelete: (object: T) => void;
  /** Once, when the first list has been applied. */
  readonly onListed: () => void;
}

/** One resource's ListWatch, restarted with backoff whenever it gives up. */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly options: ResilientInformerOptions<T>;
  private readonly informer: ListWatch<T>;
  private stopped = false;
  private listed = false;
  private phase: 'list' | 'watch' = 'list';
  private restartTimer: TimerHandle | undefined;
  private currentWatch: AbortController | undefined;
  private readonly counters = {
    lists: 0,
    watches: 0,
    bookmarks: 0,
    restarts: 0,
    consecutiveFailures: 0,
  };
  private lastError: string | undefined;
  private failing = false;

  constructor(options: ResilientInformerOptions<T>) {
    this.options = options;
    const watch = new HookedWatch(options.kubeConfig, {
      beforeWatch: () => this.beforeWatch(),
      afterWatch: (controller) => this.afterWatch(controller),
      onEvent: (type, object) => this.onEvent(type, object),
      project: options.project,
      extraParams: () => ({
        allowWatchBookmarks: true,
        timeoutSeconds: options.watchTimeoutSeconds ?? randomWatchTimeoutSeconds(),
      }),
    });
    const list = (): Promise<KubernetesListObject<T>> => {
      this.phase = 'list';
      this.counters.lists += 1;
      return options.list();
    };
    this.informer = new ListWatch<T>(options.path, watch, list, false);
    this.informer.on('add', (object) => this.deliver('add', object, options.onUpsert));
    this.informer.on('update', (object) => this.deliver('update', object, options.onUpsert));
    this.informer.on('delete', (object) => this.deliver('delete', object, options.onDelete));
    this.informer.on('error', (error) => this.onFailure(error));
  }

  start(): void {
    this.stopped = false;
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) this.options.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.currentWatch?.abort();
    await this.informer.stop();
  }

  isListed(): boolean {
    return this.listed;
  }

  status(): InformerStatus {
    return {
      resource: this.options.resource,
      listed: this.listed,
      resourceVersion: this.informer.latestResourceVersion(),
      ...this.counters,
      failing: this.failing,
      lastError: this.lastError,
    };
  }

  private run(): void {
    // ListWatch reports its own failures through 'error'; a rejection here is one it did not.
    this.informer.start().catch((error: unknown) => this.onFailure(error));
  }

  private deliver(verb: string, object: T, handler: (object: T) => void): void {
    // After stop, in-flight callbacks (a list that resolves late) must not reach the table.
    if (this.stopped) return;
    try {
      handler(object);
    } catch (error) {
      // A throw here would unwind through ListWatch mid-list and leave it with no watch open.
      this.options.logger.error(
        {
          err: error,
          resource: this.options.resource,
          verb,
          object: `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`,
        },
        'applying an informer event failed',
      );
    }
  }

  private beforeWatch(): boolean {
    // A list that was in flight when stop() ran still ends in a watch: refuse to open it.
    if (this.stopped) return false;
    this.phase = 'watch';
    this.counters.watches += 1;
    this.failing = false;
    if (!this.listed) {
      this.listed = true;
      this.options.logger.debug(
        { resource: this.options.resource, resourceVersion: this.informer.latestResourceVersion() },
        'initial list applied',
      );
      this.options.onListed();
    }
    return true;
  }

  private afterWatch(controller: AbortController): void {
    this.currentWatch = controller;
    // stop() may have run while the watch request was being answered.
    if (this.stopped) controller.abort();
  }

  private onEvent(type: string, object: unknown): void {
    // Any event proves the connection works: the next failure starts the backoff afresh.
    this.counters.consecutiveFailures = 0;
    this.failing = false;
    if (type === 'BOOKMARK') this.counters.bookmarks += 1;
    if (type === 'ERROR') {
      const status = object as { code?: unknown; reason?: unknown; message?: unknown };
      this.options.logger.info(
        {
          resource: this.options.resource,
          code: status.code,
          reason: status.reason,
          message: status.message,
        },
        status.code === 410
          ? 'watch resourceVersion expired (410 Gone); re-listing'
          : 'watch ended with an error event; reconnecting',
      );
    }
  }

  private onFailure(error: unknown): void {
    // Aborting the watch on stop() surfaces as an error too.
    if (this.stopped || this.restartTimer !== undefined) return;
    this.counters.consecutiveFailures += 1;
    const attempt = this.counters.consecutiveFailures;
    const delayMs = backoffDelayMs(
      attempt,
      this.options.initialBackoffMs,
      this.options.maxBackoffMs,
    );
    // No `cause`: the reason already says it, and pino would append the cause's message again.
    const failure = new TerwayError(
      'KUBERNETES_ERROR',
      `${this.options.resource} ${this.phase} failed: ${describeKubernetesError(error)}`,
      { retryable: true },
    );
    this.lastError = failure.message;
    this.failing = true;
    this.options.logger.warn(
      { err: failure, resource: this.options.resource, attempt, retryInMs: delayMs },
      `${this.options.resource} ${this.phase} failed; restarting the informer`,
    );
    this.restartTimer = this.options.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.counters.restarts += 1;
      this.run();
    }, delayMs);
  }
}

interface WatchHooks {
  /** False cancels the watch (the informer is stopping). */
  beforeWatch(): boolean;
  afterWatch(controller: AbortController): void;
  onEvent(type: string, object: unknown): void;
  /** Applied to the object of ADDED, MODIFIED and DELETED events before the informer sees it. */
  project(raw: unknown): unknown;
  extraParams(): Record<string, string | number | boolean>;
}

/** Watch events whose object is a resource, not a Status (ERROR) or a bare resourceVersion. */
const OBJECT_EVENTS: ReadonlySet<string> = new Set(['ADDED', 'MODIFIED', 'DELETED']);

/**
 * client-node's Watch, with bookmarks and a timeout requested, every event observed, and each
 * object projected before the informer caches it.
 */
class HookedWatch extends Watch {
  private readonly hooks: WatchHooks;

  constructor(kubeConfig: KubeConfig, hooks: WatchHooks) {
    super(kubeConfig);
    this.hooks = hooks;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (!this.hooks.beforeWatch()) {
      const cancelled = new AbortController();
      cancelled.abort();
      return cancelled;
    }
    const controller = await super.watch(
      path,
      { ...queryParams, ...this.hooks.extraParams() },
      (phase, apiObj, watchObj) => {
        this.hooks.onEvent(phase, apiObj);
        callback(phase, OBJECT_EVENTS.has(phase) ? this.hooks.project(apiObj) : apiObj, watchObj);
      },
      done,
    );
    this.hooks.afterWatch(controller);
    return controller;
  }
}

export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - BACKOFF_JITTER * Math.random()));
}

function randomWatchTimeoutSeconds(): number {
  return Math.floor(MIN_WATCH_TIMEOUT_SECONDS * (1 + Math.random()));
}

/**
 * A one-line reason. client-node fails in three shapes: Watch throws Error(statusText) with
 * `statusCode`; the generated API throws ApiException with a numeric `code` and the raw body
 * (a Status) — its message also embeds every response header, too noisy for a log line; and
 * the transport throws a FetchError (ECONNREFUSED, premature close, ...).
 */
export function describeKubernetesError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const { statusCode, code, body } = error as {
    statusCode?: unknown;
    code?: unknown;
    body?: unknown;
  };
  if (typeof statusCode === 'number') return `HTTP ${statusCode} ${messageOf(error)}`;
  if (typeof code === 'number') {
    const status = statusMessageOf(body);
    return status === undefined ? `HTTP ${code}` : `HTTP ${code}: ${status}`;
  }
  const message = messageOf(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

function statusMessageOf(body: unknown): string | undefined {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.trim() === '' ? undefined : body.slice(0, MAX_BODY_CHARS_IN_REASON);
    }
  }
  if (typeof value === 'object' && value !== null && 'message' in value) {
    const { message } = value;
    if (typeof message === 'string') return message;
  }
  return undefined;
}
