/**
 * A minimal CNI runtime, as libcni does it for kubelet/containerd: runs a conflist's plugins in
 * order for ADD (each gets the previous result as prevResult), in reverse for DEL, and CHECK
 * with the cached result. Plugins run inside the node's namespace, where a runtime would run
 * them, so chained plugins (portmap, bandwidth, ...) program the node, not the machine.
 */
import { accessSync, constants } from 'node:fs';

import { runCommand } from '../dataplane/kernel/run-command.js';

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

export interface CniInvocation {
  containerId: string;
  netns: string;
  ifname: string;
  /** K8S_POD_NAMESPACE etc. */
  args: Record<string, string>;
  /** Directories searched for plugin binaries, first match wins. */
  path: string[];
  /** The namespace plugins run in (the node's), as a path. */
  hostNetns: string;
  /** Per-plugin runtimeConfig, keyed by capability (portMappings, bandwidth, ...). */
  runtimeConfig?: Record<string, unknown>;
}

export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly result: unknown,
    readonly stderr: string,
  ) {
    super(
      `${plugin} ${command} failed: ${JSON.stringify(result)}${stderr === '' ? '' : ` (${stderr.trim()})`}`,
    );
    this.name = 'CniPluginError';
  }
}

/** What the runtime hands one plugin: the list's version and name, capabilities it asked for. */
function pluginConfig(
  list: ConfList,
  plugin: ConfList['plugins'][number],
  invocation: CniInvocation,
  prevResult: unknown,
) {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const capabilities = plugin.capabilities as Record<string, boolean> | undefined;
  if (capabilities !== undefined && invocation.runtimeConfig !== undefined) {
    const runtimeConfig: Record<string, unknown> = {};
    for (const [capability, enabled] of Object.entries(capabilities)) {
      if (enabled && invocation.runtimeConfig[capability] !== undefined) {
        runtimeConfig[capability] = invocation.runtimeConfig[capability];
      }
    }
    if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  }
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return conf;
}

async function execPlugin(
  command: 'ADD' | 'DEL' | 'CHECK',
  list: ConfList,
  plugin: ConfList['plugins'][number],
  invocation: CniInvocation,
  prevResult: unknown,
): Promise<unknown> {
  const env = [
    `CNI_COMMAND=${command}`,
    `CNI_CONTAINERID=${invocation.containerId}`,
    `CNI_NETNS=${invocation.netns}`,
    `CNI_IFNAME=${invocation.ifname}`,
    `CNI_ARGS=${['IgnoreUnknown=1', ...Object.entries(invocation.args).map(([k, v]) => `${k}=${v}`)].join(';')}`,
    `CNI_PATH=${invocation.path.join(':')}`,
    `PATH=${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
  ];
  const binary = findPlugin(plugin.type, invocation.path);
  const stdin = JSON.stringify(pluginConfig(list, plugin, invocation, prevResult));
  const result = await runCommand(
    'nsenter',
    [`--net=${invocation.hostNetns}`, '--', 'env', '-i', ...env, binary],
    { stdin, timeoutMs: 60_000 },
  );
  const parsed = result.stdout.trim() === '' ? undefined : (JSON.parse(result.stdout) as unknown);
  if (result.code !== 0) throw new CniPluginError(plugin.type, command, parsed, result.stderr);
  return parsed;
}

function findPlugin(type: string, path: readonly string[]): string {
  for (const dir of path) {
    const candidate = `${dir}/${type}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`CNI plugin ${type} not found in ${path.join(':')}`);
}

/** ADD through the whole list; the final result is what the runtime caches. */
export async function cniAdd(list: ConfList, invocation: CniInvocation): Promise<unknown> {
  let result: unknown;
  for (const plugin of list.plugins) {
    result = await execPlugin('ADD', list, plugin, invocation, result);
  }
  return result;
}

/** DEL in reverse order with the cached result; every plugin runs even if one fails. */
export async function cniDel(
  list: ConfList,
  invocation: CniInvocation,
  cached: unknown,
): Promise<void> {
  const failures: Error[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execPlugin('DEL', list, plugin, invocation, cached);
    } catch (error) {
      failures.push(error as Error);
    }
  }
  if (failures.length > 0) throw failures[0];
}

export async function cniCheck(
  list: ConfList,
  invocation: CniInvocation,
  cached: unknown,
): Promise<void> {
  for (const plugin of list.plugins) await execPlugin('CHECK', list, plugin, invocation, cached);
}
