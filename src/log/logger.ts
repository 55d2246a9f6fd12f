/**
 * The daemon's structured logger: one JSON object per line, to stdout by default so the kubelet
 * collects it. Credentials are redacted by path, so logging a whole config or cloud request is
 * safe by construction rather than by every call site remembering to strip them.
 */
import pino from 'pino';
import type { DestinationStream, LevelWithSilent, Logger } from 'pino';

export type { Logger } from 'pino';
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

export const REDACTED = '[REDACTED]';

/**
 * Synchronous writes: a daemon that crashes or is killed must not lose the lines explaining why,
 * and its log volume is far too low for the async buffer to matter.
 */
const SYNC_WRITES = true;

/**
 * pino's redaction is by exact path with `*` for one level. The secrets appear in the raw
 * eni_conf (snake_case), in DaemonConfig (camelCase, under `credentials`) and in STS tokens, at
 * the top of a log object or one or two levels down (`{ config }`, `{ config: { credentials } }`).
 */
export const REDACT_PATHS: readonly string[] = [
  'access_key',
  'access_secret',
  'accessKey',
  'accessSecret',
  'accessKeyId',
  'accessKeySecret',
  'securityToken',
  'security_token',
  '*.access_key',
  '*.access_secret',
  '*.accessKey',
  '*.accessSecret',
  '*.accessKeyId',
  '*.accessKeySecret',
  '*.securityToken',
  '*.security_token',
  'config.access_key',
  'config.access_secret',
  'config.credentials.accessKey',
  'config.credentials.accessSecret',
  'credentials.accessKey',
  'credentials.accessSecret',
  '*.credentials.accessKey',
  '*.credentials.accessSecret',
  '*.credentials.securityToken',
];

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
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers: log pipelines and humans grep for "error", not 50.
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
