import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AllocateIPReply as _terway_v1_AllocateIPReply, AllocateIPReply__Output as _terway_v1_AllocateIPReply__Output } from './terway/v1/AllocateIPReply.js';
import type { AllocateIPRequest as _terway_v1_AllocateIPRequest, AllocateIPRequest__Output as _terway_v1_AllocateIPRequest__Output } from './terway/v1/AllocateIPRequest.js';
import type { Attachment as _terway_v1_Attachment, Attachment__Output as _terway_v1_Attachment__Output } from './terway/v1/Attachment.js';
import type { BackendClient as _terway_v1_BackendClient, BackendDefinition as _terway_v1_BackendDefinition } from './terway/v1/Backend.js';
import type { GarbageCollectReply as _terway_v1_GarbageCollectReply, GarbageCollectReply__Output as _terway_v1_GarbageCollectReply__Output } from './terway/v1/GarbageCollectReply.js';
import type { GarbageCollectRequest as _terway_v1_GarbageCollectRequest, GarbageCollectRequest__Output as _terway_v1_GarbageCollectRequest__Output } from './terway/v1/GarbageCollectRequest.js';
import type { GetIPInfoReply as _terway_v1_GetIPInfoReply, GetIPInfoReply__Output as _terway_v1_GetIPInfoReply__Output } from './terway/v1/GetIPInfoReply.js';
import type { GetIPInfoRequest as _terway_v1_GetIPInfoRequest, GetIPInfoRequest__Output as _terway_v1_GetIPInfoRequest__Output } from './terway/v1/GetIPInfoRequest.js';
import type { Interface as _terway_v1_Interface, Interface__Output as _terway_v1_Interface__Output } from './terway/v1/Interface.js';
import type { PodNetwork as _terway_v1_PodNetwork, PodNetwork__Output as _terway_v1_PodNetwork__Output } from './terway/v1/PodNetwork.js';
import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from './terway/v1/PodRef.js';
import type { ReleaseIPReply as _terway_v1_ReleaseIPReply, ReleaseIPReply__Output as _terway_v1_ReleaseIPReply__Output } from './terway/v1/ReleaseIPReply.js';
import type { ReleaseIPRequest as _terway_v1_ReleaseIPRequest, ReleaseIPRequest__Output as _terway_v1_ReleaseIPRequest__Output } from './terway/v1/ReleaseIPRequest.js';
import type { StatusReply as _terway_v1_StatusReply, StatusReply__Output as _terway_v1_StatusReply__Output } from './terway/v1/StatusReply.js';
import type { StatusRequest as _terway_v1_StatusRequest, StatusRequest__Output as _terway_v1_StatusRequest__Output } from './terway/v1/StatusRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  terway: {
    v1: {
      AllocateIPReply: MessageTypeDefinition<_terway_v1_AllocateIPReply, _terway_v1_AllocateIPReply__Output>
      AllocateIPRequest: MessageTypeDefinition<_terway_v1_AllocateIPRequest, _terway_v1_AllocateIPRequest__Output>
      Attachment: MessageTypeDefinition<_terway_v1_Attachment, _terway_v1_Attachment__Output>
      Backend: SubtypeConstructor<typeof grpc.Client, _terway_v1_BackendClient> & { service: _terway_v1_BackendDefinition }
      GarbageCollectReply: MessageTypeDefinition<_terway_v1_GarbageCollectReply, _terway_v1_GarbageCollectReply__Output>
      GarbageCollectRequest: MessageTypeDefinition<_terway_v1_GarbageCollectRequest, _terway_v1_GarbageCollectRequest__Output>
      GetIPInfoReply: MessageTypeDefinition<_terway_v1_GetIPInfoReply, _terway_v1_GetIPInfoReply__Output>
      GetIPInfoRequest: MessageTypeDefinition<_terway_v1_GetIPInfoRequest, _terway_v1_GetIPInfoRequest__Output>
      Interface: MessageTypeDefinition<_terway_v1_Interface, _terway_v1_Interface__Output>
      PodNetwork: MessageTypeDefinition<_terway_v1_PodNetwork, _terway_v1_PodNetwork__Output>
      PodRef: MessageTypeDefinition<_terway_v1_PodRef, _terway_v1_PodRef__Output>
      ReleaseIPReply: MessageTypeDefinition<_terway_v1_ReleaseIPReply, _terway_v1_ReleaseIPReply__Output>
      ReleaseIPRequest: MessageTypeDefinition<_terway_v1_ReleaseIPRequest, _terway_v1_ReleaseIPRequest__Output>
      StatusReply: MessageTypeDefinition<_terway_v1_StatusReply, _terway_v1_StatusReply__Output>
      StatusRequest: MessageTypeDefinition<_terway_v1_StatusRequest, _terway_v1_StatusRequest__Output>
    }
  }
}

