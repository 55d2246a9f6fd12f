/**
 * The long-lived side of a lab: the ECS emulator (with the ENI mirror as its lab hook), the VPC
 * and node namespaces, and one terwayd per node, each with its own socket, state dir, log and
 * config, all talking to the one emulator. It writes lab.json once everything serves, keeps each
 * daemon running from then on (daemon-keeper.ts), and on SIGTERM takes everything down again:
 * pods, daemons, emulator, namespaces.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

import type { Logger } from 'pino';

import { grpcIntrospection } from '../cli/introspection-client.js';
import { EcsEmulator } from '../emulator/ecs-emulator.js';
import { gatewayOf } from '../util/ipv4.js';
import { DAEMON_STOP_GRACE_MS, DaemonKeeper, exited } from './daemon-keeper.js';
import { EniMirror } from './eni-mirror.js';
import { deleteNetns, listNetns, removeBpfPinDirs } from './lab-shell.js';
import type { LabDriver, LabManifest, LabNodeInfo } from './lab-manifest.js';
import { writeManifest } from './lab-manifest.js';
import { labNodeDir, TERWAY_SHIM, TERWAYD_JS } from './lab-paths.js';
import { RESTART_SIGNAL, takeRestartRequest } from './node-restart.js';
import { TERWAYD_NODE_FLAGS, terwaydEnv } from '../daemon/runtime-settings.js';
import { VpcNetwork } from './vpc-network.js';
import type { TcHookChoice } from '../dataplane/bpf/native-bpf.js';

export const LAB_REGION = 'cn-hangzhou';
export const LAB_ZONE = 'cn-hangzhou-k';
export const LAB_VSWITCH = 'vsw-lab0';
export const LAB_VSWITCH_CIDR = '10.99.0.0/16';
/** 3 secondary ENIs x 15 IPs: room for pods on several ENIs of one node. */
export const LAB_INSTANCE_TYPE = 'ecs.g7.xlarge';
/** How long each node's terwayd may take to serve, and then to warm its first ENIs. */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** A node starts with two ENIs, so it can hold pods on one ENI and on different ENIs. */
const LAB_MIN_ENI = 2;
/** Seconds on ECS; short here so a lab comes up quickly, long enough to be a real wait. */
const LAB_LATENCIES = { perApi: {}, attachMs: 300, detachMs: 100, deleteMs: 50 };

export interface LabOptions {
  dir: string;
  id: string;
  nodes: number;
  driver: LabDriver;
  /** terwayd's --lb-hook on every node. */
  lbHook: TcHookChoice;
  /** eni_conf keys laid over the lab's defaults for every node. */
  extraConfig: Record<string, unknown>;
  /** Start a node's terwayd again when it exits, once the lab is up (DaemonKeeper). */
  restartDaemons: boolean;
  /** Per node and per phase (serving, then warm); long under software emulation. */
  readyTimeoutMs: number;
}

interface RunningNode {
  info: LabNodeInfo;
  keeper: DaemonKeeper;
}

/** Namespaces of a lab share its id as prefix, so a crashed lab can still be swept. */
export function labNetnsPrefix(id: string): string {
  return `${id}-`;
}

export function newLabId(): string {
  return `tl${randomBytes(3).toString('hex')}`;
}

