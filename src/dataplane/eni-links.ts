/**
 * Finds ENI links on the node by MAC, as Terway does: the cloud names an ENI by id and MAC, the
 * kernel by ifname and ifindex, and only the MAC is shared. Found links are cached; a pod whose
 * setup fails makes its ENI be looked up afresh.
 */
import type { Logger } from 'pino';

import { TerwayError } from '../errors/terway-error.js';
import type { Clock } from '../util/clock.js';
import { sleep } from '../util/clock.js';
import type { Kernel } from './kernel/kernel.js';
import type { NetnsRef } from './kernel/netns-ref.js';
import { describeNetns } from './kernel/netns-ref.js';
import type { EniLink } from './pod-attachment.js';

/** A freshly attached ENI's link shows up within a second or two on ECS; the lab is faster. */
const LINK_POLL_INITIAL_MS = 50;
const LINK_POLL_MAX_MS = 1_000;
const SLAVE_KINDS = new Set(['ipvlan', 'macvlan']);

export interface EniLinksOptions {
  kernel: Kernel;
  hostNetns: NetnsRef;
  /** The MTU every ENI link is brought up with. */
  mtu: number;
  clock: Clock;
  log: Logger;
}

export class EniLinks {
  private readonly byMac = new Map<string, EniLink>();

  constructor(private readonly options: EniLinksOptions) {}

  /** The link of an ENI known to be ready, or undefined when the node has no link with its MAC. */
  async lookup(mac: string): Promise<EniLink | undefined> {
    const normalized = mac.toLowerCase();
    const cached = this.byMac.get(normalized);
    if (cached !== undefined) return cached;
    const state = await this.options.kernel.read(this.options.hostNetns);
    // ipvlan slaves (ipvl_x) share their ENI's MAC; the ENI is the link that is no one's slave.
    const link = state.links.find(
      (candidate) => candidate.mac === normalized && !SLAVE_KINDS.has(candidate.kind ?? ''),
    );
    if (link === undefined) return undefined;
    const found = {
      name: link.name,
      ifindex: link.ifindex,
      mac: normalized,
      mtu: this.options.mtu,
    };
    this.byMac.set(normalized, found);
    return found;
  }

  /**
   * Waits for a newly attached ENI's link, then brings it up with the configured MTU. Until this
   * resolves the ENI's IPs must not reach a pod: there would be nothing to hang them on.
   */
  async waitReady(mac: string, timeoutMs: number, signal?: AbortSignal): Promise<EniLink> {
    const { clock, kernel, hostNetns, mtu, log } = this.options;
    const deadline = clock.now() + timeoutMs;
    let interval = LINK_POLL_INITIAL_MS;
    this.forget(mac);
    for (;;) {
      const link = await this.lookup(mac);
      if (link !== undefined) {
        await kernel.apply(hostNetns, [{ op: 'link-up', name: link.name, mtu }]);
        log.info({ mac: link.mac, link: link.name, ifindex: link.ifindex, mtu }, 'ENI link is up');
        return link;
      }
      if (clock.now() >= deadline || signal?.aborted === true) {
        throw new TerwayError(
          'ENI_LINK_MISSING',
          `no link with MAC ${mac} appeared in ${describeNetns(hostNetns)} within ${timeoutMs} ms`,
          { retryable: true },
        );
      }
      await sleep(clock, Math.min(interval, Math.max(0, deadline - clock.now())));
      interval = Math.min(LINK_POLL_MAX_MS, interval * 2);
    }
  }

  forget(mac: string): void {
    this.byMac.delete(mac.toLowerCase());
  }
}
