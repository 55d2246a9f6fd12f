/**
 * An ECS 2014-05-26 + VPC 2016-04-28 endpoint on loopback that the official SDK cannot tell
 * from the real one (ECS-API.md), plus per-instance metadata and an admin API:
 *
 *   POST /?<params>            ECS and VPC APIs, dispatched on x-acs-action + x-acs-version
 *                              (or Action/Version in the query for the legacy RPC signature)
 *   /metadata/<instanceId>/…   that instance's metadata service (`latest/meta-data/...`)
 *   /admin/…                   stats, faults, instances, stuck attaches (see admin-handler.ts)
 *
 * A request passes, in order: authentication, routing, throttling, fault injection, response
 * latency, then the handler; anything refused before the handler changed nothing. A
 * lost-response fault is the one that acts after the handler: it withholds the answer.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { sleep, systemClock } from '../util/clock.js';
import type { Clock } from '../util/clock.js';
import type { AddedInstance, AdminInstanceSpec, AdminTarget } from './admin-handler.js';
import { handleAdmin } from './admin-handler.js';
import { resolveRoute, VPC_VERSION } from './api/api-routes.js';
import type { ApiContext } from './api/api-context.js';
import { ClientTokenCache } from './api/client-tokens.js';
import { Authenticator } from './auth/authenticator.js';
import { StsIssuer } from './auth/sts-issuer.js';
import { AccountThrottle } from './control/account-throttle.js';
import { CallStats } from './control/call-stats.js';
import type { EmulatorStats } from './control/call-stats.js';
import { FaultInjector } from './control/fault-injector.js';
import type { FaultSpec } from './control/fault-injector.js';
import {
  DEFAULT_HOST,
  DEFAULT_OWNER_ACCOUNT_ID,
  DEFAULT_SECURITY_GROUP_IDS,
  DEFAULT_VPC_ID,
  resolveLatencies,
} from './emulator-options.js';
import type { EmulatorLatencies, EmulatorOptions } from './emulator-options.js';
import { AccountMetadataSource } from './metadata/account-metadata-source.js';
import { createMetadataHandler } from './metadata/metadata-handler.js';
import type { MetadataRequestHandler } from './metadata/metadata-handler.js';
import type { MetadataSource } from './metadata/metadata-source.js';
import { AccountState } from './state/account-state.js';
import { snapshotEni } from './state/account-types.js';
import type { EmulatedEniSnapshot } from './state/account-types.js';
import { addIpOutOfBand, unassignIps } from './state/private-ips.js';
import { consoleLogger, EniLifecycle } from './state/eni-lifecycle.js';
import type { EmulatorLogger, LabHook } from './state/eni-lifecycle.js';
import { bindStateFile } from './state/state-file.js';
import { ApiError, throttled } from './wire/api-error.js';
import {
  decodeQuery,
  newRequestId,
  readBody,
  sendApiError,
  sendApiResult,
  sendJson,
} from './wire/http-io.js';
import { Params } from './wire/params.js';
import { formatListenAddress } from '../util/listen-address.js';

export type { EmulatorLatencies, EmulatorOptions } from './emulator-options.js';
export type { ThrottleConfig } from './control/account-throttle.js';
export type { FaultSpec } from './control/fault-injector.js';
export type { EmulatorStats } from './control/call-stats.js';
export type { EmulatorLogger, LabHook } from './state/eni-lifecycle.js';
export type { EmulatedEniSnapshot } from './state/account-types.js';
export type { AddedInstance, AdminInstanceSpec } from './admin-handler.js';

const METADATA_PREFIX = '/metadata/';
const ADMIN_PREFIX = '/admin/';

export class EcsEmulator implements AdminTarget {
  readonly endpoint: string;
  readonly url: string;
  private readonly state: AccountState;
  private readonly sts: StsIssuer;
  private readonly lifecycle: EniLifecycle;
  private readonly authenticator: Authenticator;
  private readonly throttle: AccountThrottle;
  private readonly faultInjector: FaultInjector;
  private readonly callStats = new CallStats();
  private readonly context: ApiContext;
  private readonly metadata: AccountMetadataSource;
  private readonly metadataHandler: MetadataRequestHandler;
  private readonly latencies: EmulatorLatencies;
  private readonly retryAfterHeader: boolean;
  private readonly logger: EmulatorLogger;
  private readonly labHook: LabHook | undefined;
  /** Requests a timeout or lost-response fault left unanswered; stop() ends them. */
  private readonly hung = new Set<ServerResponse>();
  private stopped = false;

  private constructor(
    private readonly server: Server,
    private readonly clock: Clock,
    options: EmulatorOptions,
  ) {
    const address = server.address() as AddressInfo;
    // Bracketed when IPv6, so the endpoint and the URLs built on it parse.
    this.endpoint = formatListenAddress({ host: address.address, port: address.port });
    this.url = `http://${this.endpoint}`;
    this.logger = options.logger ?? consoleLogger;
    this.labHook = options.labHook;
    this.latencies = resolveLatencies(options.latencies);
    this.retryAfterHeader = options.throttle?.retryAfterHeader ?? true;
    this.state = new AccountState(
      {
        regionId: options.regionId,
        vpcId: options.vpcId ?? DEFAULT_VPC_ID,
        vpcCidr: options.vpcCidr,
        vswitches: options.vswitches,
        securityGroupIds: options.securityGroupIds ?? DEFAULT_SECURITY_GROUP_IDS,
        ownerAccountId: options.ownerAccountId ?? DEFAULT_OWNER_ACCOUNT_ID,
      },
      () => clock.now(),
    );
    this.sts = new StsIssuer(clock, options.stsTtlMs);
    this.lifecycle = new EniLifecycle(
      this.state,
      clock,
      this.latencies,
      options.labHook,
      this.logger,
    );
    this.authenticator = new Authenticator(
      new Map(options.accessKeys.map((key) => [key.accessKeyId, key.accessKeySecret])),
      this.sts,
      clock,
    );
    this.throttle = new AccountThrottle(options.throttle ?? {}, clock);
    this.faultInjector = new FaultInjector(options.random);
    this.context = {
      state: this.state,
      lifecycle: this.lifecycle,
      clientTokens: new ClientTokenCache(),
    };
    this.metadata = new AccountMetadataSource(this.state, this.sts);
    this.metadataHandler = createMetadataHandler(this.metadata, {
      clock,
      ...(options.requireMetadataToken === undefined
        ? {}
        : { requireToken: options.requireMetadataToken }),
    });
  }

  static async start(options: EmulatorOptions): Promise<EcsEmulator> {
    const clock = options.clock ?? systemClock;
    let emulator: EcsEmulator | undefined;
    const server = createServer((request, response) => {
      if (emulator === undefined) {
        response.writeHead(503).end();
        return;
      }
      emulator.dispatch(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? DEFAULT_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      emulator = new EcsEmulator(server, clock, options);
      if (options.stateFile !== undefined) {
        const { state, sts, lifecycle } = emulator;
        bindStateFile(options.stateFile, { state, sts, lifecycle });
      }
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw error;
    }
    return emulator;
  }

  metadataUrl(instanceId: string): string {
    return `${this.url}${METADATA_PREFIX}${instanceId}`;
  }

  addInstance(spec: AdminInstanceSpec): AddedInstance {
    const instance = this.state.addInstance(spec);
    const primary = this.state.eni(instance.primaryEniId);
    return {
      instanceId: instance.instanceId,
      primaryEniId: primary.id,
      primaryIp: primary.privateIps[0] ?? '',
      mac: primary.mac,
    };
  }

  /** Instances in creation order, for the CLI's banner. */
  instances(): (AddedInstance & { instanceType: string; zoneId: string; vswitchId: string })[] {
    return this.state.allInstances().map((instance) => {
      const primary = this.state.eni(instance.primaryEniId);
      return {
        instanceId: instance.instanceId,
        instanceType: instance.instanceType,
        zoneId: instance.zoneId,
        vswitchId: instance.vswitchId,
        primaryEniId: primary.id,
        primaryIp: primary.privateIps[0] ?? '',
        mac: primary.mac,
      };
    });
  }

  setFault(api: string, fault: FaultSpec): void {
    this.faultInjector.set(api, fault);
  }

  faults(): Record<string, FaultSpec> {
    return this.faultInjector.list();
  }

  clearFaults(): void {
    this.faultInjector.clear();
  }

  /** See EniLifecycle.stickNextAttaches: failAfterMs undefined → configured, null → never. */
  stickNextAttaches(count: number, failAfterMs?: number | null): void {
    this.lifecycle.stickNextAttaches(count, failAfterMs);
  }

  removePrivateIp(eniId: string, ip: string): void {
    unassignIps(this.state, eniId, [ip]);
  }

  addPrivateIp(eniId: string): string {
    return addIpOutOfBand(this.state, eniId);
  }

  forceDetach(eniId: string): void {
    this.lifecycle.forceDetach(eniId);
  }

  stats(): EmulatorStats {
    return this.callStats.snapshot();
  }

  resetStats(): void {
    this.callStats.reset();
  }

  enis(): EmulatedEniSnapshot[] {
    return this.state.allEnis().map(snapshotEni);
  }

  metadataSource(): MetadataSource {
    return this.metadata;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.lifecycle.stop();
    for (const response of this.hung) response.destroy();
    this.hung.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private dispatch(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://emulator');
    const path = url.pathname;
    if (path.startsWith(METADATA_PREFIX)) {
      const rest = path.slice(METADATA_PREFIX.length);
      const slash = rest.indexOf('/');
      const instanceId = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
      this.metadataHandler(request, response, instanceId, slash < 0 ? '/' : rest.slice(slash));
      return;
    }
    if (path.startsWith(ADMIN_PREFIX)) {
      void handleAdmin(this, request, response, path);
      return;
    }
    this.serveApi(request, response, url).catch((error: unknown) => {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'emulator request failed',
      );
      sendJson(response, 500, {
        Code: 'InternalError',
        Message: 'The request processing has failed due to some unknown error.',
      });
    });
  }

  private async serveApi(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
  ): Promise<void> {
    const requestId = newRequestId();
    const query = decodeQuery(url.search);
    const headerAction = request.headers['x-acs-action'];
    const action = query.Action ?? (typeof headerAction === 'string' ? headerAction : undefined);
    const headerVersion = request.headers['x-acs-version'];
    const product = (query.Version ?? headerVersion) === VPC_VERSION ? 'Vpc' : 'Ecs';
    if (action !== undefined) this.callStats.call(action);
    /** Set once a lost-response fault let the handler run: its answer, whatever it is, is lost. */
    let losingAnswerOf: string | undefined;
    try {
      if (url.pathname !== '/')
        throw new ApiError(
          404,
          'InvalidAction.NotFound',
          `The path ${url.pathname} is not an API endpoint.`,
        );
      const body = await readBody(request);
      const caller = this.authenticator.authenticate({
        method: request.method ?? 'GET',
        headers: request.headers,
        query,
        body,
      });
      const route = resolveRoute(caller.action, caller.version);
      const admission = this.throttle.admit(caller.action);
      if (!admission.allowed) {
        this.callStats.throttled(caller.action);
        throw throttled(this.retryAfterHeader ? admission.retryAfterMs : undefined);
      }
      const fault = this.faultInjector.decide(caller.action);
      if (fault.kind === 'hang') {
        this.callStats.hung(caller.action);
        this.withhold(response);
        return;
      }
      await this.delay((this.latencies.perApi[caller.action] ?? 0) + fault.addedLatencyMs);
      if (fault.kind === 'error') {
        this.callStats.injected(caller.action);
        throw fault.error;
      }
      if (this.stopped) return;
      if (fault.kind === 'lostResponse') losingAnswerOf = caller.action;
      const result = route.handler(new Params(caller.params, route.missingStatus), this.context);
      await this.settleLab();
      if (losingAnswerOf !== undefined) this.loseAnswer(losingAnswerOf, response);
      else sendApiResult(response, requestId, result);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.callStats.error(error.code);
      if (losingAnswerOf !== undefined) this.loseAnswer(losingAnswerOf, response);
      else sendApiError(response, requestId, error, product);
    }
  }

  private loseAnswer(api: string, response: ServerResponse): void {
    this.callStats.lostResponse(api);
    this.withhold(response);
  }

  /** Never answers; the client times out and closes, or stop() ends it. */
  private withhold(response: ServerResponse): void {
    this.hung.add(response);
    response.on('close', () => this.hung.delete(response));
  }

  /** A lab that cannot keep up is the lab's problem: logged, never turned into an API error. */
  private async settleLab(): Promise<void> {
    try {
      await this.labHook?.settle?.();
    } catch (error) {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'lab hook settle failed',
      );
    }
  }

  private async delay(ms: number): Promise<void> {
    if (ms > 0) await sleep(this.clock, ms);
  }
}
