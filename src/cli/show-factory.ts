import type { ENIEntry__Output } from '../rpc/generated/terway/v1/ENIEntry.js';
import type { IPEntry__Output } from '../rpc/generated/terway/v1/IPEntry.js';
import type { PoolFigures__Output } from '../rpc/generated/terway/v1/PoolFigures.js';
import type { ShowFactoryReply__Output } from '../rpc/generated/terway/v1/ShowFactoryReply.js';
import type { RenderOptions } from './format.js';
import { renderCloud } from './show-cloud.js';
import { compareIp } from '../util/ipv4.js';
import { NONE, formatSince, podLabel, renderTable, shortContainerId } from './format.js';

export const PRIMARY_MARKER = '(eni primary)';
export const NO_ENIS_MESSAGE =
  'no secondary ENIs yet; the pool creates them on demand or to reach min_pool_size';
/** Indent of an ENI's IP table under its header, so ENI boundaries stand out in a long listing. */
const IP_TABLE_INDENT = 2;

/** The human view of `terway-cli show factory`: pool figures, then each ENI with its IPs. */
export function renderShowFactory(
  reply: ShowFactoryReply__Output,
  now: number,
  options: RenderOptions = {},
): string {
  const blocks = [renderPool(reply.pool)];
  if (reply.cloud !== null) blocks.push(renderCloud(reply.cloud, now, options));
  if (reply.enis.length === 0) {
    blocks.push(NO_ENIS_MESSAGE);
  } else {
    const ipsPerEni = reply.pool?.ipsPerEni ?? 0;
    for (const eni of reply.enis) blocks.push(renderEni(eni, ipsPerEni, now, options));
  }
  return `${blocks.join('\n\n')}\n`;
}

export function renderPool(pool: PoolFigures__Output | null): string {
  if (pool === null) return 'Pool: figures not reported by the daemon';
  const lines = [
    `Pool (${pool.instanceType || 'unknown instance type'}): ${pool.maxEnis} secondary ENIs allowed` +
      ` × ${pool.ipsPerEni} IPs per ENI = ${pool.capacity} IPs capacity`,
    `  IPs: ${pool.idle} idle, ${pool.inUse} in use, ${pool.creating} creating,` +
      ` ${pool.releasing} releasing, ${pool.invalid} invalid; ${pool.waiting} allocations waiting`,
    `  pool size: min ${pool.minPoolSize}, max ${pool.maxPoolSize}`,
  ];
  if (pool.lastError !== '') lines.push(`  last error: ${pool.lastError}`);
  return lines.join('\n');
}

export function renderEni(
  eni: ENIEntry__Output,
  ipsPerEni: number,
  now: number,
  options: RenderOptions = {},
): string {
  const ipCount = ipsPerEni > 0 ? `${eni.ips.length}/${ipsPerEni} IPs` : `${eni.ips.length} IPs`;
  const details = [
    `vSwitch ${eni.vswitchId || NONE}${eni.vswitchCidr ? ` (${eni.vswitchCidr})` : ''}`,
    `gateway ${eni.gateway || NONE}`,
    `primary ${eni.primaryIp || NONE}`,
  ];
  if (eni.pendingIps > 0) details.push(`pending IPs ${eni.pendingIps}`);
  const header = [
    `ENI ${eni.id}  MAC ${eni.mac || NONE}${eni.link ? `  link ${eni.link}` : ''}  status ${eni.status || NONE}  ${ipCount}`,
    `  ${details.join('  ')}`,
  ];
  if (eni.ips.length === 0) return [...header, '  (no IPs on this ENI)'].join('\n');
  const rows = sortIps(eni).map((ip) => ipRow(ip, eni.primaryIp, now));
  const table = renderTable(['IP', 'STATE', 'OWNER', 'SINCE'], rows, {
    ...options,
    indent: IP_TABLE_INDENT,
  });
  return `${header.join('\n')}\n${table}`;
}

/** The primary first (it anchors the ENI), then by address so an IP is quick to find. */
function sortIps(eni: ENIEntry__Output): IPEntry__Output[] {
  const isPrimary = (ip: IPEntry__Output): boolean =>
    ip.isEniPrimary || (eni.primaryIp !== '' && ip.address === eni.primaryIp);
  return [...eni.ips].sort(
    (a, b) => Number(isPrimary(b)) - Number(isPrimary(a)) || compareIp(a.address, b.address),
  );
}

function ipRow(ip: IPEntry__Output, primaryIp: string, now: number): string[] {
  const primary = ip.isEniPrimary || (primaryIp !== '' && ip.address === primaryIp);
  return [
    primary ? `${ip.address} ${PRIMARY_MARKER}` : ip.address,
    ip.state || NONE,
    ownerLabel(ip),
    formatSince(ip.sinceMs, now),
  ];
}

function ownerLabel(ip: IPEntry__Output): string {
  const pod = podLabel(ip.owner);
  if (pod === NONE) return NONE;
  const container = shortContainerId(ip.owner?.containerId ?? '');
  return container === '' ? pod : `${pod} (${container})`;
}
