import { resolve } from 'node:path';

export const DEFAULT_SOCKET_PATH = '/var/run/eni/eni.socket';

/** unix(7) caps sun_path at 108 bytes including the terminator. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The grpc-js target for a unix socket path (relative paths resolve against the cwd). */
export function unixTarget(socketPath: string): string {
  return `unix://${resolve(socketPath)}`;
}
