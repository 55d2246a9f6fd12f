/**
 * Makes sure no ENI we created outlives its use. Three ways one could leak:
 *  - an attach fails or never completes: `dispose` detaches (if needed) and deletes it;
 *  - that clean-up itself fails (throttled, ENI stuck mid-transition): the ENI stays on a pending
 *    list that a timer retries until it is gone;
 *  - the daemon dies between create and attach: `sweepTagged` at start-up finds ENIs tagged with
 *    this instance that are not attached, and deletes them.
 * It only ever deletes ENIs carrying every tag this node puts on the ENIs it creates (the
 * eni_tag_filter tags included): an ENI that does not is someone else's, whatever it looks like.
 */
import type { Logger } from 'pino';

import { isCloudError } from '../cloud-error.js';
import { CloudErrorCodes } from '../provider.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { toTerwayError } from '../../errors/terway-error.js';
import type { EcsApi } from './ecs-api.js';
import { describeEni } from './ecs-api.js';
import type { NodeIdentity } from './node-identity.js';
import { isOwnLeftover, ownershipTags } from './node-identity.js';
import { pollUntil } from './poll.js';

/** First retry soon (a stuck attach often fails back within seconds), then back off. */
export const JANITOR_RETRY_MS = 5_000;
export const JANITOR_RETRY_MAX_MS = 60_000;

export interface JanitorOptions {
  api: EcsApi;
  identity: NodeIdentity;
  clock: Clock;
  log: Logger;
  detachTimeoutMs: number;
  /** eni_conf `eni_tag_filter`; absent or empty: our own two tags decide alone. */
  eniTagFilter?: Readonly<Record<string, string>>;
}

export class LeakedEniJanitor {
  private readonly pendingIds = new Set<string>();
  private timer: TimerHandle | undefined;
  private closed = false;
  private sweepPending = false;
  private retryDelayMs = JANITOR_RETRY_MS;
  /** Creates in flight: a sweep then could take their not-yet-attached ENIs for leaks. */
  private holds = 0;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly options: JanitorOptions) {}

  pending(): string[] {
    return [...this.pendingIds];
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Best effort, never throws: what cannot be cleaned now is retried by the timer. */
  async dispose(eniId: string): Promise<void> {
    try {
      await this.detachAndDelete(eniId);
      this.pendingIds.delete(eniId);
    } catch (error) {
      this.pendingIds.add(eniId);
      this.options.log.warn(
        { eniId, err: toTerwayError(error), retryInMs: this.retryDelayMs },
        'could not delete an unattached ENI yet; will retry',
      );
      this.schedule();
    }
  }

  /**
   * Keeps sweeps away while a new ENI is created and attached; the caller runs the returned
   * release when done. Waits for a sweep already running.
   */
  async holdSweeps(): Promise<() => void> {
    while (this.sweeping !== undefined) await this.sweeping;
    this.holds++;
    let released = false;
    return () => {
      if (!released) this.holds--;
      released = true;
    };
  }

  /**
   * Deletes ENIs tagged for this instance that are not in use; called once at start-up. Never
   * throws: a failed sweep is retried by the timer rather than holding up the daemon's start.
   * A retry that finds creates in flight waits for the next round.
   */
  async sweepTagged(): Promise<void> {
    if (this.holds > 0) {
      this.sweepPending = true;
      this.schedule();
      return;
    }
    const sweep = this.sweepOnce();
    this.sweeping = sweep.then(
      () => undefined,
      () => undefined,
    );
    try {
      await sweep;
      this.sweepPending = false;
    } catch (error) {
      this.sweepPending = true;
      this.options.log.warn(
        { err: toTerwayError(error), retryInMs: this.retryDelayMs },
        'could not look for leaked ENIs yet; will retry',
      );
      this.schedule();
    } finally {
      this.sweeping = undefined;
    }
  }

  private async sweepOnce(): Promise<void> {
    const filter = this.options.eniTagFilter ?? {};
    const { instanceId } = this.options.identity;
    const tagged = await this.options.api.describeNetworkInterfaces({
      tags: ownershipTags(filter, instanceId),
    });
    // Checked here too: deleting is the one thing that must not rest on the server's tag match.
    const leaked = tagged.filter(
      (eni) =>
        (eni.status === 'Available' || eni.status === 'Detaching') &&
        isOwnLeftover(eni.tags, filter, instanceId),
    );
    for (const eni of leaked) {
      this.options.log.warn(
        { eniId: eni.id, status: eni.status, created: eni.creationTime },
        'found an ENI this node created but never attached (crash between create and attach?); deleting it',
      );
      await this.dispose(eni.id);
    }
  }

  /**
   * Detach (when attached or attaching), wait for Available, delete. An ENI already gone is
   * success. Throws when the cloud refuses, so the pool can back off and try again.
   */
  async detachAndDelete(eniId: string): Promise<void> {
    const { api, identity } = this.options;
    let eni = await describeEni(this.options.api, eniId);
    if (eni?.status === 'Attaching') {
      // ECS refuses to detach an ENI mid-attach; it ends InUse or, if the attach fails, Available.
      eni = await pollUntil(
        async () => {
          const now = await describeEni(this.options.api, eniId);
          return now?.status === 'Attaching' ? undefined : { eni: now };
        },
        {
          clock: this.options.clock,
          timeoutMs: this.options.detachTimeoutMs,
          what: `${eniId} to finish attaching`,
          operation: 'AttachNetworkInterface',
        },
      ).then((result) => result.eni);
    }
    if (eni === undefined || eni.status === 'Deleting') return;
    if (eni.status !== 'Available') {
      if (eni.status !== 'Detaching') {
        await this.tolerateGone(
          api.detachNetworkInterface(eniId, eni.instanceId ?? identity.instanceId),
        );
      }
      eni = await pollUntil(
        async () => {
          const now = await describeEni(this.options.api, eniId);
          if (now === undefined) return { gone: true as const };
          return now.status === 'Available' ? { gone: false as const, eni: now } : undefined;
        },
        {
          clock: this.options.clock,
          timeoutMs: this.options.detachTimeoutMs,
          what: `${eniId} to be detached`,
          operation: 'DetachNetworkInterface',
        },
      ).then((result) => (result.gone ? undefined : result.eni));
      if (eni === undefined) return;
    }
    await this.tolerateGone(api.deleteNetworkInterface(eniId));
    this.options.log.info({ eniId }, 'ENI detached and deleted');
  }

  private async tolerateGone(call: Promise<void>): Promise<void> {
    try {
      await call;
    } catch (error) {
      if (!isCloudError(error, CloudErrorCodes.EniNotFound)) throw error;
    }
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(JANITOR_RETRY_MAX_MS, delay * 2);
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      void this.retryPending();
    }, delay);
  }

  private async retryPending(): Promise<void> {
    if (this.sweepPending) await this.sweepTagged();
    for (const eniId of [...this.pendingIds]) {
      if (this.closed) return;
      await this.dispose(eniId);
    }
    if (this.pendingIds.size === 0 && !this.sweepPending) this.retryDelayMs = JANITOR_RETRY_MS;
  }
}
