import { chmodSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { terwayProto } from '../rpc/proto.js';
import { unixTarget } from '../rpc/socket-address.js';

export interface GrpcServices {
  backend: UntypedServiceImplementation;
  introspection: UntypedServiceImplementation;
}

/**
 * grpc-js keeps channelz records (per-call counters and traces) unless told not to; terwayd serves
 * no channelz service, so nobody could read them, and they cost every call allocations.
 */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = { 'grpc.enable_channelz': 0 };

/** Serves both services on a unix socket readable and writable by root only (0600). */
export async function serveOnUnixSocket(
  socketPath: string,
  services: GrpcServices,
): Promise<grpc.Server> {
  const proto = terwayProto();
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(proto.terway.v1.Backend.service, services.backend);
  server.addService(proto.terway.v1.Introspection.service, services.introspection);
  // The umask covers the window between bind() and chmod(); the chmod covers odd umask handling.
  const previousUmask = process.umask(0o177);
  try {
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        unixTarget(socketPath),
        grpc.ServerCredentials.createInsecure(),
        (error, port) => (error === null ? resolve(port) : reject(error)),
      ),
    );
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(socketPath, 0o600);
  return server;
}

/** Lets in-flight calls finish for up to `graceMs`, then cuts the rest off. */
export async function shutdownServer(
  server: grpc.Server,
  graceMs: number,
  onGraceExpired: () => void,
): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      onGraceExpired();
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
