/**
 * The emulator's admin API, on the same server under /admin/ (JSON, no signature):
 *
 *   GET    /admin/stats                      call, throttle, fault and error counters
 *   POST   /admin/stats/reset                zero the counters
 *   GET    /admin/faults                     the faults in force
 *   PUT    /admin/faults/{api|*}             body FaultSpec: inject faults into one API or all
 *                                            ({errorRate, errorCode, addedLatencyMs, timeoutRate,
 *                                            lostResponseRate, maxInjections})
 *   DELETE /admin/faults                     remove every fault
 *   POST   /admin/instances                  body { instanceType, instanceId?, zoneId?, vswitchId?,
 *                                            ramRoleName?, hostname? } → 201 the new instance
 *   POST   /admin/stick-attaches             body { count, failAfterMs? }: the next N attaches
 *                                            never reach InUse; each fails back to Available
 *                                            after failAfterMs (absent: the configured
 *                                            stuckAttachFailMs; null: never)
 *   GET    /admin/enis                       every ENI, as EcsEmulator.enis() returns them
 *   POST   /admin/enis/{id}/force-detach     out-of-band detach (ends Available)
 *   POST   /admin/enis/{id}/private-ips      out-of-band: add one IP → { ip }
 *   DELETE /admin/enis/{id}/private-ips/{ip} out-of-band: remove one IP
 *
 * Errors answer { "error": message } with 400 (bad request) or 404 (unknown path or resource).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { EmulatorStats } from './control/call-stats.js';
import type { FaultSpec } from './control/fault-injector.js';
import type { NewInstance } from './state/account-state.js';
import type { EmulatedEniSnapshot } from './state/account-types.js';
import { ApiError } from './wire/api-error.js';
import { readBody, sendJson } from './wire/http-io.js';

/** What `POST /admin/instances` (and `addInstance`) takes: the account's own instance spec. */
export type AdminInstanceSpec = NewInstance;

export interface AddedInstance {
  instanceId: string;
  primaryEniId: string;
  primaryIp: string;
  mac: string;
}

/** What the admin API drives; EcsEmulator implements it. */
export interface AdminTarget {
  stats(): EmulatorStats;
  resetStats(): void;
  faults(): Record<string, FaultSpec>;
  setFault(api: string, fault: FaultSpec): void;
  clearFaults(): void;
  addInstance(spec: AdminInstanceSpec): AddedInstance;
  metadataUrl(instanceId: string): string;
  stickNextAttaches(count: number, failAfterMs?: number | null): void;
  enis(): EmulatedEniSnapshot[];
  forceDetach(eniId: string): void;
  addPrivateIp(eniId: string): string;
  removePrivateIp(eniId: string, ip: string): void;
}

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function handleAdmin(
  target: AdminTarget,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<void> {
  try {
    const body = await readJsonBody(request);
    const result = route(
      target,
      request.method ?? 'GET',
      path.split('/').filter(Boolean).map(decodeURIComponent),
      body,
    );
    if (result === undefined) {
      response.writeHead(204).end();
    } else {
      sendJson(response, result.status, result.body);
    }
  } catch (error) {
    const status =
      error instanceof AdminError ? error.status : error instanceof ApiError ? error.status : 400;
    sendJson(response, status, {
      error: error instanceof Error ? error.message : String(error),
      ...(error instanceof ApiError ? { code: error.code } : {}),
    });
  }
}

function route(
  target: AdminTarget,
  method: string,
  parts: string[],
  body: unknown,
): { status: number; body: unknown } | undefined {
  const [, resource, id, sub, subId] = parts; // parts[0] is 'admin'
  const key = `${method} ${resource ?? ''}${id === undefined ? '' : '/:id'}${sub === undefined ? '' : `/${sub}`}${subId === undefined ? '' : '/:sub'}`;
  switch (key) {
    case 'GET stats':
      return { status: 200, body: target.stats() };
    case 'POST stats/:id':
      if (id !== 'reset') break;
      target.resetStats();
      return undefined;
    case 'GET faults':
      return { status: 200, body: target.faults() };
    case 'PUT faults/:id':
      target.setFault(id ?? '*', asObject(body) as FaultSpec);
      return undefined;
    case 'DELETE faults':
      target.clearFaults();
      return undefined;
    case 'POST instances': {
      const spec = asObject(body) as unknown as AdminInstanceSpec;
      if (typeof spec.instanceType !== 'string') {
        throw new AdminError(400, 'instanceType is required');
      }
      const added = target.addInstance(spec);
      return { status: 201, body: { ...added, metadataUrl: target.metadataUrl(added.instanceId) } };
    }
    case 'POST stick-attaches': {
      const { count, failAfterMs } = asObject(body);
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
        throw new AdminError(400, 'count must be a non-negative integer');
      }
      if (
        failAfterMs !== undefined &&
        failAfterMs !== null &&
        !(typeof failAfterMs === 'number' && failAfterMs >= 0)
      ) {
        throw new AdminError(400, 'failAfterMs must be a number >= 0, or null for never');
      }
      target.stickNextAttaches(count, failAfterMs);
      return undefined;
    }
    case 'GET enis':
      return { status: 200, body: target.enis() };
    case 'POST enis/:id/force-detach':
      target.forceDetach(id ?? '');
      return undefined;
    case 'POST enis/:id/private-ips':
      return { status: 201, body: { ip: target.addPrivateIp(id ?? '') } };
    case 'DELETE enis/:id/private-ips/:sub':
      target.removePrivateIp(id ?? '', subId ?? '');
      return undefined;
  }
  throw new AdminError(404, `no admin route ${method} /${parts.join('/')}`);
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const raw = (await readBody(request)).toString('utf8').trim();
  if (raw === '') return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new AdminError(400, 'the body is not JSON');
  }
}

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AdminError(400, 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
