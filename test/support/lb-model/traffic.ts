/**
 * What clients and backends send in the LB model test, each packet run through the programs and
 * checked against the model (model.ts): new connections, their later packets both ways, closes,
 * direct connections from held ports, and ICMP errors.
 */
import { buildFrame, TCP_FLAGS, type FrameProtocol } from '../../../bench/lb-program/frames.js';
import { buildIcmpError, readIcmpError, type IcmpErrorSeen } from '../icmp-error-frames.js';
import {
  describeFlow,
  describeSeen,
  dialled,
  inMovedRange,
  SERVICE_PORT,
  TARGET_PORT,
  TC_ACT_OK,
  type Model,
  type ModelFlow,
  type ServiceState,
} from './model.js';

/**
 * A packet of an open flow, from the client: to its backend, from its port on the wire. While its
 * Service is deleted it leaves as it is (the flow waits for the address to come back as a
 * frontend; its backend's answers are still translated).
 */
export function clientPacket(model: Model, flow: ModelFlow, tcpFlags: number): void {
  const to = dialled(flow);
  const seen = model.egress(
    buildFrame({
      protocol: flow.protocol,
      src: flow.client,
      sport: flow.clientPort,
      dst: to.ip,
      dport: to.port,
      tcpFlags,
    }),
  );
  if (flow.service?.deleted) {
    model.check(
      model.passes(seen.retval) &&
        seen.dst === to.ip &&
        seen.dport === to.port &&
        seen.sport === flow.clientPort,
      () =>
        `${describeFlow(flow)}: its Service is deleted, but a client packet became ${describeSeen(seen)}`,
    );
    return;
  }
  model.check(
    model.passes(seen.retval) &&
      seen.dst === flow.backend &&
      seen.dport === TARGET_PORT[flow.protocol] &&
      seen.src === flow.client &&
      seen.sport === flow.wirePort &&
      seen.checksumsValid,
    () =>
      `${describeFlow(flow)}: a client packet (flags ${tcpFlags}) became ${describeSeen(seen)}, checksums ${seen.checksumsValid ? 'valid' : 'INVALID'}`,
  );
}

/** A packet of an open flow, from its backend: to the client's own port, from what it dialled. */
export function backendPacket(model: Model, flow: ModelFlow, tcpFlags: number): void {
  const from = dialled(flow);
  const seen = model.ingress(
    buildFrame({
      protocol: flow.protocol,
      src: flow.backend,
      sport: TARGET_PORT[flow.protocol],
      dst: flow.client,
      dport: flow.wirePort,
      tcpFlags,
    }),
  );
  model.check(
    seen.retval === TC_ACT_OK &&
      seen.src === from.ip &&
      seen.sport === from.port &&
      seen.dst === flow.client &&
      seen.dport === flow.clientPort &&
      seen.checksumsValid,
    () =>
      `${describeFlow(flow)}: a backend packet (flags ${tcpFlags}) became ${describeSeen(seen)}, checksums ${seen.checksumsValid ? 'valid' : 'INVALID'}`,
  );
}

/** The answer to a new flow's first packet (a SYN-ACK, or the reply datagram), and the ACK. */
function handshake(model: Model, flow: ModelFlow): void {
  backendPacket(model, flow, flow.protocol === 'TCP' ? TCP_FLAGS.syn | TCP_FLAGS.ack : 0);
  if (flow.protocol === 'TCP') clientPacket(model, flow, TCP_FLAGS.ack);
}

