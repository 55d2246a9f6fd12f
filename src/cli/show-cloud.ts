import type { CloudStatus__Output } from '../rpc/generated/terway/v1/CloudStatus.js';
import type { RenderOptions } from './format.js';
import { renderTable } from './format.js';

const TABLE_INDENT = 2;

/** Seconds or minutes until a time, for "skipped for another …". */
function untilText(untilMs: number, now: number): string {
  const seconds = Math.max(0, Math.round((untilMs - now) / 1000));
  return seconds < 120 ? `${seconds}s` : `${Math.round(seconds / 60)}m`;
}

/**
 * The cloud block of `show factory`: where the next ENI can go (and why a vSwitch is skipped),
 * ENIs still waiting to be deleted, and how each API has fared — the operator's answer to
 * "why is this pod waiting?" when the pool figures point at the cloud.
 */
export function renderCloud(
  cloud: CloudStatus__Output,
  now: number,
  options: RenderOptions = {},
): string {
  const lines = [`Cloud: ${cloud.kind}`];
  for (const vsw of cloud.vswitches) {
    const where = vsw.zoneId === '' ? '' : ` (${vsw.zoneId})`;
    const ips = vsw.availableIps < 0 ? 'not described yet' : `${vsw.availableIps} IPs available`;
    let state = ips;
    if (vsw.excluded !== '') state = `never used: ${vsw.excluded}`;
    else if (vsw.inhibitedUntilMs > now) {
      state = `skipped for another ${untilText(vsw.inhibitedUntilMs, now)}: ${vsw.reason}`;
    }
    lines.push(`  vSwitch ${vsw.id}${where}: ${state}`);
  }
  if (cloud.pendingCleanup.length > 0) {
    lines.push(`  ENIs waiting to be deleted: ${cloud.pendingCleanup.join(', ')}`);
  }
  if (cloud.apis.length > 0) {
    const rows = cloud.apis.map((api) => [
      api.api,
      String(api.calls),
      String(api.throttled),
      String(api.retried),
      String(api.errors),
      api.callsPerMinute < api.baseCallsPerMinute
        ? `${Math.round(api.callsPerMinute)}/${api.baseCallsPerMinute} (slowed)`
        : String(api.baseCallsPerMinute),
      api.lastError === '' ? '-' : api.lastError,
    ]);
    lines.push(
      renderTable(
        ['API', 'CALLS', 'THROTTLED', 'RETRIED', 'FAILED', 'BUDGET/MIN', 'LAST ERROR'],
        rows,
        { ...options, indent: TABLE_INDENT },
      ),
    );
  }
  return lines.join('\n');
}
