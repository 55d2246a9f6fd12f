#!/usr/bin/env node
/**
 * lab: a playground of network namespaces for terway-node. A VPC, N nodes each with a primary
 * ENI and a terwayd, ENIs that appear as real links when the emulator attaches them, and pods
 * wired through the real `terway` CNI shim.
 */
import { Command, Option } from 'commander';
import { pino } from 'pino';

import { parseDurationMs } from '../src/config/durations.js';
import {
  DEFAULT_TC_HOOK,
  TC_HOOK_CHOICES,
  type TcHookChoice,
} from '../src/dataplane/bpf/native-bpf.js';
import { Iproute2Kernel } from '../src/dataplane/kernel/iproute2-kernel.js';
import { labDown, labUp } from '../src/lab/lab-control.js';
import type { LabDriver, LabManifest, LabNodeInfo } from '../src/lab/lab-manifest.js';
import { LAB_DRIVERS, readManifest } from '../src/lab/lab-manifest.js';
import { DEFAULT_LAB_DIR } from '../src/lab/lab-paths.js';
import {
  addPod,
  checkPod,
  deletePod,
  podNetnsPath,
  podSummaries,
  type LabPodSummary,
} from '../src/lab/lab-pods.js';
import { DEFAULT_READY_TIMEOUT_MS, superviseLab } from '../src/lab/lab-supervisor.js';
import {
  DEFAULT_RESTART_TIMEOUT_MS,
  describeNodeRestart,
  restartLabNode,
} from '../src/lab/node-restart.js';
import { processAlive } from '../src/util/process-alive.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

function describeLab(manifest: LabManifest): string {
  const lines = [
    `lab ${manifest.id} (${manifest.driver}) in ${manifest.dir}`,
    `  VPC      netns ${manifest.vpc.netns}  vSwitch ${manifest.vpc.cidr}  gateway ${manifest.vpc.gateway}`,
    `  emulator ${manifest.emulator.endpoint}  log ${manifest.emulator.log}`,
  ];
  for (const node of manifest.nodes) {
    lines.push(
      `  ${node.name}   netns ${node.netns}  ip ${node.ip}  instance ${node.instanceId}`,
      `           socket ${node.socket}`,
      `           state  ${node.stateDir}`,
      `           log    ${node.log}`,
      `           CNI    ${node.conflist}`,
      `           Services ${node.services}  (edit to reprogram the node's Service LB)`,
      `           metrics  ${node.metrics}`,
      `           terwayd  ${daemonState(node)}`,
    );
  }
  return lines.join('\n');
}

/** Whether the node's terwayd runs, and how often the supervisor has started it again. */
function daemonState(node: LabNodeInfo): string {
  const restarts = node.daemonRestarts === 0 ? '' : `, restarted ${node.daemonRestarts}×`;
  if (processAlive(node.daemonPid)) return `pid ${node.daemonPid}${restarts}`;
  return `NOT RUNNING (pid ${node.daemonPid} is gone${restarts}): see its log`;
}

function describePods(pods: readonly LabPodSummary[]): string {
  if (pods.length === 0) return '  pods     none yet (lab pod add <node> <pod>)';
  return [
    '  pods',
    ...pods.map(
      (pod) =>
        `           ${pod.node}  ${pod.namespace}/${pod.pod}  ${pod.ip || '-'}  netns ${pod.netns}`,
    ),
  ].join('\n');
}

function parseJsonOption(value: string): Record<string, unknown> {
  const parsed = JSON.parse(value) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('expected a JSON object');
  return parsed as Record<string, unknown>;
}

function parsePositiveDuration(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === 0) throw new Error('expected a duration above zero');
  return ms;
}

const readyTimeoutOption = () =>
  new Option(
    '--ready-timeout <duration>',
    'per node, how long terwayd may take to serve, and then to warm its first ENIs',
  )
    .argParser(parsePositiveDuration)
    .default(DEFAULT_READY_TIMEOUT_MS, `${DEFAULT_READY_TIMEOUT_MS / 1000}s`);

const lbHookOption = () =>
  new Option('--lb-hook <hook>', "every node's terwayd --lb-hook")
    .choices(TC_HOOK_CHOICES)
    .default(DEFAULT_TC_HOOK);

async function defaultDriver(): Promise<LabDriver> {
  return (await new Iproute2Kernel().supportsIpvlan()) ? 'ipvlan' : 'veth';
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the lab makes network namespaces: run it as root');
}

const program = new Command('lab')
  .description('network-namespace lab for terway-node')
  .showHelpAfterError();
const dirOption = () =>
  new Option('--dir <dir>', 'where the lab keeps its state').default(DEFAULT_LAB_DIR);

program
  .command('up')
  .description('build a VPC, nodes with terwayd, and print what was built')
  .addOption(dirOption())
  .option('--nodes <n>', 'how many nodes', (value) => Number.parseInt(value, 10), 2)
  .addOption(
    new Option(
      '--driver <driver>',
      'datapath driver (default: ipvlan if the kernel has it)',
    ).choices([...LAB_DRIVERS]),
  )
  .addOption(lbHookOption())
  .option(
    '--config-json <json>',
    'eni_conf keys laid over the lab defaults, as JSON',
    parseJsonOption,
    {},
  )
  .addOption(readyTimeoutOption())
  .option(
    '--no-daemon-restart',
    "leave a node's terwayd down when it exits (default: started again, as kubelet would)",
  )
  .option('--json', 'print the lab as JSON')
  .action(
    async (options: {
      dir: string;
      nodes: number;
      driver?: LabDriver;
      lbHook: TcHookChoice;
      configJson: Record<string, unknown>;
      readyTimeout: number;
      daemonRestart: boolean;
      json?: boolean;
    }) => {
      requireRoot();
      if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 8)
        throw new Error('--nodes: 1 to 8');
      const manifest = await labUp({
        dir: options.dir,
        nodes: options.nodes,
        driver: options.driver ?? (await defaultDriver()),
        lbHook: options.lbHook,
        extraConfig: options.configJson,
        readyTimeoutMs: options.readyTimeout,
        restartDaemons: options.daemonRestart,
      });
      out(options.json === true ? JSON.stringify(manifest, null, 2) : describeLab(manifest));
    },
  );

