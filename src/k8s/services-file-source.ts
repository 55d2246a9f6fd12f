/**
 * Standalone mode (`--services <file>`, no kubeconfig): Services and EndpointSlices from a file
 * of real Kubernetes objects, kept in step with the file as it changes.
 *
 * The format and its validation are in services-file-parse.ts.
 *
 * The directory is watched, not the file: editors and `mv` replace the file with a new inode, and
 * a ConfigMap volume swaps a `..data` symlink, none of which a watch on the old file would see.
 * A file that does not exist is an empty state (with a warning); a file that does not parse
 * leaves the last good state in place.
 */
import { existsSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { TerwayError } from '../errors/terway-error.js';
import type { DesiredStateSink } from '../lb/desired-frontend.js';
import type { Logger } from '../log/logger.js';
import { systemClock } from '../util/clock.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { TranslatedState } from './complete-state.js';
import type { NodeTopology } from './lean-endpoint-slice.js';
import type { EndpointPodIndex } from './endpoint-pods.js';
import { ServiceTable } from './service-table.js';
import type { ServicesFileRead, ServicesFileWorkerData } from './services-file-worker.js';
import { readServicesFile } from './services-file-worker.js';
import { messageOf } from '../errors/error-message.js';

/** Editors write in bursts (truncate, write, chmod, rename); one re-read per burst. */
export const DEFAULT_DEBOUNCE_MS = 50;
/** The ConfigMap volume writer swaps `..data` (and writes `..data_tmp`, `..2024_...`). */
const CONFIGMAP_ENTRY_PREFIX = '..';
const NO_FILE = Symbol('no services file');
/** Built next to this module; absent when the sources run untranspiled (then reads stay here). */
const WORKER_SCRIPT = fileURLToPath(new URL('./services-file-worker.js', import.meta.url));

export interface ServicesFileSourceOptions {
  readonly path: string;
  readonly sink: DesiredStateSink;
  readonly logger: Logger;
  /** The daemon's node and zone: which endpoints `internalTrafficPolicy: Local` and hints keep. */
  readonly thisNode?: NodeTopology;
  /** Runs the debounce timer; tests may pass a FakeClock. */
  readonly clock?: Clock;
  readonly debounceMs?: number;
  /**
   * Called once a read's worker has exited. A worker's torn-down heap leaves tens of MB of freed
   * C heap that the allocator keeps in the daemon's RSS; the daemon passes releaseFreedHeap.
   */
  readonly afterWorkerExit?: () => void;
}

export class ServicesFileSource {
  private readonly path: string;
  private readonly logger: Logger;
  private readonly thisNode: NodeTopology | undefined;
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private readonly afterWorkerExit: () => void;
  private readonly table: ServiceTable;
  private watcher: FSWatcher | undefined;
  private debounceTimer: TimerHandle | undefined;
  /**
   * A digest of the text last applied (or NO_FILE), so an event that changed nothing costs no
   * parse. The digest, not the text: a 10,000-Service file is tens of megabytes of string.
   */
  private applied: string | typeof NO_FILE | undefined;
  private lastError: string | undefined;
  /** The re-read in flight off the main thread, and whether another event came meanwhile. */
  private reading: Worker | undefined;
  private readAgain = false;

  constructor(options: ServicesFileSourceOptions) {
    this.path = options.path;
    this.logger = options.logger;
    this.thisNode = options.thisNode;
    this.clock = options.clock ?? systemClock;
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.afterWorkerExit = options.afterWorkerExit ?? (() => undefined);
    this.table = new ServiceTable({
      sink: options.sink,
      logger: options.logger,
      thisNode: options.thisNode,
    });
  }

  /**
   * Reads the file once and then follows it. The reads happen in a worker thread: the daemon
   * serves meanwhile, and the maps keep what they held (restored) until the file is in, as with
   * informers that have not listed yet. Throws INVALID_CONFIG only when the file's directory
   * cannot be watched; a missing or invalid file is logged and waited for.
   */
  start(): void {
    if (this.watcher !== undefined) return;
    this.logger.info(
      {
        mode: 'standalone',
        servicesFile: this.path,
        node: this.thisNode?.name,
        zone: this.thisNode?.zone,
      },
      'service source: reading Services and EndpointSlices from a file (no Kubernetes API)',
    );
    const fileName = basename(this.path);
    try {
      // Watch first, then read: a change between the two is then seen, not lost.
      this.watcher = watch(dirname(this.path), (_event, changed) => {
        if (
          changed === null ||
          changed === fileName ||
          changed.startsWith(CONFIGMAP_ENTRY_PREFIX)
        ) {
          this.scheduleReload();
        }
      });
    } catch (error) {
      throw new TerwayError(
        'INVALID_CONFIG',
        `cannot watch the directory of services file ${this.path}: ${messageOf(error)}`,
        { cause: error },
      );
    }
    this.watcher.on('error', (error) => {
      this.logger.error({ err: error, servicesFile: this.path }, 'services file watch failed');
    });
    this.reloadOffThread();
  }

  async stop(): Promise<void> {
    if (this.debounceTimer !== undefined) this.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    const reading = this.reading;
    this.reading = undefined;
    this.readAgain = false;
    await reading?.terminate();
  }

  isSynced(): boolean {
    return this.table.isSynced();
  }

  /** The pods the EndpointSlices name, by backend address (for inspection). */
  endpointPods(): EndpointPodIndex {
    return this.table.endpointPods();
  }

  /** Why the current file content is not in effect; undefined when it is. */
  currentError(): string | undefined {
    return this.lastError;
  }

  /**
   * Reads the file on this thread and applies it if it changed: when no worker can run (the
   * sources untranspiled, as under the unit tests) or one failed.
   */
  private readHere(): void {
    const read = readServicesFile(this.path, this.appliedDigest(), this.thisNode);
    // A copy of what is kept (names of Services, ports and pods), as a worker's message would have
    // made: a YAML parser's strings are slices of the file's text, and would keep all of it alive.
    this.applyRead(read.kind === 'parsed' ? structuredClone(read) : read);
  }

  /**
   * A read in a worker thread, so the daemon keeps answering CNI calls meanwhile and the parse's
   * garbage never lands in its heap. One at a time; events during a read make one more read after
   * it.
   */
  private reloadOffThread(): void {
    if (this.reading !== undefined) {
      this.readAgain = true;
      return;
    }
    if (!existsSync(WORKER_SCRIPT)) {
      this.readHere();
      return;
    }
    const workerData: ServicesFileWorkerData = {
      servicesFile: this.path,
      appliedDigest: this.appliedDigest(),
      thisNode: this.thisNode,
    };
    const worker = new Worker(WORKER_SCRIPT, { workerData });
    this.reading = worker;
    let answered = false;
    worker.once('message', (read: ServicesFileRead) => {
      answered = true;
      if (this.reading === worker) this.applyRead(read);
    });
    worker.once('error', (error) => {
      this.logger.warn(
        { err: error, servicesFile: this.path },
        'services file worker failed; reading on the main thread',
      );
    });
    worker.once('exit', () => {
      this.afterWorkerExit();
      if (this.reading !== worker) return;
      this.reading = undefined;
      if (!answered) this.readHere();
      if (this.readAgain) {
        this.readAgain = false;
        this.reloadOffThread();
      }
    });
  }

  private appliedDigest(): string | undefined {
    return typeof this.applied === 'string' ? this.applied : undefined;
  }

  private applyRead(read: ServicesFileRead): boolean {
    switch (read.kind) {
      case 'unchanged':
        // Back to the content in effect (an edit that broke the file, then undone): in effect again.
        this.lastError = undefined;
        return true;
      case 'unreadable':
        return this.reject(read.message);
      case 'invalid':
        return this.reject(read.message);
      case 'missing':
        if (this.applied === NO_FILE) return true;
        this.logger.warn(
          { mode: 'standalone', servicesFile: this.path },
          'services file does not exist: no Services until it is created',
        );
        this.apply(NO_FILE, {
          frontends: new Map(),
          services: 0,
          endpointSlices: 0,
          namedEndpoints: [],
        });
        return true;
      case 'parsed':
        this.apply(read.digest, read);
        this.logger.info(
          {
            servicesFile: this.path,
            services: read.services,
            endpointSlices: read.endpointSlices,
          },
          'services file applied',
        );
        return true;
    }
  }

  private apply(digest: string | typeof NO_FILE, state: TranslatedState): void {
    // A complete state: the table marks itself synced with the first one.
    this.table.replaceTranslated(state);
    this.applied = digest;
    this.lastError = undefined;
  }

  private reject(reason: string): false {
    this.lastError = reason;
    this.logger.error(
      { servicesFile: this.path, reason },
      'services file not applied; keeping the last good state',
    );
    return false;
  }

  private scheduleReload(): void {
    if (this.debounceTimer !== undefined) this.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = this.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      if (this.watcher !== undefined) this.reloadOffThread();
    }, this.debounceMs);
  }
}
