import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { StatusReply__Output } from '../rpc/generated/terway/v1/StatusReply.js';
import { DEFAULT_SOCKET_PATH } from '../rpc/socket-address.js';
import type { Introspection } from './introspection-client.js';
import { CliError, grpcIntrospection } from './introspection-client.js';
import { renderMappings } from './mapping.js';
import { renderShowFactory } from './show-factory.js';
import { renderShowFlows } from './show-flows.js';
import { renderShowServices } from './show-services.js';

export const PROGRAM_NAME = 'terway-cli';
/** Lets a node-wide override (e.g. in a debug pod's env) apply without retyping --socket. */
export const SOCKET_ENV = 'TERWAY_SOCKET';
/** JSON is for scripts: two-space indent, keys in the order the daemon sent them. */
const JSON_INDENT = 2;

/** Everything main touches outside itself, so tests can drive it without a terminal or daemon. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Colour only for a person at a terminal; pipes and files get plain text. */
  color: boolean;
  now: () => number;
  env: Readonly<Record<string, string | undefined>>;
  introspection: Introspection;
}

export function processIo(): CliIo {
  // `terway-cli mapping | head` closes the pipe early; that is the reader's choice, not a crash.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    color: process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined,
    now: () => Date.now(),
    env: process.env,
    introspection: grpcIntrospection,
  };
}

interface GlobalOptions {
  socket?: string;
}

interface OutputOptions {
  json?: boolean;
}

interface StatusOptions extends OutputOptions {
  servicesSynced?: boolean;
}

interface FlowOptions extends OutputOptions {
  service?: string;
  pod?: string;
  backend?: string;
  limit: number;
}

/**
 * Rows `show flows` prints unless told otherwise: enough for any one client or Service, and a
 * screenful of terminal rather than a busy node's 262,144 records.
 */
export const DEFAULT_FLOW_LIMIT = 1000;

function parseLimit(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError('a whole number (0 for all)');
  return Number(text);
}

