/**
 * A route netlink socket in one network namespace: the narrow boundary between the pod-side
 * netlink path and the kernel. The real one lives in the daemon's addon (native/src/rtnl.c); tests
 * of the encoding and the plan logic use a scripted fake.
 */
import { loadNativeAddon } from '../../native/addon-loader.js';

export interface RtnlSocket {
  /**
   * Sends one request (which asks for an ack) and returns every reply message carrying its
   * sequence number, ack included. Synchronous: route netlink answers in microseconds.
   */
  exchange(message: Buffer): Buffer;
  close(): void;
}

/** Opens a socket in the namespace at `netnsPath`; throws if it is not one. */
export type RtnlOpener = (netnsPath: string) => RtnlSocket;

interface RtnlAddon {
  rtnlOpen(netnsPath: string): number;
  rtnlExchange(fd: number, message: Buffer): Buffer;
  rtnlClose(fd: number): void;
}

function isRtnlAddon(value: unknown): value is RtnlAddon {
  return typeof value === 'object' && value !== null && 'rtnlOpen' in value;
}

/**
 * The addon's opener, or the reason there is none (not built, or built before it had netlink):
 * the caller then keeps programming pods with `ip`.
 */
export function nativeRtnlOpener(): { opener: RtnlOpener } | { unavailable: string } {
  let addon: unknown;
  try {
    addon = loadNativeAddon();
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) };
  }
  if (!isRtnlAddon(addon)) return { unavailable: 'the terway_bpf addon has no rtnl functions' };
  const native = addon;
  return {
    opener: (netnsPath) => {
      const fd = native.rtnlOpen(netnsPath);
      let open = true;
      return {
        exchange: (message) => {
          if (!open) throw new Error('the netlink socket is closed');
          return native.rtnlExchange(fd, message);
        },
        close: () => {
          if (!open) return;
          open = false;
          native.rtnlClose(fd);
        },
      };
    },
  };
}
