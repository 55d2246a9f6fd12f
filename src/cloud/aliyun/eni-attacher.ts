/**
 * Attaching a new ENI and waiting until it is usable: ECS says InUse *and* instance metadata
 * shows the MAC with every IP (the datapath needs the link, the VPC the addresses). A created
 * ENI is worth keeping, so a refused attach is retried until the timeout rather than given up.
 */
import type { Logger } from 'pino';

import { isCloudError } from '../cloud-error.js';
import { CloudErrorCodes } from '../provider.js';
import type { Clock } from '../../util/clock.js';
import { sleep } from '../../util/clock.js';
import type { CloudEni, EcsApi } from './ecs-api.js';
import { describeEni } from './ecs-api.js';
import { InUseWatcher } from './in-use-watcher.js';
import type { NicMetadata, NodeMetadata } from './node-identity.js';
import { nextPollInterval, POLL_INITIAL_MS, pollUntil, WAIT_TIMEOUT } from './poll.js';

export interface EniAttacherOptions {
  api: EcsApi;
  metadata: NodeMetadata;
  instanceId: string;
  clock: Clock;
  log: Logger;
  attachTimeoutMs: number;
  metadataTimeoutMs: number;
}

export class EniAttacher {
  private readonly inUse: InUseWatcher;

  constructor(private readonly options: EniAttacherOptions) {
    this.inUse = new InUseWatcher(options.api, options.clock);
  }

  /** Attaches, then resolves with the ENI (InUse) and its metadata view once both show it. */
  async attach(eniId: string): Promise<{ eni: CloudEni; nic: NicMetadata }> {
    await this.attachPatiently(eniId);
    const eni = await this.inUse.waitInUse(eniId, this.options.attachTimeoutMs);
    const nic = await this.waitForMetadata(eni.mac, eni.privateIps, eniId);
    return { eni, nic };
  }

  /**
   * Waits until metadata shows the MAC with every IP. `soft` (after an assign): a slow metadata
   * view is logged, not fatal, since ECS already routes the addresses.
   */
  waitForMetadata(mac: string, ips: readonly string[], eniId: string): Promise<NicMetadata>;
  waitForMetadata(
    mac: string,
    ips: readonly string[],
    eniId: string,
    mode: 'soft',
  ): Promise<NicMetadata | undefined>;
  async waitForMetadata(
    mac: string,
    ips: readonly string[],
    eniId: string,
    mode: 'hard' | 'soft' = 'hard',
  ): Promise<NicMetadata | undefined> {
    try {
      return await pollUntil(
        async () => {
          const nic = await this.options.metadata.nicIfPresent(mac);
          return nic !== undefined && ips.every((ip) => nic.privateIps.includes(ip))
            ? nic
            : undefined;
        },
        {
          clock: this.options.clock,
          timeoutMs: this.options.metadataTimeoutMs,
          what: `metadata to show ${eniId} (${mac}) with ${ips.length} IPs`,
          operation: 'metadata',
        },
      );
    } catch (error) {
      if (mode === 'hard' || !isCloudError(error, WAIT_TIMEOUT)) throw error;
      this.options.log.warn({ eniId, mac, ips }, 'metadata does not show the new IPs yet');
      return undefined;
    }
  }

  /**
   * When the account is throttled, giving up on an attach (and deleting the ENI) costs two more
   * mutating calls and a re-create. So a retryable failure is retried until the attach timeout,
   * and an attach that did go through (the answer was lost) is kept. Tries are spaced like the
   * status polls: an ENI mid-transition takes seconds to settle, and each try is an attach plus
   * a Describe out of the account's shared budget.
   */
  private async attachPatiently(eniId: string): Promise<void> {
    const { api, clock, instanceId, log } = this.options;
    const deadline = clock.now() + this.options.attachTimeoutMs;
    let pauseMs = POLL_INITIAL_MS;
    for (;;) {
      try {
        await api.attachNetworkInterface(eniId, instanceId);
        return;
      } catch (error) {
        const eni = await this.describeIfAnswered(eniId);
        const attaching = eni?.status === 'Attaching' || eni?.status === 'InUse';
        if (attaching && eni?.instanceId === instanceId) return;
        // "Invalid state" while our status read was itself refused: look again, do not give up.
        const worthAnotherTry =
          isCloudError(error) &&
          (error.retryable || error.cloudCode === CloudErrorCodes.InvalidEniState);
        const left = deadline - clock.now();
        if (!worthAnotherTry || left <= 0) throw error;
        const waitMs = Math.min(pauseMs, left);
        log.info(
          { eniId, err: error.message, retryInMs: waitMs },
          'attach of a new ENI was refused for now; retrying rather than deleting it',
        );
        await sleep(clock, waitMs);
        pauseMs = nextPollInterval(pauseMs);
      }
    }
  }

  /** The ENI as ECS describes it; undefined when the read itself was throttled or failed. */
  private async describeIfAnswered(eniId: string): Promise<CloudEni | undefined> {
    try {
      return await describeEni(this.options.api, eniId);
    } catch (error) {
      if (isCloudError(error) && error.retryable) return undefined;
      throw error;
    }
  }
}
