/**
 * The LB model test's Services: as desired frontends for the reconciler, and the control plane's
 * random moves on them.
 */
import {
  backendKeyOf,
  type BackendKey,
  type DesiredFrontend,
} from '../../../src/lb/desired-frontend.js';
import type { FrameProtocol } from '../../../bench/lb-program/frames.js';
import { PROTOCOLS, SERVICE_PORT, TARGET_PORT, type Model, type ServiceState } from './model.js';

export function frontendsOf(service: ServiceState): DesiredFrontend[] {
  const keys = (ips: string[], protocol: FrameProtocol): BackendKey[] =>
    ips.map((ip) => backendKeyOf({ ip, port: TARGET_PORT[protocol] })).sort((a, b) => a - b);
  return PROTOCOLS.map((protocol) => ({
    address: { ip: service.vip, port: SERVICE_PORT[protocol], protocol },
    service: { namespace: 'model', name: service.name, portName: protocol.toLowerCase() },
    external: false,
    affinityTimeoutSeconds: service.affinity ? 10_800 : 0,
    ready: keys(service.ready, protocol),
    draining: keys(service.draining, protocol),
  }));
}

/**
 * The control plane moves: a drain or its end, a backend removed or added, scale to zero, the
 * Service deleted or re-created.
 */
export function changeService(
  model: Model,
  service: ServiceState,
  random: () => number,
  freshBackend: () => string,
): void {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const { services } = model;
  if (service.deleted) {
    service.deleted = false;
    service.ready = [freshBackend()];
    return;
  }
  const roll = random();
  if (roll < 0.05) {
    // Its flows keep their 4-tuples and backends, and go on once the address is a frontend
    // again. A re-created frontend may get another id, so what affinity remembered is the
    // model's to forget.
    service.deleted = true;
    service.ready = [];
    service.draining = [];
    model.forgetAffinity(service);
    return;
  }
  const listed = [...service.ready, ...service.draining];
  if (roll < 0.4 && service.ready.length > 0) {
    const backend = pick(service.ready);
    service.ready = service.ready.filter((b) => b !== backend);
    service.draining = [...service.draining, backend];
  } else if (roll < 0.6 && service.draining.length > 0) {
    const backend = pick(service.draining);
    service.draining = service.draining.filter((b) => b !== backend);
    service.ready = [...service.ready, backend];
  } else if (roll < 0.75 && listed.length > 0) {
    const backend = pick(listed);
    service.ready = service.ready.filter((b) => b !== backend);
    service.draining = service.draining.filter((b) => b !== backend);
  } else if (roll < 0.95 && service.ready.length < 4) {
    // A backend another Service has, or a new pod.
    const elsewhere = services.flatMap((s) => s.ready).filter((b) => !listed.includes(b));
    service.ready = [
      ...service.ready,
      elsewhere.length > 0 && random() < 0.5 ? pick(elsewhere) : freshBackend(),
    ];
  } else if (roll >= 0.95) {
    service.draining = [...service.draining, ...service.ready];
    service.ready = [];
  }
}