export async function superviseLab(options: LabOptions, log: Logger): Promise<void> {
  const { dir, id } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const gateway = gatewayOf(LAB_VSWITCH_CIDR);
  const key = {
    accessKeyId: `LTAI${randomBytes(8).toString('hex')}`,
    accessKeySecret: randomBytes(16).toString('hex'),
  };
  const nodesByInstance = new Map<string, string>();
  const running: RunningNode[] = [];
  let manifest: LabManifest | undefined;
  let emulator: EcsEmulator | undefined;
  let stopping: Promise<void> | undefined;

  const teardown = async (reason: string) => {
    log.info({ reason }, 'lab going down');
    await Promise.all(running.map((node) => node.keeper.stop(DAEMON_STOP_GRACE_MS)));
    await emulator?.stop();
    for (const name of (await listNetns()).filter((ns) => ns.startsWith(labNetnsPrefix(id)))) {
      await deleteNetns(name).catch((error: unknown) =>
        log.warn({ netns: name, err: String(error) }, 'netns not deleted'),
      );
    }
    removeBpfPinDirs(labNetnsPrefix(id));
    log.info('lab is down');
  };
  const stop = (signal: string) => {
    stopping ??= teardown(signal).finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // `lab node restart`: the command leaves a request per node, then signals.
  process.on(RESTART_SIGNAL, () => {
    for (const { info, keeper } of running) {
      const daemonPid = takeRestartRequest(dir, info.name);
      if (daemonPid === undefined) continue;
      const acted = keeper.requestRestart(daemonPid, DAEMON_STOP_GRACE_MS);
      log.info(
        { node: info.name, daemonPid, acted },
        acted
          ? 'terwayd restart requested'
          : 'terwayd restart requested for a daemon already replaced, or with restarts off',
      );
    }
  });

  try {
    const vpc = await VpcNetwork.create(`${id}-vpc`, LAB_VSWITCH_CIDR, gateway);
    const mirror = new EniMirror(vpc, nodesByInstance, {
      warn: (object, message) => log.warn(object, message),
    });
    emulator = await EcsEmulator.start({
      accessKeys: [key],
      regionId: LAB_REGION,
      vpcCidr: '10.0.0.0/8',
      vswitches: [{ vswitchId: LAB_VSWITCH, zoneId: LAB_ZONE, cidr: LAB_VSWITCH_CIDR }],
      latencies: LAB_LATENCIES,
      labHook: mirror,
      logger: { warn: (object, message) => log.warn(object, message) },
    });
    const started = emulator;
    mirror.watch(() => started.enis());

    const cniBinDir = join(dir, 'cni-bin');
    mkdirSync(cniBinDir, { recursive: true });
    symlinkSync(TERWAY_SHIM, join(cniBinDir, 'terway'));

    for (let index = 1; index <= options.nodes; index++) {
      const name = `node-${index}`;
      const instance = started.addInstance({
        instanceType: LAB_INSTANCE_TYPE,
        zoneId: LAB_ZONE,
        vswitchId: LAB_VSWITCH,
        hostname: name,
      });
      const netns = `${id}-${name}`;
      nodesByInstance.set(instance.instanceId, netns);
      await vpc.addNode({ netns, mac: instance.mac, ip: instance.primaryIp });
      const nodeDir = labNodeDir(dir, name);
      mkdirSync(nodeDir, { recursive: true });
      const info: LabNodeInfo = {
        name,
        netns,
        netnsPath: `/var/run/netns/${netns}`,
        instanceId: instance.instanceId,
        ip: instance.primaryIp,
        mac: instance.mac,
        socket: join(nodeDir, 'eni.sock'),
        stateDir: join(nodeDir, 'state'),
        log: join(nodeDir, 'terwayd.log'),
        config: join(nodeDir, 'eni_conf.json'),
        conflist: join(nodeDir, '10-terway.conflist'),
        services: join(nodeDir, 'services.yaml'),
        bpfPinDir: labBpfPinDir(id, name),
        metrics: `http://127.0.0.1:${await freeLoopbackPort()}/metrics`,
        daemonArgs: [],
        daemonPid: 0,
        daemonRestarts: 0,
      };
      info.daemonArgs = daemonArgs(info, options.lbHook);
      writeFileSync(info.services, SERVICES_FILE_HEADER);
      writeFileSync(
        info.config,
        `${JSON.stringify(nodeConfig(options, started, key, instance.instanceId, netns), null, 2)}\n`,
      );
      writeFileSync(info.conflist, `${JSON.stringify(conflist(info.socket), null, 2)}\n`);
      const keeper = new DaemonKeeper({
        node: name,
        start: () => startDaemon(info),
        restarted: (daemon) => {
          info.daemonPid = daemon.pid ?? 0;
          info.daemonRestarts++;
          try {
            if (manifest !== undefined) writeManifest(manifest);
          } catch (error) {
            // The daemon runs all the same; only `lab status` misses its new pid.
            log.warn({ node: name, err: String(error) }, 'lab.json not rewritten after a restart');
          }
        },
        log,
      });
      info.daemonPid = keeper.daemon.pid ?? 0;
      running.push({ info, keeper });
    }
    await Promise.all(running.map((node) => waitServing(node, options.readyTimeoutMs)));
    await Promise.all(running.map((node) => waitWarm(node, LAB_MIN_ENI, options.readyTimeoutMs)));
    manifest = {
      id,
      dir,
      driver: options.driver,
      supervisorPid: process.pid,
      vpc: {
        netns: vpc.netns,
        netnsPath: `/var/run/netns/${vpc.netns}`,
        cidr: LAB_VSWITCH_CIDR,
        gateway,
      },
      emulator: { endpoint: started.endpoint, log: join(dir, 'supervisor.log') },
      cniBinDir,
      restartDaemons: options.restartDaemons,
      nodes: running.map((node) => node.info),
    };
    writeManifest(manifest);
    for (const node of running) node.keeper.labIsUp(options.restartDaemons);
    log.info(
      { nodes: options.nodes, driver: options.driver, restartDaemons: options.restartDaemons },
      'lab is up',
    );
  } catch (error) {
    log.error(
      { err: error instanceof Error ? error.message : String(error) },
      'lab could not come up',
    );
    await teardown('start-up failure');
    process.exit(1);
  }
}

function nodeConfig(
  options: LabOptions,
  emulator: EcsEmulator,
  key: { accessKeyId: string; accessKeySecret: string },
  instanceId: string,
  netns: string,
): Record<string, unknown> {
  return {
    cloud: 'ecs',
    access_key: key.accessKeyId,
    access_secret: key.accessKeySecret,
    region_id: LAB_REGION,
    ecs_endpoint: emulator.url,
    vpc_endpoint: emulator.url,
    metadata_endpoint: emulator.metadataUrl(instanceId),
    vswitches: { [LAB_ZONE]: [LAB_VSWITCH] },
    datapath: 'kernel',
    host_netns: netns,
    eniip_virtual_type: options.driver === 'ipvlan' ? 'IPVlan' : 'Veth',
    // Two ENIs from the start and pods spread over them: a lab node always has pods that share
    // an ENI and pods that do not.
    min_eni: LAB_MIN_ENI,
    eni_selection_policy: 'least_ips',
    min_pool_size: 2,
    max_pool_size: 10,
    ...options.extraConfig,
  };
}

function conflist(socket: string) {
  return {
    cniVersion: '1.0.0',
    name: 'terway',
    plugins: [{ type: 'terway', daemon_socket: socket }],
  };
}

const SERVICES_FILE_HEADER = `# This lab node's Kubernetes Services and discovery.k8s.io/v1 EndpointSlices (multi-document
# YAML, or JSON). terwayd follows this file: saving it reprograms the node's Service LB.
`;

/** Under the lab id, so a sweep after a crash finds it the way it finds the namespaces. */
export function labBpfPinDir(id: string, node: string): string {
  return `/sys/fs/bpf/${labNetnsPrefix(id)}${node}`;
}

function daemonArgs(info: LabNodeInfo, lbHook: TcHookChoice): string[] {
  return [
    ...TERWAYD_NODE_FLAGS,
    TERWAYD_JS,
    '--config',
    info.config,
    '--socket',
    info.socket,
    '--state-dir',
    info.stateDir,
    '--services',
    info.services,
    '--bpf-pin-dir',
    info.bpfPinDir,
    '--lb-hook',
    lbHook,
    // The lab's node names are the ones its EndpointSlices give (internalTrafficPolicy: Local).
    '--node-name',
    info.name,
    // Every node's terwayd runs in the host's namespace, so each gets its own loopback port; a
    // fixed one (not 0) keeps the manifest's URL right across a restart.
    '--metrics-address',
    new URL(info.metrics).host,
  ];
}

/**
 * Metrics ports are drawn below Linux's default ephemeral range (32768-60999): a port the kernel
 * could hand any outgoing connection might be taken between `lab up` and a daemon restart.
 */
const METRICS_PORT_RANGE = { from: 20_000, to: 32_000 } as const;

/** A loopback port in METRICS_PORT_RANGE that nothing listens on now. */
async function freeLoopbackPort(): Promise<number> {
  const { from, to } = METRICS_PORT_RANGE;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port in ${from}-${to} after 50 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function startDaemon(info: LabNodeInfo): ChildProcess {
  const logFd = openSync(info.log, 'a');
  try {
    return spawn(process.execPath, info.daemonArgs, {
      stdio: ['ignore', logFd, logFd],
      env: terwaydEnv(process.env),
    });
  } finally {
    closeSync(logFd);
  }
}

async function waitServing(node: RunningNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { daemon } = node.keeper;
    if (exited(daemon)) {
      throw new Error(
        `terwayd of ${node.info.name} exited with ${daemon.exitCode ?? daemon.signalCode}: see ${node.info.log}`,
      );
    }
    const text = readFileSync(node.info.log, 'utf8');
    if (text.includes('"msg":"terwayd is serving"')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `terwayd of ${node.info.name} not serving after ${timeoutMs} ms: see ${node.info.log}`,
  );
}

/**
 * Until every node has its first ENIs in use with idle IPs on each, so the first pods spread
 * over them deterministically instead of racing the ENIs' attach.
 */
async function waitWarm(node: RunningNode, enis: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const factory = await grpcIntrospection.showFactory(node.info.socket).catch(() => undefined);
    const ready = (factory?.enis ?? []).filter(
      (eni) => eni.status === 'in_use' && eni.ips.some((ip) => ip.state === 'idle'),
    );
    if (ready.length >= enis) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `${node.info.name} has no ${enis} ENIs with idle IPs after ${timeoutMs} ms: see ${node.info.log}`,
  );
}

/** Removes a lab's directory; kept apart so `lab down --keep-logs` can skip it. */
export function removeLabDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
