// Original file: proto/terway/v1/introspection.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ListMappingsReply as _terway_v1_ListMappingsReply, ListMappingsReply__Output as _terway_v1_ListMappingsReply__Output } from '../../terway/v1/ListMappingsReply.js';
import type { ListMappingsRequest as _terway_v1_ListMappingsRequest, ListMappingsRequest__Output as _terway_v1_ListMappingsRequest__Output } from '../../terway/v1/ListMappingsRequest.js';
import type { ShowFactoryReply as _terway_v1_ShowFactoryReply, ShowFactoryReply__Output as _terway_v1_ShowFactoryReply__Output } from '../../terway/v1/ShowFactoryReply.js';
import type { ShowFactoryRequest as _terway_v1_ShowFactoryRequest, ShowFactoryRequest__Output as _terway_v1_ShowFactoryRequest__Output } from '../../terway/v1/ShowFactoryRequest.js';

export interface IntrospectionClient extends grpc.Client {
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
  
}

export interface IntrospectionHandlers extends grpc.UntypedServiceImplementation {
  ListMappings: grpc.handleUnaryCall<_terway_v1_ListMappingsRequest__Output, _terway_v1_ListMappingsReply>;
  
  ShowFactory: grpc.handleUnaryCall<_terway_v1_ShowFactoryRequest__Output, _terway_v1_ShowFactoryReply>;
  
}

export interface IntrospectionDefinition extends grpc.ServiceDefinition {
  ListMappings: MethodDefinition<_terway_v1_ListMappingsRequest, _terway_v1_ListMappingsReply, _terway_v1_ListMappingsRequest__Output, _terway_v1_ListMappingsReply__Output>
  ShowFactory: MethodDefinition<_terway_v1_ShowFactoryRequest, _terway_v1_ShowFactoryReply, _terway_v1_ShowFactoryRequest__Output, _terway_v1_ShowFactoryReply__Output>
}
