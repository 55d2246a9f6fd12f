import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import type { ProtoGrpcType as BackendProto } from './generated/backend.js';
import { PROTO_DESCRIPTOR } from './generated/descriptor.js';
import type { ProtoGrpcType as IntrospectionProto } from './generated/introspection.js';

/** Must match the flags scripts/gen-proto.mjs passes to the type generator. */
const LOADER_OPTIONS = { defaults: true, arrays: true } as const;

export type TerwayProto = BackendProto & IntrospectionProto;

let cached: TerwayProto | undefined;

/** The loaded services and messages; built from a pre-generated JSON descriptor (no .proto parsing). */
export function terwayProto(): TerwayProto {
  cached ??= grpc.loadPackageDefinition(
    fromJSON(PROTO_DESCRIPTOR as Parameters<typeof fromJSON>[0], LOADER_OPTIONS),
  ) as unknown as TerwayProto;
  return cached;
}
