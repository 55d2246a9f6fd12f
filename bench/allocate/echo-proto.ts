import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';

/**
 * The baseline service: one unary method that returns its request. Its message carries the same
 * three strings as the daemon's PodRef so both benchmarks move comparable bytes.
 */
const ECHO_DESCRIPTOR = {
  nested: {
    bench: {
      nested: {
        EchoMessage: {
          fields: {
            namespace: { type: 'string', id: 1 },
            name: { type: 'string', id: 2 },
            containerId: { type: 'string', id: 3 },
          },
        },
        Echo: {
          methods: {
            Echo: { requestType: 'EchoMessage', responseType: 'EchoMessage' },
          },
        },
      },
    },
  },
} as const;

export interface EchoMessage {
  namespace: string;
  name: string;
  containerId: string;
}

export interface EchoClient extends grpc.Client {
  Echo(
    request: EchoMessage,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<EchoMessage>,
  ): grpc.ClientUnaryCall;
}

type EchoClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => EchoClient;

interface EchoPackage {
  bench: { Echo: EchoClientConstructor & { service: grpc.ServiceDefinition } };
}

/** Same loader options as the daemon's own proto (src/rpc/proto.ts). */
export function echoProto(): EchoPackage['bench'] {
  const definition = fromJSON(ECHO_DESCRIPTOR as Parameters<typeof fromJSON>[0], {
    defaults: true,
    arrays: true,
  });
  return (grpc.loadPackageDefinition(definition) as unknown as EchoPackage).bench;
}
