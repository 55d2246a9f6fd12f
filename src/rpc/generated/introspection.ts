import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { ApiEntry as _terway_v1_ApiEntry, ApiEntry__Output as _terway_v1_ApiEntry__Output } from './terway/v1/ApiEntry.js';
import type { CloudStatus as _terway_v1_CloudStatus, CloudStatus__Output as _terway_v1_CloudStatus__Output } from './terway/v1/CloudStatus.js';
import type { ENIEntry as _terway_v1_ENIEntry, ENIEntry__Output as _terway_v1_ENIEntry__Output } from './terway/v1/ENIEntry.js';
import type { FlowEntry as _terway_v1_FlowEntry, FlowEntry__Output as _terway_v1_FlowEntry__Output } from './terway/v1/FlowEntry.js';
import type { IPEntry as _terway_v1_IPEntry, IPEntry__Output as _terway_v1_IPEntry__Output } from './terway/v1/IPEntry.js';
import type { Interface as _terway_v1_Interface, Interface__Output as _terway_v1_Interface__Output } from './terway/v1/Interface.js';
import type { IntrospectionClient as _terway_v1_IntrospectionClient, IntrospectionDefinition as _terway_v1_IntrospectionDefinition } from './terway/v1/Introspection.js';
import type { LbBackendEntry as _terway_v1_LbBackendEntry, LbBackendEntry__Output as _terway_v1_LbBackendEntry__Output } from './terway/v1/LbBackendEntry.js';
import type { LbCounters as _terway_v1_LbCounters, LbCounters__Output as _terway_v1_LbCounters__Output } from './terway/v1/LbCounters.js';
import type { LbFrontendEntry as _terway_v1_LbFrontendEntry, LbFrontendEntry__Output as _terway_v1_LbFrontendEntry__Output } from './terway/v1/LbFrontendEntry.js';
import type { ListFlowsReply as _terway_v1_ListFlowsReply, ListFlowsReply__Output as _terway_v1_ListFlowsReply__Output } from './terway/v1/ListFlowsReply.js';
import type { ListFlowsRequest as _terway_v1_ListFlowsRequest, ListFlowsRequest__Output as _terway_v1_ListFlowsRequest__Output } from './terway/v1/ListFlowsRequest.js';
import type { ListMappingsReply as _terway_v1_ListMappingsReply, ListMappingsReply__Output as _terway_v1_ListMappingsReply__Output } from './terway/v1/ListMappingsReply.js';
import type { ListMappingsRequest as _terway_v1_ListMappingsRequest, ListMappingsRequest__Output as _terway_v1_ListMappingsRequest__Output } from './terway/v1/ListMappingsRequest.js';
import type { Mapping as _terway_v1_Mapping, Mapping__Output as _terway_v1_Mapping__Output } from './terway/v1/Mapping.js';
import type { PodNetwork as _terway_v1_PodNetwork, PodNetwork__Output as _terway_v1_PodNetwork__Output } from './terway/v1/PodNetwork.js';
import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from './terway/v1/PodRef.js';
import type { PoolFigures as _terway_v1_PoolFigures, PoolFigures__Output as _terway_v1_PoolFigures__Output } from './terway/v1/PoolFigures.js';
import type { ShowFactoryReply as _terway_v1_ShowFactoryReply, ShowFactoryReply__Output as _terway_v1_ShowFactoryReply__Output } from './terway/v1/ShowFactoryReply.js';
import type { ShowFactoryRequest as _terway_v1_ShowFactoryRequest, ShowFactoryRequest__Output as _terway_v1_ShowFactoryRequest__Output } from './terway/v1/ShowFactoryRequest.js';
import type { ShowServicesReply as _terway_v1_ShowServicesReply, ShowServicesReply__Output as _terway_v1_ShowServicesReply__Output } from './terway/v1/ShowServicesReply.js';
import type { ShowServicesRequest as _terway_v1_ShowServicesRequest, ShowServicesRequest__Output as _terway_v1_ShowServicesRequest__Output } from './terway/v1/ShowServicesRequest.js';
import type { VSwitchEntry as _terway_v1_VSwitchEntry, VSwitchEntry__Output as _terway_v1_VSwitchEntry__Output } from './terway/v1/VSwitchEntry.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  terway: {
    v1: {
      ApiEntry: MessageTypeDefinition<_terway_v1_ApiEntry, _terway_v1_ApiEntry__Output>
      CloudStatus: MessageTypeDefinition<_terway_v1_CloudStatus, _terway_v1_CloudStatus__Output>
      ENIEntry: MessageTypeDefinition<_terway_v1_ENIEntry, _terway_v1_ENIEntry__Output>
      FlowEntry: MessageTypeDefinition<_terway_v1_FlowEntry, _terway_v1_FlowEntry__Output>
      IPEntry: MessageTypeDefinition<_terway_v1_IPEntry, _terway_v1_IPEntry__Output>
      Interface: MessageTypeDefinition<_terway_v1_Interface, _terway_v1_Interface__Output>
      Introspection: SubtypeConstructor<typeof grpc.Client, _terway_v1_IntrospectionClient> & { service: _terway_v1_IntrospectionDefinition }
      LbBackendEntry: MessageTypeDefinition<_terway_v1_LbBackendEntry, _terway_v1_LbBackendEntry__Output>
      LbCounters: MessageTypeDefinition<_terway_v1_LbCounters, _terway_v1_LbCounters__Output>
      LbFrontendEntry: MessageTypeDefinition<_terway_v1_LbFrontendEntry, _terway_v1_LbFrontendEntry__Output>
      ListFlowsReply: MessageTypeDefinition<_terway_v1_ListFlowsReply, _terway_v1_ListFlowsReply__Output>
      ListFlowsRequest: MessageTypeDefinition<_terway_v1_ListFlowsRequest, _terway_v1_ListFlowsRequest__Output>
      ListMappingsReply: MessageTypeDefinition<_terway_v1_ListMappingsReply, _terway_v1_ListMappingsReply__Output>
      ListMappingsRequest: MessageTypeDefinition<_terway_v1_ListMappingsRequest, _terway_v1_ListMappingsRequest__Output>
      Mapping: MessageTypeDefinition<_terway_v1_Mapping, _terway_v1_Mapping__Output>
      PodNetwork: MessageTypeDefinition<_terway_v1_PodNetwork, _terway_v1_PodNetwork__Output>
      PodRef: MessageTypeDefinition<_terway_v1_PodRef, _terway_v1_PodRef__Output>
      PoolFigures: MessageTypeDefinition<_terway_v1_PoolFigures, _terway_v1_PoolFigures__Output>
      ShowFactoryReply: MessageTypeDefinition<_terway_v1_ShowFactoryReply, _terway_v1_ShowFactoryReply__Output>
      ShowFactoryRequest: MessageTypeDefinition<_terway_v1_ShowFactoryRequest, _terway_v1_ShowFactoryRequest__Output>
      ShowServicesReply: MessageTypeDefinition<_terway_v1_ShowServicesReply, _terway_v1_ShowServicesReply__Output>
      ShowServicesRequest: MessageTypeDefinition<_terway_v1_ShowServicesRequest, _terway_v1_ShowServicesRequest__Output>
      VSwitchEntry: MessageTypeDefinition<_terway_v1_VSwitchEntry, _terway_v1_VSwitchEntry__Output>
    }
  }
}

