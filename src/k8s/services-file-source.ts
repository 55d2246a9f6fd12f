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
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

import { TerwayError } from '../errors/terway-error.js';
import type { DesiredStateSink } from '../lb/desired-frontend.js';
import type { Logger } from '../log/logger.js';
import { systemClock } from '../util/clock.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { parseServicesFile } from './services-file-parse.js';
import type { ServicesFileContent } from './services-file-parse.js';
import { ServiceTable } from './service-table.js';

/** Editors write in bursts (truncate, write, chmod, rename); one re-read per burst. */
export const DEFAULT_DEBOUNCE_MS = 50;
/** The ConfigMap volume writer swaps `..data` (and writes `..data_tmp`, `..2024_...`). */
const CONFIGMAP_ENTRY_PREFIX = '..';
const NO_FILE = Symbol('no services file');

export interface ServicesFileSourceOptions {
  readonly path: string;
  readonly sink: DesiredStateSink;
  readonly logger: Logger;
  /** Runs the debounce timer; tests may pass a FakeClock. */
  readonly clock?: Clock;
  readonly debounceMs?: number;
}

export class ServicesFileSource {
  private readonly path: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private readonly table: ServiceTable;
  private watcher: FSWatcher | undefined;
  private debounceTimer: TimerHandle | undefined;
  /**
   * A digest of the text last applied (or NO_FILE), so an event that changed nothing costs no
   * parse. The digest, not the text: a 10,000-Service file is tens of megabytes of string.
   */
  private applied: string | typeof NO_FILE | undefined;
  private lastError: string | undefined;

  constructor(options: ServicesFileSourceOptions) {
    this.path = options.path;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.table = new ServiceTable({ sink: options.sink, logger: options.logger });
  }

  /**
   * Reads the file once and then follows it. Throws INVALID_CONFIG only when its directory
   * cannot be watched; a missing or invalid file is logged and waited for.
   */
  start(): void {
    if (this.watcher !== undefined) return;
    this.logger.info(
      { mode: 'standalone', servicesFile: this.path },
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
    this.reload();
  }

  async stop(): Promise<void> {
    if (this.debounceTimer !== undefined) this.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  isSynced(): boolean {
    return this.table.isSynced();
  }

  /** Why the current file content is not in effect; undefined when it is. */
  currentError(): string | undefined {
    return this.lastError;
  }

  /** Re-reads the file now and applies it if it changed. Returns false if it did not parse. */
  reload(): boolean {
    let text: string | typeof NO_FILE;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if (!isMissingFile(error)) {
        return this.reject(`cannot read services file ${this.path}: ${messageOf(error)}`);
      }
      text = NO_FILE;
    }
    const digest = text === NO_FILE ? NO_FILE : createHash('sha256').update(text).digest('hex');
    if (digest === this.applied) return true;
    if (text === NO_FILE) {
      this.logger.warn(
        { mode: 'standalone', servicesFile: this.path },
        'services file does not exist: no Services until it is created',
      );
      this.apply(NO_FILE, { services: [], endpointSlices: [] });
      return true;
    }
    let content: ServicesFileContent;
    try {
      content = parseServicesFile(text, this.path);
    } catch (error) {
      return this.reject(messageOf(error));
    }
    this.apply(digest, content);
    this.logger.info(
      {
        servicesFile: this.path,
        services: content.services.length,
        endpointSlices: content.endpointSlices.length,
      },
      'services file applied',
    );
    return true;
  }

  private apply(digest: string | typeof NO_FILE, content: ServicesFileContent): void {
    this.table.replaceAll(content.services, content.endpointSlices);
    this.applied = digest;
    this.lastError = undefined;
    this.table.markSynced();
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
      if (this.watcher !== undefined) this.reload();
    }, this.debounceMs);
  }
}

function isMissingFile(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/** Duck-typed: errors from another realm (jest's vm modules) fail `instanceof Error`. */
function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const { message } = error;
    if (typeof message === 'string') return message;
  }
  return String(error);
}