/** A client's new connection (TCP SYN, or a first datagram) from a port not open to that frontend. */
export function open(
  model: Model,
  client: string,
  clientPort: number,
  service: ServiceState,
  protocol: FrameProtocol,
): void {
  const tuple = (backend: string, port: number) => model.holder(client, port, backend, protocol);
  const takenFromOwnPort = service.ready.filter((b) => tuple(b, clientPort) !== undefined);
  const affinityKey = `${client}/${protocol}`;
  const affinity = model.affinityOf(service);
  const remembered = service.affinity ? affinity.get(affinityKey) : undefined;
  const seen = model.egress(
    buildFrame({
      protocol,
      src: client,
      sport: clientPort,
      dst: service.vip,
      dport: SERVICE_PORT[protocol],
      tcpFlags: protocol === 'TCP' ? TCP_FLAGS.syn : 0,
    }),
  );
  const what = `${protocol} ${client}:${clientPort} → ${service.name} (${service.vip}, ready ${service.ready.join(' ') || 'none'})`;
  if (service.deleted) {
    // No frontend any more: the address is just an address, and the packet leaves as it is.
    model.check(
      model.passes(seen.retval) &&
        seen.dst === service.vip &&
        seen.dport === SERVICE_PORT[protocol] &&
        seen.sport === clientPort,
      () => `${what}: the Service is deleted, but its address became ${describeSeen(seen)}`,
    );
    model.counts.unserved++;
    return;
  }
  if (seen.dst === client) {
    // Turned back to the client: a reset, or ICMP port unreachable.
    model.counts.refused++;
    model.check(
      service.ready.length === 0,
      () => `${what}: refused (${describeSeen(seen)}) with ready backends`,
    );
    model.check(
      protocol === 'TCP' ? (seen.tcpFlags & TCP_FLAGS.rst) !== 0 : seen.protocol === 1,
      () => `${what}: refused with ${describeSeen(seen)}, neither a reset nor ICMP`,
    );
    return;
  }
  const backend = seen.dst;
  const wirePort = seen.sport;
  model.check(
    service.ready.length > 0,
    () => `${what}: balanced to ${describeSeen(seen)} with no ready backend`,
  );
  model.check(
    model.passes(seen.retval) &&
      service.ready.includes(backend) &&
      seen.dport === TARGET_PORT[protocol],
    () => `${what}: went to ${describeSeen(seen)}, not a ready backend`,
  );
  model.check(seen.checksumsValid, () => `${what}: ${describeSeen(seen)} with invalid checksums`);
  const holder = tuple(backend, wirePort);
  model.check(
    holder === undefined,
    () =>
      `${what}: took ${client}:${wirePort} → ${backend}, the 4-tuple of ${describeFlow(holder!)}`,
  );
  if (wirePort !== clientPort) {
    model.counts.moved++;
    model.check(
      inMovedRange(wirePort),
      () => `${what}: moved to port ${wirePort}, outside the moved range`,
    );
    // Moved only when no ready backend was free from the client's own port (up to four are
    // tried, and no Service here has more than four).
    model.check(
      takenFromOwnPort.length === service.ready.length,
      () =>
        `${what}: moved to ${wirePort} though ${service.ready.filter((b) => !takenFromOwnPort.includes(b)).join(' ')} was free from ${clientPort}`,
    );
  } else if (takenFromOwnPort.length > 0) {
    model.counts.contended++;
  }
  if (service.affinity) {
    const rememberedFree =
      remembered !== undefined &&
      service.ready.includes(remembered) &&
      tuple(remembered, clientPort) === undefined;
    if (rememberedFree) {
      model.check(
        backend === remembered && wirePort === clientPort,
        () =>
          `${what}: affinity remembers ${remembered}, free from ${clientPort}, but it went to ${describeSeen(seen)}`,
      );
    }
    // Affinity records the random draw, before its tuple is checked. With no tuple taken, the
    // draw is the backend seen; after a clash the model cannot tell which was drawn first, so it
    // stops predicting until the next clean draw.
    const drew = remembered === undefined || !service.ready.includes(remembered);
    if (drew && takenFromOwnPort.length === 0) affinity.set(affinityKey, backend);
    else if (drew) affinity.delete(affinityKey);
  }
  const flow: ModelFlow = { service, protocol, client, clientPort, backend, wirePort };
  model.flows.push(flow);
  model.counts.opened++;
  handshake(model, flow);
}

/**
 * A direct connection to the backend of an open Service flow, from the port that flow holds
 * towards it: the programs must move it, or the two would be one 4-tuple on the wire.
 */
