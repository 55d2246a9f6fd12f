/**
 * A DesiredStateSink that remembers every call and the resulting table, for tests of the
 * Service sources; plus a polling helper to wait for what they deliver asynchronously.
 */
import {
  formatBackend,
  type DesiredFrontend,
  type DesiredStateSink,
} from '../../src/lb/desired-frontend.js';

export type SinkCall =
  | {
      readonly kind: 'replace';
      readonly service: string;
      readonly frontends: readonly DesiredFrontend[];
    }
  | { readonly kind: 'delete'; readonly service: string }
  | { readonly kind: 'synced' };

export class RecordingSink implements DesiredStateSink {
  readonly calls: SinkCall[] = [];
  /** The sink's view: Service key → its frontends, as a consumer would hold it. */
  readonly table = new Map<string, readonly DesiredFrontend[]>();
  synced = false;

  get heldFrontends(): ReadonlyMap<string, readonly DesiredFrontend[]> {
    return this.table;
  }

  replaceService(service: string, frontends: readonly DesiredFrontend[]): void {
    this.calls.push({ kind: 'replace', service, frontends });
    if (frontends.length === 0) this.table.delete(service);
    else this.table.set(service, frontends);
  }

  deleteService(service: string): void {
    this.calls.push({ kind: 'delete', service });
    this.table.delete(service);
  }

  markSynced(): void {
    this.calls.push({ kind: 'synced' });
    this.synced = true;
  }

  /** Calls that touched `service` (replace or delete), in order. */
  callsFor(service: string): SinkCall[] {
    return this.calls.filter((call) => call.kind !== 'synced' && call.service === service);
  }

  /** Services touched by calls from index `from` on. */
  servicesTouchedSince(from: number): string[] {
    return [
      ...new Set(
        this.calls.slice(from).flatMap((call) => (call.kind === 'synced' ? [] : [call.service])),
      ),
    ].sort();
  }

  /** `ip:port` of the ready (or draining) backends of one frontend, for compact assertions. */
  backends(service: string, frontendKey: string, which: 'ready' | 'draining' = 'ready'): string[] {
    const frontend = this.table
      .get(service)
      ?.find(({ address }) => `${address.ip}:${address.port}/${address.protocol}` === frontendKey);
    return (frontend?.[which] ?? []).map(formatBackend);
  }
}

/**
 * Polls `condition` every `intervalMs` until it holds; throws with `what` after `timeoutMs`.
 * Returns as soon as the condition holds, so a passing test waits no longer than it must.
 */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 5000,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
