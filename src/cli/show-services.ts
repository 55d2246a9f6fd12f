import type { LbBackendEntry__Output } from '../rpc/generated/terway/v1/LbBackendEntry.js';
import type { LbCounters__Output } from '../rpc/generated/terway/v1/LbCounters.js';
import type { LbFrontendEntry__Output } from '../rpc/generated/terway/v1/LbFrontendEntry.js';
import type { ShowServicesReply__Output } from '../rpc/generated/terway/v1/ShowServicesReply.js';
import type { RenderOptions } from './format.js';
import { NONE, formatBytes, podLabel, renderTable } from './format.js';

export const LB_DISABLED_MESSAGE =
  'the Service LB is not running in this terwayd (it runs only with the kernel datapath)';
export const NO_FRONTENDS_MESSAGE = 'no Service frontends';
export const BACKEND_HEAD = ['BACKEND', 'STATE', 'ID', 'POD', 'FLOWS', 'PACKETS', 'BYTES'];
const TABLE_INDENT = 2;

const SOURCE_TEXT: Readonly<Record<string, string>> = {
  kubernetes: 'the Kubernetes API',
  file: 'a services file',
  none: 'no source (the maps are kept as they are)',
};

/**
 * The human view of `terway-cli show services`: one block per frontend, as the programs see it,
 * with the Service it belongs to, its counters and a table of its backends.
 */
export function renderShowServices(
  reply: ShowServicesReply__Output,
  options: RenderOptions = {},
): string {
  if (!reply.enabled) return `${LB_DISABLED_MESSAGE}\n`;
  const blocks = [renderHeader(reply)];
  if (reply.frontends.length === 0) blocks.push(NO_FRONTENDS_MESSAGE);
  for (const frontend of reply.frontends) blocks.push(renderFrontend(frontend, options));
  return `${blocks.join('\n\n')}\n`;
}

function renderHeader(reply: ShowServicesReply__Output): string {
  const source = SOURCE_TEXT[reply.source] ?? reply.source;
  const count = reply.frontends.length;
  const lines = [
    `Service LB: ${count} frontend${count === 1 ? '' : 's'} from ${source}` +
      `${reply.source === 'none' ? '' : reply.synced ? ' (synced)' : ' (first sync not complete: nothing restored is deleted yet)'}` +
      `; node ${reply.node || NONE}, zone ${reply.zone || NONE}` +
      `; maps in ${reply.pinDir || NONE}`,
  ];
  // A parser's message may quote the bad lines below its own: kept, under the header's indent.
  if (reply.sourceProblem !== '') {
    const [first, ...quoted] = reply.sourceProblem.split('\n');
    // Without its blank lines: a blank line ends the header block.
    lines.push(`  ${first}`, ...quoted.filter((line) => line !== '').map((line) => `    ${line}`));
  }
  if (reply.lastError !== '') lines.push(`  last write failed, retrying: ${reply.lastError}`);
  if (reply.addHoldRemainingMs > 0) {
    lines.push(
      `  pod ADDs are held until the first complete state is in the maps, ` +
        `for at most ${(reply.addHoldRemainingMs / 1000).toFixed(1)} s more (--lb-sync-wait)`,
    );
  } else if (reply.addHoldExpired && !reply.synced) {
    lines.push(
      '  pod ADDs are no longer held for the first complete state: it did not come within ' +
        '--lb-sync-wait; pods get their Services once it does',
    );
  }
  lines.push(
    `  new flows from this node's pods, since the maps were created: ` +
      `${reply.newFlowsBalanced} balanced (${reply.newFlowsMoved} of them from a moved port), ` +
      `${reply.newFlowsRefused} refused (no ready backend), ` +
      `${reply.newFlowsClashed} refused (port clash); ` +
      `${reply.directConnectionsMoved} direct connections moved off a port a flow held`,
  );
  const parked = reply.parkedFrontendIds;
  if (parked > 0) {
    lines.push(
      `  ${parked} frontend id${parked === 1 ? '' : 's'} parked: deleted frontends whose ` +
        'connections may still run count under them; reused once those end',
    );
  }
  return lines.join('\n');
}

/** What topology hints narrowed new flows to; the ready backends left out drain. */
const TOPOLOGY_TRAITS: Readonly<Record<string, string>> = {
  zone: 'hints: this zone',
  node: 'hints: this node',
};

export function frontendLabel(frontend: LbFrontendEntry__Output): string {
  return `${frontend.address}:${frontend.port}/${frontend.protocol}`;
}

function renderFrontend(frontend: LbFrontendEntry__Output, options: RenderOptions): string {
  const service =
    frontend.service === ''
      ? 'no Service'
      : `${frontend.service}${frontend.portName === '' ? '' : ` (port ${frontend.portName})`}`;
  const traits = [
    frontend.external ? 'external IP' : '',
    frontend.affinityTimeoutSeconds > 0
      ? `affinity ClientIP ${frontend.affinityTimeoutSeconds}s`
      : '',
    TOPOLOGY_TRAITS[frontend.topology] ?? '',
    frontend.id > 0 ? `id ${frontend.id}` : '',
  ].filter((trait) => trait !== '');
  const lines = [
    `${frontendLabel(frontend)}  ${service}${traits.length > 0 ? `  ${traits.join('  ')}` : ''}`,
  ];
  if (frontend.blocked !== '') {
    lines.push(`  NOT PROGRAMMED: ${frontend.blocked}`);
  } else if (frontend.id === 0) {
    lines.push('  not in the maps yet: being written');
  } else if (frontend.service === '') {
    lines.push(
      "  nothing desires it: restored from the maps, removed once the source's first sync is complete",
    );
  } else if (frontend.pending) {
    lines.push('  a change of its backends is being written');
  }
  if (frontend.counters !== null) lines.push(`  ${countersText(frontend.counters)}`);
  const ready = frontend.backends.filter((backend) => backend.state === 'ready').length;
  if (frontend.id > 0 && ready === 0) {
    lines.push('  no ready backend: new connections are refused at once');
  }
  if (frontend.backends.length > 0) {
    lines.push(
      renderTable(BACKEND_HEAD, frontend.backends.map(backendRow), {
        ...options,
        indent: TABLE_INDENT,
      }),
    );
  }
  return lines.join('\n');
}

function countersText(counters: LbCounters__Output): string {
  return (
    `flows ${counters.flows}  packets ${counters.packets}  bytes ${formatBytes(counters.bytes)}` +
    `  rejected ${counters.rejected}`
  );
}

function backendRow(backend: LbBackendEntry__Output): string[] {
  const counters = backend.counters;
  return [
    `${backend.address}:${backend.port}`,
    backend.state,
    backend.id > 0 ? String(backend.id) : NONE,
    podLabel(backend.pod),
    counters === null ? NONE : String(counters.flows),
    counters === null ? NONE : String(counters.packets),
    counters === null ? NONE : formatBytes(counters.bytes),
  ];
}