export function openDirect(model: Model, over: ModelFlow): void {
  const { client, wirePort: clientPort, backend, protocol } = over;
  const seen = model.egress(
    buildFrame({
      protocol,
      src: client,
      sport: clientPort,
      dst: backend,
      dport: TARGET_PORT[protocol],
      tcpFlags: protocol === 'TCP' ? TCP_FLAGS.syn : 0,
    }),
  );
  const what = `${protocol} ${client}:${clientPort} → ${backend} directly, over ${describeFlow(over)}`;
  model.check(
    model.passes(seen.retval) &&
      seen.src === client &&
      seen.dst === backend &&
      seen.dport === TARGET_PORT[protocol] &&
      inMovedRange(seen.sport) &&
      seen.checksumsValid,
    () => `${what}: became ${describeSeen(seen)}, not moved off the held port`,
  );
  if (!inMovedRange(seen.sport)) return;
  const holder = model.holder(client, seen.sport, backend, protocol);
  model.check(
    holder === undefined,
    () => `${what}: moved to ${seen.sport}, the 4-tuple of ${describeFlow(holder!)}`,
  );
  const flow: ModelFlow = {
    service: undefined,
    protocol,
    client,
    clientPort,
    backend,
    wirePort: seen.sport,
  };
  model.flows.push(flow);
  model.counts.direct++;
  handshake(model, flow);
}

function describeIcmp(retval: number, seen: IcmpErrorSeen): string {
  const { quoted: q } = seen;
  return `ICMP ${seen.src} → ${seen.dst} about ${q.src}:${q.sport} → ${q.dst}:${q.dport} (retval ${retval}, checksums ${seen.checksumsValid ? 'valid' : 'INVALID'})`;
}

/**
 * ICMP errors about an open flow's packets, both ways (a port unreachable each): each must reach
 * its receiver naming the packet as that side sent it, or the kernel finds no socket to tell.
 * Errors are translated whatever became of the frontend: the flow is what they are about.
 */
export function icmpErrors(model: Model, flow: ModelFlow): void {
  const to = dialled(flow);
  const target = TARGET_PORT[flow.protocol];
  // From the backend, about the client's packet as it arrived there.
  const up = model.ingressRun(
    buildIcmpError({
      src: flow.backend,
      dst: flow.client,
      quoted: {
        protocol: flow.protocol,
        src: flow.client,
        sport: flow.wirePort,
        dst: flow.backend,
        dport: target,
      },
    }),
  );
  const fromBackend = readIcmpError(up.frame);
  model.check(
    up.retval === TC_ACT_OK &&
      fromBackend.protocol === 1 &&
      fromBackend.src === to.ip &&
      fromBackend.dst === flow.client &&
      fromBackend.quoted.src === flow.client &&
      fromBackend.quoted.sport === flow.clientPort &&
      fromBackend.quoted.dst === to.ip &&
      fromBackend.quoted.dport === to.port &&
      fromBackend.checksumsValid,
    () =>
      `${describeFlow(flow)}: the backend's ICMP error became ${describeIcmp(up.retval, fromBackend)}`,
  );
  // From the client, about the backend's packet as it arrived there.
  const down = model.egressRun(
    buildIcmpError({
      src: flow.client,
      dst: to.ip,
      quoted: {
        protocol: flow.protocol,
        src: to.ip,
        sport: to.port,
        dst: flow.client,
        dport: flow.clientPort,
      },
    }),
  );
  const fromClient = readIcmpError(down.frame);
  model.check(
    model.passes(down.retval) &&
      fromClient.protocol === 1 &&
      fromClient.src === flow.client &&
      fromClient.dst === flow.backend &&
      fromClient.quoted.src === flow.backend &&
      fromClient.quoted.sport === target &&
      fromClient.quoted.dst === flow.client &&
      fromClient.quoted.dport === flow.wirePort &&
      fromClient.checksumsValid,
    () =>
      `${describeFlow(flow)}: the client's ICMP error became ${describeIcmp(down.retval, fromClient)}`,
  );
  model.counts.icmp++;
}

/** Both sides close a TCP flow, or the client resets it; its tuple is free from then on. */
export function closeFlow(model: Model, flow: ModelFlow, random: () => number): void {
  const roll = random();
  if (roll < 0.2) {
    clientPacket(model, flow, TCP_FLAGS.rst);
  } else if (roll < 0.6) {
    clientPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    backendPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    clientPacket(model, flow, TCP_FLAGS.ack);
  } else {
    backendPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    clientPacket(model, flow, TCP_FLAGS.fin | TCP_FLAGS.ack);
    backendPacket(model, flow, TCP_FLAGS.ack);
  }
  model.close(flow);
}
