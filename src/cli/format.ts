import { stripVTControlCharacters } from 'node:util';

import Table from 'cli-table3';
import type { PodRef__Output } from '../rpc/generated/terway/v1/PodRef.js';

/** Docker and crictl both abbreviate container ids to 12 hex digits; match them so ids can be pasted. */
export const SHORT_CONTAINER_ID_LENGTH = 12;
/** Placeholder for an empty cell, so columns stay aligned for awk and the eye. */
export const NONE = '-';

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Options every renderer takes; colour only when a person is looking at a terminal. */
export interface RenderOptions {
  color?: boolean;
}

/**
 * A duration as its two most significant units ("3m12s", "2h5m", "4d3h"): precise enough to
 * order events, short enough for a table column.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms));
  if (total < MINUTE_MS) return `${Math.floor(total / SECOND_MS)}s`;
  if (total < HOUR_MS) {
    return `${Math.floor(total / MINUTE_MS)}m${Math.floor((total % MINUTE_MS) / SECOND_MS)}s`;
  }
  if (total < DAY_MS) {
    return `${Math.floor(total / HOUR_MS)}h${Math.floor((total % HOUR_MS) / MINUTE_MS)}m`;
  }
  return `${Math.floor(total / DAY_MS)}d${Math.floor((total % DAY_MS) / HOUR_MS)}h`;
}

/** Time elapsed since an epoch-ms stamp; 0 means the daemon did not record one. */
export function formatAge(sinceMs: number, now: number): string {
  if (!Number.isFinite(sinceMs) || sinceMs <= 0) return NONE;
  // A stamp slightly in the future is clock skew between daemon and cli, not a real event.
  return formatDuration(Math.max(0, now - sinceMs));
}

export function formatSince(sinceMs: number, now: number): string {
  const age = formatAge(sinceMs, now);
  return age === NONE ? NONE : `${age} ago`;
}

export function shortContainerId(id: string): string {
  // Runtimes sometimes hand over "containerd://<hex>"; the scheme is noise in a table.
  const bare = id.includes('://') ? id.slice(id.indexOf('://') + 3) : id;
  return bare.slice(0, SHORT_CONTAINER_ID_LENGTH);
}

export function podLabel(pod: PodRef__Output | null | undefined): string {
  if (pod === null || pod === undefined || (pod.namespace === '' && pod.name === '')) return NONE;
  return `${pod.namespace}/${pod.name}`;
}

// kubectl-style columns: no box drawing, two spaces between columns. Narrower than a boxed table
// (the mapping view has seven columns) and friendly to grep/awk.
const PLAIN_CHARS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

const bold = (text: string): string => `\u001b[1m${text}\u001b[22m`;

/**
 * Past this many rows a table is padded here rather than by the table library, which spreads the
 * rows into one call (past about 120,000 that overflows the stack) and lays out 10,000 rows in tens
 * of seconds: `show flows --limit 0` on a full flow map has 262,144. The output is the same for
 * the cells these tables hold (one line each, no wide characters).
 */
const LIBRARY_TABLE_ROWS = 10_000;

/** Renders rows under a header; `indent` shifts every line so a table can sit under a heading. */
export function renderTable(
  head: string[],
  rows: string[][],
  options: RenderOptions & { indent?: number } = {},
): string {
  const pad = ' '.repeat(options.indent ?? 0);
  const shownHead = options.color === true ? head.map(bold) : head;
  if (rows.length > LIBRARY_TABLE_ROWS) return paddedTable(shownHead, rows, pad);
  // The table library's own styling asks the terminal whether it supports colour, which
  // overrides an explicit choice (CI has no TTY); so bold is applied here instead.
  const table = new Table({
    head: shownHead,
    chars: PLAIN_CHARS,
    style: {
      head: [],
      border: [],
      'padding-left': 0,
      'padding-right': 0,
    },
  });
  for (const row of rows) table.push(row);
  return table
    .toString()
    .split('\n')
    .map((line) => `${pad}${line}`.trimEnd())
    .join('\n');
}

/** The library's plain layout: each column as wide as its widest cell, two spaces between. */
function paddedTable(head: readonly string[], rows: readonly string[][], pad: string): string {
  const shown = (cell: string): number => stripVTControlCharacters(cell).length;
  const widths = head.map(shown);
  for (const row of rows) {
    for (let column = 0; column < row.length; column++) {
      widths[column] = Math.max(widths[column] ?? 0, shown(row[column]!));
    }
  }
  const line = (cells: readonly string[]): string =>
    `${pad}${cells.map((cell, column) => cell + ' '.repeat(widths[column]! - shown(cell))).join(PLAIN_CHARS.middle)}`.trimEnd();
  const lines = [line(head)];
  for (const row of rows) lines.push(line(row));
  return lines.join('\n');
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in binary units with three significant digits ("940 B", "12.4 KiB", "3.07 GiB"). */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value.toPrecision(3)} ${BYTE_UNITS[unit]}`;
}