program
  .command('down')
  .description('delete every pod through CNI DEL, stop the daemons, remove every namespace')
  .addOption(dirOption())
  .action(async (options: { dir: string }) => {
    requireRoot();
    await labDown(options.dir, out);
  });

program
  .command('status')
  .description('print the lab as `lab up` did')
  .addOption(dirOption())
  .option('--json', 'as JSON')
  .action((options: { dir: string; json?: boolean }) => {
    const manifest = readManifest(options.dir);
    const pods = podSummaries(manifest);
    out(
      options.json === true
        ? JSON.stringify({ ...manifest, pods }, null, 2)
        : `${describeLab(manifest)}\n${describePods(pods)}`,
    );
  });

const pod = program.command('pod').description('pods wired through the real terway CNI shim');
pod
  .command('add <node> <pod>')
  .description('create the pod netns and run CNI ADD; prints the result')
  .addOption(dirOption())
  .option('--namespace <ns>', 'Kubernetes namespace of the pod', 'default')
  .option('--conflist <file>', 'a conflist other than the node’s own')
  .option(
    '--runtime-config <json>',
    'runtimeConfig for capability plugins (portMappings, bandwidth)',
    parseJsonOption,
  )
  .action(
    async (
      node: string,
      name: string,
      options: {
        dir: string;
        namespace: string;
        conflist?: string;
        runtimeConfig?: Record<string, unknown>;
      },
    ) => {
      requireRoot();
      const state = await addPod(readManifest(options.dir), node, name, {
        namespace: options.namespace,
        ...(options.conflist === undefined ? {} : { conflist: options.conflist }),
        ...(options.runtimeConfig === undefined ? {} : { runtimeConfig: options.runtimeConfig }),
      });
      out(
        JSON.stringify(
          { netns: state.netnsPath, containerId: state.containerId, result: state.result },
          null,
          2,
        ),
      );
    },
  );
pod
  .command('del <node> <pod>')
  .description('run CNI DEL and delete the pod netns')
  .addOption(dirOption())
  .action(async (node: string, name: string, options: { dir: string }) => {
    requireRoot();
    await deletePod(readManifest(options.dir), node, name);
  });
pod
  .command('check <node> <pod>')
  .description('run CNI CHECK with the cached result')
  .addOption(dirOption())
  .action(async (node: string, name: string, options: { dir: string }) => {
    requireRoot();
    await checkPod(readManifest(options.dir), node, name);
    out('ok');
  });
pod
  .command('ns <node> <pod>')
  .description("print the pod's netns path")
  .addOption(dirOption())
  .action((node: string, name: string, options: { dir: string }) => {
    out(podNetnsPath(readManifest(options.dir), node, name));
  });

const node = program.command('node').description("a node's terwayd");
node
  .command('restart <node>')
  .description(
    'have the supervisor stop the node’s terwayd as an upgrade would (SIGTERM, SIGKILL after ' +
      '15 s) and start it again at once; says how long the node did not serve',
  )
  .addOption(dirOption())
  .addOption(
    new Option(
      '--timeout <duration>',
      'how long the stop and the new daemon’s start may take (over 15 s)',
    )
      .argParser(parsePositiveDuration)
      .default(DEFAULT_RESTART_TIMEOUT_MS, `${DEFAULT_RESTART_TIMEOUT_MS / 1000}s`),
  )
  .option('--json', 'print the report as JSON')
  .action(async (name: string, options: { dir: string; timeout: number; json?: boolean }) => {
    requireRoot();
    const report = await restartLabNode(options.dir, name, { timeoutMs: options.timeout });
    out(options.json === true ? JSON.stringify(report, null, 2) : describeNodeRestart(report));
  });

program
  .command('supervise', { hidden: true })
  .requiredOption('--dir <dir>')
  .requiredOption('--id <id>')
  .requiredOption('--nodes <n>', '', (value) => Number.parseInt(value, 10))
  .requiredOption('--driver <driver>')
  .addOption(lbHookOption())
  .option('--config-json <json>', '', parseJsonOption, {})
  .addOption(readyTimeoutOption())
  .option('--no-daemon-restart')
  .action(
    async (options: {
      dir: string;
      id: string;
      nodes: number;
      driver: LabDriver;
      lbHook: TcHookChoice;
      configJson: Record<string, unknown>;
      readyTimeout: number;
      daemonRestart: boolean;
    }) => {
      const log = pino({ name: 'lab' });
      await superviseLab(
        {
          dir: options.dir,
          id: options.id,
          nodes: options.nodes,
          driver: options.driver,
          lbHook: options.lbHook,
          extraConfig: options.configJson,
          readyTimeoutMs: options.readyTimeout,
          restartDaemons: options.daemonRestart,
        },
        log,
      );
    },
  );

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`lab: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
