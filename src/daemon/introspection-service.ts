import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CloudProvider, CloudStatus } from '../cloud/provider.js';
import type { IpPool } from '../pool/ip-pool.js';
import type { EniView } from '../pool/pool-snapshot.js';
import type { CloudStatus as CloudStatusMessage } from '../rpc/generated/terway/v1/CloudStatus.js';
import type { ENIEntry } from '../rpc/generated/terway/v1/ENIEntry.js';
import type { ListMappingsReply } from '../rpc/generated/terway/v1/ListMappingsReply.js';
import type { ShowFactoryReply } from '../rpc/generated/terway/v1/ShowFactoryReply.js';
import type { PodNetwork } from './pod-network.js';
import { toPodNetworkMessage } from './pod-network-message.js';
import { streamed } from './stream-handler.js';
import { unary } from './unary-handler.js';
import { listFlows, showServices, type LbIntrospectionSource } from './lb-introspection.js';
import type { ListFlowsRequest } from '../rpc/generated/terway/v1/ListFlowsRequest.js';
import type { ShowServicesRequest } from '../rpc/generated/terway/v1/ShowServicesRequest.js';

export interface IntrospectionDeps {
  pods: PodNetwork;
  pool: IpPool;
  cloud?: CloudProvider;
  /** The Service LB, when the daemon runs one. */
  lb?: LbIntrospectionSource;
  log: Logger;
}

export function introspectionService(deps: IntrospectionDeps): UntypedServiceImplementation {
  const { pods, pool, log, cloud } = deps;
  const lbViews = { lb: deps.lb, pods: () => pods.list().map((view) => view.record) };
  return {
    ShowFactory: unary('ShowFactory', log, async (): Promise<ShowFactoryReply> => {
      const snapshot = pool.snapshot();
      const containers = new Map(
        pods.list().map((view) => [`${view.record.namespace}/${view.record.name}`, view.record]),
      );
      const { limits, ...figures } = snapshot.pool;
      return {
        enis: await Promise.all(
          snapshot.enis.map(async (eni) => ({
            ...toEniEntry(eni, containers),
            link: (await pods.eniLink(eni.mac)) ?? '',
          })),
        ),
        pool: {
          ...figures,
          lastError: figures.lastError ?? '',
          maxEnis: limits.maxEnis,
          ipsPerEni: limits.ipsPerEni,
          capacity: limits.capacity,
          instanceType: limits.instanceType,
        },
        cloud: cloud?.status === undefined ? null : toCloudMessage(cloud.status()),
      };
    }),
    ListMappings: unary('ListMappings', log, async (): Promise<ListMappingsReply> => {
      const mappings = (
        await Promise.all(
          pods.list().map(async (view) => ({
            network: toPodNetworkMessage(view, await pods.interfacesOf(view)),
            ipState: view.ipState ?? 'invalid',
          })),
        )
      ).sort((a, b) => podName(a.network).localeCompare(podName(b.network)));
      return { mappings };
    }),
    ShowServices: streamed('ShowServices', log, (request: ShowServicesRequest) =>
      showServices(lbViews, request.filter ?? ''),
    ),
    ListFlows: streamed('ListFlows', log, (request: ListFlowsRequest) =>
      listFlows(lbViews, request),
    ),
  };
}

function toEniEntry(
  eni: EniView,
  containers: ReadonlyMap<string, { containerId: string }>,
): Omit<ENIEntry, 'link'> {
  return {
    id: eni.id,
    mac: eni.mac,
    status: eni.state,
    primaryIp: eni.primaryIp,
    vswitchId: eni.vswitchId,
    vswitchCidr: eni.vswitchCidr,
    gateway: eni.gateway,
    pendingIps: eni.pendingIps,
    ips: eni.ips.map((ip) => {
      const [namespace = '', name = ''] = ip.owner?.split('/') ?? [];
      return {
        address: ip.address,
        state: ip.state,
        owner:
          ip.owner === undefined
            ? null
            : { namespace, name, containerId: containers.get(ip.owner)?.containerId ?? '' },
        isEniPrimary: ip.isEniPrimary,
        sinceMs: ip.sinceMs,
      };
    }),
  };
}

function toCloudMessage(status: CloudStatus): CloudStatusMessage {
  return {
    kind: status.kind,
    vswitches: status.vswitches.map((vsw) => ({
      id: vsw.id,
      zoneId: vsw.zoneId,
      availableIps: vsw.availableIps ?? -1,
      inhibitedUntilMs: vsw.inhibitedUntilMs ?? 0,
      reason: vsw.reason ?? '',
      excluded: vsw.excluded ?? '',
    })),
    pendingCleanup: status.pendingCleanup,
    apis: status.apis.map((api) => ({ ...api, lastError: api.lastError ?? '' })),
  };
}

function podName(network: { pod?: { namespace?: string; name?: string } | null }): string {
  return `${network.pod?.namespace ?? ''}/${network.pod?.name ?? ''}`;
}
