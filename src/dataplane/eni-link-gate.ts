/**
 * Holds an ENI back from the pool until its link exists on the node and is up. It wraps the
 * cloud provider, so the pool stays unaware of links: to the pool, an ENI simply takes a little
 * longer to be created. An ENI whose link never appears is deleted, never leaked.
 */
import type { Logger } from 'pino';

import type {
  CloudProvider,
  CloudStatus,
  EniInfo,
  InstanceLimits,
  NodeAddress,
} from '../cloud/provider.js';
import { toTerwayError } from '../errors/terway-error.js';
import type { EniLinks } from './eni-links.js';

/** Longer than any attach-to-link delay seen on ECS; a missing link after this is a fault. */
export const ENI_LINK_TIMEOUT_MS = 30_000;

export class EniLinkGate implements CloudProvider {
  readonly kind: string;
  /** ENI id → MAC, for forgetting a deleted ENI's link. */
  private readonly macs = new Map<string, string>();

  constructor(
    private readonly inner: CloudProvider,
    private readonly links: EniLinks,
    private readonly log: Logger,
    private readonly timeoutMs = ENI_LINK_TIMEOUT_MS,
  ) {
    this.kind = inner.kind;
    if (inner.status !== undefined) this.status = () => inner.status!();
    if (inner.nodeAddress !== undefined) this.nodeAddress = () => inner.nodeAddress!();
  }

  readonly status?: () => CloudStatus;

  readonly nodeAddress?: () => Promise<NodeAddress>;

  describeInstanceLimits(): Promise<InstanceLimits> {
    return this.inner.describeInstanceLimits();
  }

  /** ENIs whose link is missing are still listed (their pods' records must stay bound); an ADD on one fails with ENI_LINK_MISSING until it is back. */
  async listEnis(): Promise<EniInfo[]> {
    const enis = await this.inner.listEnis();
    for (const eni of enis) {
      this.macs.set(eni.id, eni.mac);
      if ((await this.links.lookup(eni.mac)) === undefined) {
        this.log.warn(
          { eniId: eni.id, mac: eni.mac },
          'an attached ENI has no link on this node; pods cannot use it until it appears',
        );
      }
    }
    return enis;
  }

  async createEni(secondaryIpCount: number): Promise<EniInfo> {
    const eni = await this.inner.createEni(secondaryIpCount);
    this.macs.set(eni.id, eni.mac);
    try {
      await this.links.waitReady(eni.mac, this.timeoutMs);
      return eni;
    } catch (thrown) {
      const error = toTerwayError(thrown);
      this.log.error(
        { eniId: eni.id, mac: eni.mac, err: error },
        'ENI link never became ready; deleting the ENI',
      );
      await this.inner
        .deleteEni(eni.id)
        .catch((cause: unknown) =>
          this.log.error(
            { eniId: eni.id, err: toTerwayError(cause) },
            'could not delete an ENI without a link; the janitor will retry',
          ),
        );
      throw error;
    }
  }

  assignPrivateIps(eniId: string, count: number): Promise<string[]> {
    return this.inner.assignPrivateIps(eniId, count);
  }

  unassignPrivateIps(eniId: string, ips: readonly string[]): Promise<void> {
    return this.inner.unassignPrivateIps(eniId, ips);
  }

  async deleteEni(eniId: string): Promise<void> {
    await this.inner.deleteEni(eniId);
    // Its link is gone with it; a later ENI must not be matched against a stale ifindex.
    const mac = this.macs.get(eniId);
    if (mac !== undefined) this.links.forget(mac);
    this.macs.delete(eniId);
  }
}
