#!/usr/bin/env node
/**
 * ecs-emulator: the ECS + VPC + instance-metadata emulator as a standalone server, for labs and
 * for pointing a real terwayd (or any SDK client) at it. Serves until SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';

import { Command } from 'commander';

import {
  DEFAULT_INSTANCE_TYPE,
  DEFAULT_LISTEN,
  DEFAULT_REGION,
  DEFAULT_VPC_CIDR,
  DEFAULT_VSWITCH,
  buildSetup,
  formatBanner,
  parseConfigFile,
} from '../src/emulator/cli-config.js';
import type { EmulatorCliFlags } from '../src/emulator/cli-config.js';
import { EcsEmulator } from '../src/emulator/ecs-emulator.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const program = new Command('ecs-emulator')
  .description(
    'Alibaba Cloud ECS 2014-05-26 + VPC 2016-04-28 + instance metadata, emulated on one port',
  )
  .option('--config <file>', 'JSON file with EmulatorOptions fields (flags override it)')
  .option('--listen <host:port>', `address to serve on (default ${DEFAULT_LISTEN})`)
  .option(
    '--access-key-id <id>',
    'access key id clients sign with (env ALIBABA_CLOUD_ACCESS_KEY_ID; generated if absent)',
  )
  .option('--access-key-secret <secret>', 'its secret (env ALIBABA_CLOUD_ACCESS_KEY_SECRET)')
  .option('--region <id>', `region id (default ${DEFAULT_REGION})`)
  .option('--zone <id>', 'zone of vSwitches given without @zone (default <region>-k)')
  .option('--vpc-id <id>', 'VPC id (default vpc-emulator0)')
  .option('--vpc-cidr <cidr>', `VPC CIDR (default ${DEFAULT_VPC_CIDR})`)
  .option(
    '--vswitch <id=cidr[@zone]>',
    `a vSwitch, repeatable (default ${DEFAULT_VSWITCH})`,
    collect,
  )
  .option(
    '--security-group <id>',
    'a security group that exists, repeatable (default sg-emulator0)',
    collect,
  )
  .option(
    '--instance-type <type>',
    `type of the instances created at start (default ${DEFAULT_INSTANCE_TYPE})`,
  )
  .option('--instances <n>', 'make sure the account has N instances (default 1)')
  .option('--latency <api=ms>', 'response latency of one API, repeatable', collect)
  .option('--attach-ms <ms>', 'Attaching → InUse duration')
  .option('--detach-ms <ms>', 'Detaching → Available duration')
  .option('--delete-ms <ms>', 'Deleting → gone duration')
  .option(
    '--stuck-attach-fail-ms <ms>',
    'a stuck attach (POST /admin/stick-attaches) fails back to Available after this long (default: never)',
  )
  .option(
    '--throttle <target=rate[/burst]>',
    'token bucket for an API, "mutating" or "all", repeatable',
    collect,
  )
  .option('--state-file <file>', 'persist the account here (loaded on start, saved on change)')
  .option('--require-metadata-token', 'metadata GETs need an IMDSv2 token')
  .option('--sts-ttl-ms <ms>', 'lifetime of RAM role credentials (default 1 h)')
  .showHelpAfterError();

program.parse();
const flags = program.opts<EmulatorCliFlags & { config?: string }>();

try {
  const file =
    flags.config === undefined
      ? undefined
      : parseConfigFile(readFileSync(flags.config, 'utf8'), flags.config);
  const setup = buildSetup(flags, file, process.env);
  const emulator = await EcsEmulator.start(setup.options);
  for (const spec of setup.instanceSpecs) {
    if (
      spec.instanceId === undefined ||
      emulator.metadataSource().instance(spec.instanceId) === undefined
    )
      emulator.addInstance(spec);
  }
  while (emulator.instances().length < setup.instanceCount)
    emulator.addInstance({ instanceType: setup.instanceType });
  console.log(formatBanner(emulator, setup));

  const shutdown = (signal: string): void => {
    console.log(`${signal}: stopping`);
    void emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  console.error(`ecs-emulator: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
