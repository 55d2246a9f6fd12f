// The allocate benchmark's baseline: a gRPC server doing nothing but echo, on a unix socket, in
// its own Node process, built like terwayd's (grpc-js Server with terwayd's options, insecure
// credentials).
// Usage: node dist/bench/allocate/echo-server.js <socket-path>. Prints "ready" once bound.
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { EchoMessage } from './echo-proto.js';
import { GRPC_SERVER_OPTIONS } from '../../src/daemon/grpc-server.js';
import { echoProto } from './echo-proto.js';

const socketPath = process.argv[2];
if (socketPath === undefined) {
  console.error('usage: echo-server <socket-path>');
  process.exit(2);
}

rmSync(socketPath, { force: true });
const server = new grpc.Server(GRPC_SERVER_OPTIONS);
server.addService(echoProto().Echo.service, {
  Echo: (
    call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>,
    callback: grpc.sendUnaryData<EchoMessage>,
  ) => callback(null, call.request),
});
server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error !== null) {
    console.error(`echo-server: cannot bind ${socketPath}: ${error.message}`);
    process.exit(1);
  }
  process.stdout.write('ready\n');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.tryShutdown(() => process.exit(0)));
}