/** Runs one invocation and returns the exit code; never throws, never prints a stack. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'node' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    io.stderr(`${PROGRAM_NAME}: ${errorLine(error)}\n`);
    return 1;
  }
  return 0;
}

function buildProgram(io: CliIo): Command {
  const program = new Command(PROGRAM_NAME)
    .description('Inspect the terway-node daemon (terwayd) on this node over its unix socket.')
    // Program options are not positional, so --socket works before or after the subcommand.
    .option(
      '--socket <path>',
      `terwayd socket (default: $${SOCKET_ENV}, else ${DEFAULT_SOCKET_PATH})`,
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  // An exported-but-empty TERWAY_SOCKET means "unset", not "the current directory".
  const socketOf = (command: Command): string =>
    command.optsWithGlobals<GlobalOptions>().socket ?? (io.env[SOCKET_ENV] || DEFAULT_SOCKET_PATH);

  // Subcommands inherit neither exitOverride nor output settings unless told to.
  const configure = (command: Command): Command =>
    command
      .exitOverride()
      .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
      .showHelpAfterError('(run with --help for usage)');

  const show = configure(program.command('show').description('show daemon state'));
  configure(
    show
      .command('factory')
      .description("the node's secondary ENIs, their MACs, and each IP with its state and owner"),
  )
    .option('--json', 'print the raw reply as JSON')
    .action(async (options: OutputOptions, command: Command) => {
      const reply = await io.introspection.showFactory(socketOf(command));
      io.stdout(
        options.json === true
          ? toJson(reply)
          : renderShowFactory(reply, io.now(), { color: io.color }),
      );
    });

  configure(
    show
      .command('services')
      .description(
        'the Service load balancer as its maps hold it: each frontend, its Service, its ' +
          'backends and their counters',
      )
      .argument('[filter]', 'only this Service (namespace/name) or frontend (ip or ip:port)'),
  )
    .option('--json', 'print the raw reply as JSON')
    .action(async (filter: string | undefined, options: OutputOptions, command: Command) => {
      const reply = await io.introspection.showServices(socketOf(command), filter ?? '');
      io.stdout(
        options.json === true ? toJson(reply) : renderShowServices(reply, { color: io.color }),
      );
    });

  configure(
    show
      .command('flows')
      .description(
        'the translation records: the backend each client flow to a Service went to, most ' +
          'recently active first',
      ),
  )
    .option('--service <service>', 'a Service (namespace/name) or frontend (ip or ip:port)')
    .option('--pod <pod>', 'the client: a pod (namespace/name) or an address (ip or ip:port)')
    .option(
      '--backend <backend>',
      'a backend: a pod (namespace/name) or an address (ip or ip:port)',
    )
    .option(
      '--limit <n>',
      'at most this many flows; 0 for all, up to the most terwayd lists at once',
      parseLimit,
      DEFAULT_FLOW_LIMIT,
    )
    .option('--json', 'print the raw reply as JSON')
    .action(async (options: FlowOptions, command: Command) => {
      const reply = await io.introspection.listFlows(socketOf(command), {
        service: options.service ?? '',
        pod: options.pod ?? '',
        backend: options.backend ?? '',
        limit: options.limit,
      });
      io.stdout(
        options.json === true ? toJson(reply) : renderShowFlows(reply, { color: io.color }),
      );
    });

  configure(
    program
      .command('status')
      .description(
        'whether terwayd serves its socket, as a liveness or readiness probe asks: exit 0 when ' +
          'it does, 1 when it does not answer or is not ready',
      ),
  )
    .option('--json', 'print the raw reply as JSON')
    .option(
      '--services-synced',
      "exit 1 also while the Service LB's first complete state is not in its maps (a readiness probe)",
    )
    .action(async (options: StatusOptions, command: Command) => {
      const socket = socketOf(command);
      const reply = await io.introspection.status(socket);
      if (options.json === true) io.stdout(toJson(reply));
      if (!reply.ready) {
        throw new CliError(
          'NOT_READY',
          `terwayd at ${socket} is not ready${reply.reason ? `: ${reply.reason}` : ''}`,
        );
      }
      if (options.servicesSynced === true && reply.servicesPending) {
        throw new CliError(
          'NOT_READY',
          `terwayd at ${socket} is serving, but its Services are not synced: ` +
            (reply.servicesPendingReason || 'no reason given'),
        );
      }
      if (options.json !== true) io.stdout(`${renderStatus(socket, reply)}\n`);
    });

  configure(
    program.command('mapping').description('pod → IP → ENI for every pod record on this node'),
  )
    .option('--json', 'print the raw reply as JSON')
    .action(async (options: OutputOptions, command: Command) => {
      const reply = await io.introspection.listMappings(socketOf(command));
      io.stdout(
        options.json === true
          ? toJson(reply)
          : renderMappings(reply, io.now(), { color: io.color }),
      );
    });

  return program;
}

/**
 * One line: serving or not, whether a new pod would get an IP now (not a health matter), and,
 * while it is so, that the Service LB's first complete state is not in its maps yet.
 */
export function renderStatus(socket: string, reply: StatusReply__Output): string {
  const ips = reply.canAllocate
    ? 'new pods can get an IP'
    : `new pods cannot get an IP now${reply.reason ? `: ${reply.reason}` : ''}`;
  const services = reply.servicesPending
    ? `; Services not synced: ${reply.servicesPendingReason || 'no reason given'}`
    : '';
  return `terwayd at ${socket} is serving; ${ips}${services}`;
}

function toJson(reply: unknown): string {
  return `${JSON.stringify(reply, null, JSON_INDENT)}\n`;
}

function errorLine(error: unknown): string {
  if (error instanceof CliError) return error.message;
  // Anything else is a bug in the cli; one line still beats a stack trace for an operator.
  const message = error instanceof Error ? error.message : String(error);
  return `unexpected error: ${message.split('\n')[0] ?? ''}`;
}
