/**
 * An InformerSource as the integration tests drive it: a RecordingSink for what it hands over,
 * every log line kept, fast retries, and stopped by the caller's cleanup list.
 */
import pino from 'pino';

import { InformerSource, type InformerSourceOptions } from '../../src/k8s/informer-source.js';
import { RecordingSink } from './recording-sink.js';

export type LogLine = Record<string, unknown> & { msg: string; level: number };

export interface StartedSource {
  source: InformerSource;
  sink: RecordingSink;
  logs: LogLine[];
}

export function startInformerSource(
  options: Pick<InformerSourceOptions, 'kubeConfig'> & Partial<InformerSourceOptions>,
  cleanups: (() => Promise<void>)[],
): StartedSource {
  const sink = new RecordingSink();
  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logs.push(JSON.parse(line) as LogLine) },
  );
  const source = new InformerSource({
    sink,
    logger,
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    ...options,
  });
  source.start();
  cleanups.push(() => source.stop());
  return { source, sink, logs };
}
