/**
 * The daemon's structured logger: one JSON object per line, to stdout by default so the kubelet
 * collects it. Credentials are redacted by key name, so logging a whole config or cloud request is
 * safe by construction rather than by every call site remembering to strip them.
 */
import pino from 'pino';
import type { DestinationStream, LevelWithSilent, Logger } from 'pino';

import { redactSecrets } from './redact-secrets.js';

export type { Logger } from 'pino';
export { REDACTED } from './redact-secrets.js';
export type LogLevel = LevelWithSilent;

export const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

/**
 * Synchronous writes: a daemon that crashes or is killed must not lose the lines explaining why,
 * and its log volume is far too low for the async buffer to matter.
 */
const SYNC_WRITES = true;

/**
 * How terwayd redacts credentials (redact-secrets.ts), as pino options: in the logged object, in
 * the root's bindings and in every child's. Test loggers that stand in for the daemon's spread
 * this too, so they redact exactly as it does.
 */
export const LOG_REDACTION = {
  formatters: { log: redactSecrets, bindings: redactSecrets },
  onChild: redactChildBindings,
};

/**
 * pino serializes a child's bindings once, when the child is made, without the bindings
 * formatter; this redacts them there, rewriting the child's serialized bindings (pino's exported
 * `chindingsSym`: the parent's, then the child's own as `,"key":value`) when they hold a secret.
 */
function redactChildBindings(child: Logger): void {
  const { chindingsSym } = pino.symbols;
  const ownBindings = child as unknown as Record<symbol, string>;
  const parent = Object.getPrototypeOf(child) as Record<symbol, string>;
  const inherited = parent[chindingsSym] ?? '';
  const own = ownBindings[chindingsSym]?.slice(inherited.length) ?? '';
  if (own === '') return;
  const bindings = JSON.parse(`{${own.slice(1)}}`) as Record<string, unknown>;
  const redacted = redactSecrets(bindings);
  if (redacted === bindings) return;
  ownBindings[chindingsSym] = `${inherited},${JSON.stringify(redacted).slice(1, -1)}`;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Appears as `name` on every line, e.g. "terwayd". */
  name: string;
  /** A file descriptor or a file path (created, with its directory). Default: stdout. */
  destination?: number | string;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination: DestinationStream =
    typeof options.destination === 'string'
      ? pino.destination({ dest: options.destination, mkdir: true, sync: SYNC_WRITES })
      : pino.destination({ dest: options.destination ?? 1, sync: SYNC_WRITES });
  return pino(
    {
      name: options.name,
      level: options.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      ...LOG_REDACTION,
      // Level names, not numbers: log pipelines and humans grep for "error", not 50.
      formatters: { ...LOG_REDACTION.formatters, level: (label) => ({ level: label }) },
    },
    destination,
  );
}
