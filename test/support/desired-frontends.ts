/** Desired frontends as the unit tests of the load balancer write them. */
import {
  backendKeyOf,
  type BackendKey,
  type DesiredFrontend,
} from '../../src/lb/desired-frontend.js';

/** Backends on port 8080, the tests' target port. */
export function backends(...ips: string[]): BackendKey[] {
  return ips.map((ip) => backendKeyOf({ ip, port: 8080 }));
}

/** A TCP port-80 frontend of Service default/web (port `http`); `extra` overrides any field. */
export function frontend(
  ip: string,
  ready: BackendKey[],
  extra: Partial<DesiredFrontend> = {},
): DesiredFrontend {
  return {
    address: { ip, port: 80, protocol: 'TCP' },
    service: { namespace: 'default', name: 'web', portName: 'http' },
    external: false,
    affinityTimeoutSeconds: 0,
    ready,
    draining: [],
    ...extra,
  };
}
