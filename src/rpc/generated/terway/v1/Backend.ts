// Original file: proto/terway/v1/backend.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AllocateIPReply as _terway_v1_AllocateIPReply, AllocateIPReply__Output as _terway_v1_AllocateIPReply__Output } from '../../terway/v1/AllocateIPReply.js';
import type { AllocateIPRequest as _terway_v1_AllocateIPRequest, AllocateIPRequest__Output as _terway_v1_AllocateIPRequest__Output } from '../../terway/v1/AllocateIPRequest.js';
import type { GarbageCollectReply as _terway_v1_GarbageCollectReply, GarbageCollectReply__Output as _terway_v1_GarbageCollectReply__Output } from '../../terway/v1/GarbageCollectReply.js';
import type { GarbageCollectRequest as _terway_v1_GarbageCollectRequest, GarbageCollectRequest__Output as _terway_v1_GarbageCollectRequest__Output } from '../../terway/v1/GarbageCollectRequest.js';
import type { GetIPInfoReply as _terway_v1_GetIPInfoReply, GetIPInfoReply__Output as _terway_v1_GetIPInfoReply__Output } from '../../terway/v1/GetIPInfoReply.js';
import type { GetIPInfoRequest as _terway_v1_GetIPInfoRequest, GetIPInfoRequest__Output as _terway_v1_GetIPInfoRequest__Output } from '../../terway/v1/GetIPInfoRequest.js';
import type { ReleaseIPReply as _terway_v1_ReleaseIPReply, ReleaseIPReply__Output as _terway_v1_ReleaseIPReply__Output } from '../../terway/v1/ReleaseIPReply.js';
import type { ReleaseIPRequest as _terway_v1_ReleaseIPRequest, ReleaseIPRequest__Output as _terway_v1_ReleaseIPRequest__Output } from '../../terway/v1/ReleaseIPRequest.js';
import type { StatusReply as _terway_v1_StatusReply, StatusReply__Output as _terway_v1_StatusReply__Output } from '../../terway/v1/StatusReply.js';
import type { StatusRequest as _terway_v1_StatusRequest, StatusRequest__Output as _terway_v1_StatusRequest__Output } from '../../terway/v1/StatusRequest.js';

export interface BackendClient extends grpc.Client {
  AllocateIP(argument: _terway_v1_AllocateIPRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  AllocateIP(argument: _terway_v1_AllocateIPRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  AllocateIP(argument: _terway_v1_AllocateIPRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  AllocateIP(argument: _terway_v1_AllocateIPRequest, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  allocateIp(argument: _terway_v1_AllocateIPRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  allocateIp(argument: _terway_v1_AllocateIPRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  allocateIp(argument: _terway_v1_AllocateIPRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  allocateIp(argument: _terway_v1_AllocateIPRequest, callback: grpc.requestCallback<_terway_v1_AllocateIPReply__Output>): grpc.ClientUnaryCall;
  
  GarbageCollect(argument: _terway_v1_GarbageCollectRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  GarbageCollect(argument: _terway_v1_GarbageCollectRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  GarbageCollect(argument: _terway_v1_GarbageCollectRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  GarbageCollect(argument: _terway_v1_GarbageCollectRequest, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  garbageCollect(argument: _terway_v1_GarbageCollectRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  garbageCollect(argument: _terway_v1_GarbageCollectRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  garbageCollect(argument: _terway_v1_GarbageCollectRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  garbageCollect(argument: _terway_v1_GarbageCollectRequest, callback: grpc.requestCallback<_terway_v1_GarbageCollectReply__Output>): grpc.ClientUnaryCall;
  
  GetIPInfo(argument: _terway_v1_GetIPInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  GetIPInfo(argument: _terway_v1_GetIPInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  GetIPInfo(argument: _terway_v1_GetIPInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  GetIPInfo(argument: _terway_v1_GetIPInfoRequest, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  getIpInfo(argument: _terway_v1_GetIPInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  getIpInfo(argument: _terway_v1_GetIPInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  getIpInfo(argument: _terway_v1_GetIPInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  getIpInfo(argument: _terway_v1_GetIPInfoRequest, callback: grpc.requestCallback<_terway_v1_GetIPInfoReply__Output>): grpc.ClientUnaryCall;
  
  ReleaseIP(argument: _terway_v1_ReleaseIPRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  ReleaseIP(argument: _terway_v1_ReleaseIPRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  ReleaseIP(argument: _terway_v1_ReleaseIPRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  ReleaseIP(argument: _terway_v1_ReleaseIPRequest, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  releaseIp(argument: _terway_v1_ReleaseIPRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  releaseIp(argument: _terway_v1_ReleaseIPRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  releaseIp(argument: _terway_v1_ReleaseIPRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  releaseIp(argument: _terway_v1_ReleaseIPRequest, callback: grpc.requestCallback<_terway_v1_ReleaseIPReply__Output>): grpc.ClientUnaryCall;
  
  Status(argument: _terway_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _terway_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _terway_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _terway_v1_StatusRequest, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _terway_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _terway_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _terway_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _terway_v1_StatusRequest, callback: grpc.requestCallback<_terway_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  
}

export interface BackendHandlers extends grpc.UntypedServiceImplementation {
  AllocateIP: grpc.handleUnaryCall<_terway_v1_AllocateIPRequest__Output, _terway_v1_AllocateIPReply>;
  
  GarbageCollect: grpc.handleUnaryCall<_terway_v1_GarbageCollectRequest__Output, _terway_v1_GarbageCollectReply>;
  
  GetIPInfo: grpc.handleUnaryCall<_terway_v1_GetIPInfoRequest__Output, _terway_v1_GetIPInfoReply>;
  
  ReleaseIP: grpc.handleUnaryCall<_terway_v1_ReleaseIPRequest__Output, _terway_v1_ReleaseIPReply>;
  
  Status: grpc.handleUnaryCall<_terway_v1_StatusRequest__Output, _terway_v1_StatusReply>;
  
}

export interface BackendDefinition extends grpc.ServiceDefinition {
  AllocateIP: MethodDefinition<_terway_v1_AllocateIPRequest, _terway_v1_AllocateIPReply, _terway_v1_AllocateIPRequest__Output, _terway_v1_AllocateIPReply__Output>
  GarbageCollect: MethodDefinition<_terway_v1_GarbageCollectRequest, _terway_v1_GarbageCollectReply, _terway_v1_GarbageCollectRequest__Output, _terway_v1_GarbageCollectReply__Output>
  GetIPInfo: MethodDefinition<_terway_v1_GetIPInfoRequest, _terway_v1_GetIPInfoReply, _terway_v1_GetIPInfoRequest__Output, _terway_v1_GetIPInfoReply__Output>
  ReleaseIP: MethodDefinition<_terway_v1_ReleaseIPRequest, _terway_v1_ReleaseIPReply, _terway_v1_ReleaseIPRequest__Output, _terway_v1_ReleaseIPReply__Output>
  Status: MethodDefinition<_terway_v1_StatusRequest, _terway_v1_StatusReply, _terway_v1_StatusRequest__Output, _terway_v1_StatusReply__Output>
}
