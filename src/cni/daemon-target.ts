import { DEFAULT_SOCKET_PATH } from '../rpc/socket-address.js';
import type { CniCommand } from './cni-env.js';
import type { NetConf } from './netconf.js';

/** ADD's deadline: terwayd holds the call while it waits for the pool to refill. */
export const DEFAULT_TIMEOUT_SECONDS = 60;
/** Every other verb touches only local state, so a long wait means something is wrong. */
export const MAX_SHORT_VERB_TIMEOUT_SECONDS = 30;

export interface DaemonTarget {
  socketPath: string;
  timeoutMs: number;
}

export function daemonTarget(verb: CniCommand, conf: NetConf): DaemonTarget {
  const seconds = conf.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS;
  const effective = verb === 'ADD' ? seconds : Math.min(seconds, MAX_SHORT_VERB_TIMEOUT_SECONDS);
  return {
    socketPath: conf.daemon_socket ?? DEFAULT_SOCKET_PATH,
    timeoutMs: Math.round(effective * 1000),
  };
}
