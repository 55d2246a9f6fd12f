/**
 * The emulator's lab hook: every ENI the emulator attaches to a lab node appears in that node's
 * namespace as a real link with the ENI's MAC (named eth<device index>, as on ECS), and goes
 * away on detach; after every API call the VPC's IP → ENI table is brought up to date before
 * the caller gets its answer. Kernel work is queued, so hooks never race each other.
 */
import type { EmulatedEniSnapshot, EmulatorLogger, LabHook } from '../emulator/ecs-emulator.js';
import type { VpcNetwork } from './vpc-network.js';

export class EniMirror implements LabHook {
  private tail: Promise<void> = Promise.resolve();
  private snapshot: () => EmulatedEniSnapshot[] = () => [];

  constructor(
    private readonly vpc: VpcNetwork,
    /** instance id → node namespace, for the instances that are lab nodes. */
    private readonly nodes: Map<string, string>,
    private readonly logger: EmulatorLogger,
  ) {}

  /** The emulator exists only after its hook does; it hands its state back here. */
  watch(snapshot: () => EmulatedEniSnapshot[]): void {
    this.snapshot = snapshot;
  }

  onAttached(event: { instanceId: string; eniId: string; mac: string }): Promise<void> {
    const netns = this.nodes.get(event.instanceId);
    if (netns === undefined) return Promise.resolve();
    const index = this.snapshot().find((eni) => eni.id === event.eniId)?.deviceIndex;
    return this.enqueue(async () => {
      await this.vpc.plug(netns, event.mac, `eth${index ?? event.eniId.slice(-4)}`);
      await this.syncNow();
    });
  }

  onDetached(event: { instanceId: string; mac: string }): Promise<void> {
    if (!this.nodes.has(event.instanceId)) return Promise.resolve();
    return this.enqueue(async () => {
      await this.vpc.unplug(event.mac);
      await this.syncNow();
    });
  }

  settle(): Promise<void> {
    return this.enqueue(() => this.syncNow());
  }

  private async syncNow(): Promise<void> {
    const desired = new Map<string, string>();
    for (const eni of this.snapshot()) {
      if (eni.instanceId === undefined || !this.nodes.has(eni.instanceId)) continue;
      // Only a plugged ENI can receive: the primary always is, a secondary once InUse.
      if (eni.type !== 'Primary' && eni.status !== 'InUse') continue;
      for (const ip of eni.privateIps) desired.set(ip, eni.mac);
    }
    await this.vpc.syncNeighbors(desired);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.tail.then(work);
    this.tail = run.catch((error: unknown) =>
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'lab network update failed',
      ),
    );
    return run;
  }
}
