// Original file: proto/terway/v1/introspection.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ListFlowsReply as _terway_v1_ListFlowsReply, ListFlowsReply__Output as _terway_v1_ListFlowsReply__Output } from '../../terway/v1/ListFlowsReply.js';
import type { ListFlowsRequest as _terway_v1_ListFlowsRequest, ListFlowsRequest__Output as _terway_v1_ListFlowsRequest__Output } from '../../terway/v1/ListFlowsRequest.js';
import type { ListMappingsReply as _terway_v1_ListMappingsReply, ListMappingsReply__Output as _terway_v1_ListMappingsReply__Output } from '../../terway/v1/ListMappingsReply.js';
import type { ListMappingsRequest as _terway_v1_ListMappingsRequest, ListMappingsRequest__Output as _terway_v1_ListMappingsRequest__Output } from '../../terway/v1/ListMappingsRequest.js';
import type { ShowFactoryReply as _terway_v1_ShowFactoryReply, ShowFactoryReply__Output as _terway_v1_ShowFactoryReply__Output } from '../../terway/v1/ShowFactoryReply.js';
import type { ShowFactoryRequest as _terway_v1_ShowFactoryRequest, ShowFactoryRequest__Output as _terway_v1_ShowFactoryRequest__Output } from '../../terway/v1/ShowFactoryRequest.js';
import type { ShowServicesReply as _terway_v1_ShowServicesReply, ShowServicesReply__Output as _terway_v1_ShowServicesReply__Output } from '../../terway/v1/ShowServicesReply.js';
import type { ShowServicesRequest as _terway_v1_ShowServicesRequest, ShowServicesRequest__Output as _terway_v1_ShowServicesRequest__Output } from '../../terway/v1/ShowServicesRequest.js';

export interface IntrospectionClient extends grpc.Client {
  ListFlows(argument: _terway_v1_ListFlowsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ListFlowsReply__Output>;
  ListFlows(argument: _terway_v1_ListFlowsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ListFlowsReply__Output>;
  listFlows(argument: _terway_v1_ListFlowsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ListFlowsReply__Output>;
  listFlows(argument: _terway_v1_ListFlowsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ListFlowsReply__Output>;
  
  ListMappings(argument: _terway_v1_ListMappingsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  ListMappings(argument: _terway_v1_ListMappingsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  ListMappings(argument: _terway_v1_ListMappingsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  ListMappings(argument: _terway_v1_ListMappingsRequest, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  listMappings(argument: _terway_v1_ListMappingsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  listMappings(argument: _terway_v1_ListMappingsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  listMappings(argument: _terway_v1_ListMappingsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  listMappings(argument: _terway_v1_ListMappingsRequest, callback: grpc.requestCallback<_terway_v1_ListMappingsReply__Output>): grpc.ClientUnaryCall;
  
  ShowFactory(argument: _terway_v1_ShowFactoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  ShowFactory(argument: _terway_v1_ShowFactoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  ShowFactory(argument: _terway_v1_ShowFactoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  ShowFactory(argument: _terway_v1_ShowFactoryRequest, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  showFactory(argument: _terway_v1_ShowFactoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  showFactory(argument: _terway_v1_ShowFactoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  showFactory(argument: _terway_v1_ShowFactoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  showFactory(argument: _terway_v1_ShowFactoryRequest, callback: grpc.requestCallback<_terway_v1_ShowFactoryReply__Output>): grpc.ClientUnaryCall;
  
  ShowServices(argument: _terway_v1_ShowServicesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ShowServicesReply__Output>;
  ShowServices(argument: _terway_v1_ShowServicesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ShowServicesReply__Output>;
  showServices(argument: _terway_v1_ShowServicesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ShowServicesReply__Output>;
  showServices(argument: _terway_v1_ShowServicesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_terway_v1_ShowServicesReply__Output>;
  
}

export interface IntrospectionHandlers extends grpc.UntypedServiceImplementation {
  ListFlows: grpc.handleServerStreamingCall<_terway_v1_ListFlowsRequest__Output, _terway_v1_ListFlowsReply>;
  
  ListMappings: grpc.handleUnaryCall<_terway_v1_ListMappingsRequest__Output, _terway_v1_ListMappingsReply>;
  
  ShowFactory: grpc.handleUnaryCall<_terway_v1_ShowFactoryRequest__Output, _terway_v1_ShowFactoryReply>;
  
  ShowServices: grpc.handleServerStreamingCall<_terway_v1_ShowServicesRequest__Output, _terway_v1_ShowServicesReply>;
  
}

export interface IntrospectionDefinition extends grpc.ServiceDefinition {
  ListFlows: MethodDefinition<_terway_v1_ListFlowsRequest, _terway_v1_ListFlowsReply, _terway_v1_ListFlowsRequest__Output, _terway_v1_ListFlowsReply__Output>
  ListMappings: MethodDefinition<_terway_v1_ListMappingsRequest, _terway_v1_ListMappingsReply, _terway_v1_ListMappingsRequest__Output, _terway_v1_ListMappingsReply__Output>
  ShowFactory: MethodDefinition<_terway_v1_ShowFactoryRequest, _terway_v1_ShowFactoryReply, _terway_v1_ShowFactoryRequest__Output, _terway_v1_ShowFactoryReply__Output>
  ShowServices: MethodDefinition<_terway_v1_ShowServicesRequest, _terway_v1_ShowServicesReply, _terway_v1_ShowServicesRequest__Output, _terway_v1_ShowServicesReply__Output>
}
