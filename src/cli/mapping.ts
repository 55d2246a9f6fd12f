import type { ListMappingsReply__Output } from '../rpc/generated/terway/v1/ListMappingsReply.js';
import type { Mapping__Output } from '../rpc/generated/terway/v1/Mapping.js';
import type { RenderOptions } from './format.js';
import { compareIp } from '../util/ipv4.js';
import { NONE, formatAge, podLabel, renderTable, shortContainerId } from './format.js';

export const NO_MAPPINGS_MESSAGE = 'no pod IP records on this node';
export const MAPPING_HEAD = [
  'POD',
  'CONTAINER',
  'IP',
  'ENI',
  'MAC',
  'DRIVER',
  'NODE IF',
  'STATE',
  'AGE',
];

/** The human view of `terway-cli mapping`: one row per durable pod → IP → ENI record. */
export function renderMappings(
  reply: ListMappingsReply__Output,
  now: number,
  options: RenderOptions = {},
): string {
  if (reply.mappings.length === 0) return `${NO_MAPPINGS_MESSAGE}\n`;
  const rows = [...reply.mappings].sort(compareMappings).map((m) => mappingRow(m, now));
  return `${renderTable(MAPPING_HEAD, rows, options)}\n`;
}

function mappingRow(mapping: Mapping__Output, now: number): string[] {
  const net = mapping.network;
  if (net === null)
    return [NONE, NONE, NONE, NONE, NONE, NONE, NONE, mapping.ipState || NONE, NONE];
  const ip = net.ip === '' ? NONE : net.prefixLength > 0 ? `${net.ip}/${net.prefixLength}` : net.ip;
  return [
    podLabel(net.pod),
    shortContainerId(net.pod?.containerId ?? '') || NONE,
    ip,
    net.eniId || NONE,
    net.eniMac || NONE,
    net.driver || NONE,
    net.hostInterface?.name || NONE,
    mapping.ipState || NONE,
    formatAge(net.allocatedAtMs, now),
  ];
}

function compareMappings(a: Mapping__Output, b: Mapping__Output): number {
  const pa = a.network?.pod;
  const pb = b.network?.pod;
  return (
    (pa?.namespace ?? '').localeCompare(pb?.namespace ?? '') ||
    (pa?.name ?? '').localeCompare(pb?.name ?? '') ||
    compareIp(a.network?.ip ?? '', b.network?.ip ?? '')
  );
}
