import type { FlowEntry__Output } from '../rpc/generated/terway/v1/FlowEntry.js';
import type { ListFlowsReply__Output } from '../rpc/generated/terway/v1/ListFlowsReply.js';
import type { RenderOptions } from './format.js';
import { NONE, formatBytes, formatDuration, podLabel, renderTable } from './format.js';
import { LB_DISABLED_MESSAGE } from './show-services.js';

export const FLOW_HEAD = [
  'PROTO',
  'CLIENT',
  'CLIENT POD',
  'SERVICE',
  'FRONTEND',
  'BACKEND',
  'BACKEND POD',
  'STATE',
  'AGE',
  'IDLE',
  'PACKETS',
  'BYTES',
];
/** STATE of a flow past its lifetime (its last state stays in --json). */
export const ENDED = 'ended';
export const NO_FLOWS_MESSAGE = 'no translation records: no pod on this node has dialled a Service';
export const NO_MATCHING_FLOWS_MESSAGE = 'no translation records match';

/**
 * The human view of `terway-cli show flows`: one row per client flow to a Service, with the
 * backend the programs sent it to, most recently active first.
 */
export function renderShowFlows(
  reply: ListFlowsReply__Output,
  options: RenderOptions = {},
): string {
  if (!reply.enabled) return `${LB_DISABLED_MESSAGE}\n`;
  if (reply.total === 0) return `${NO_FLOWS_MESSAGE}\n`;
  if (reply.matched === 0) return `${NO_MATCHING_FLOWS_MESSAGE} (${inTheMap(reply)})\n`;
  const table = renderTable(FLOW_HEAD, reply.flows.map(flowRow), options);
  return `${table}\n${flowsFooter(reply)}\n`;
}

function flowsFooter(reply: ListFlowsReply__Output): string {
  const shown = reply.flows.length;
  if (shown >= reply.matched) return `${shown} flow${shown === 1 ? '' : 's'} (${inTheMap(reply)})`;
  const some =
    `${shown} of ${reply.matched} matching flows shown, most recently active first` +
    ` (${inTheMap(reply)})`;
  // An older terwayd sends no cap (0): it lists all it is asked for.
  const capped = reply.mostListed > 0 && reply.matched > reply.mostListed;
  if (capped && shown >= reply.mostListed) {
    return `${some}: the most terwayd lists at once; narrow them with --service, --pod or --backend`;
  }
  return capped
    ? `${some}; --limit 0 shows the ${reply.mostListed} most recent, the most terwayd lists at once`
    : `${some}; --limit 0 shows all`;
}

/** The flow map's fill: `N in the flow map of M` (an older terwayd sends no size: 0). */
function inTheMap(reply: ListFlowsReply__Output): string {
  const of = reply.capacity > 0 ? ` of ${reply.capacity}` : '';
  return `${reply.total} in the flow map${of}`;
}

/**
 * The SERVICE cell of a direct connection to a backend, recorded because its port was moved off
 * one that a flow to a Service held.
 */
const DIRECT = '(direct connection)';

/**
 * The client's address and port as its socket has them; a moved port (the programs sent the flow
 * from another port, its own being taken towards that backend) follows as the port on the wire.
 */
function clientCell(flow: FlowEntry__Output): string {
  const own = `${flow.clientAddress}:${flow.clientPort}`;
  return flow.movedClientPort === 0 ? own : `${own} (sent as :${flow.movedClientPort})`;
}

function flowRow(flow: FlowEntry__Output): string[] {
  return [
    flow.protocol,
    clientCell(flow),
    podLabel(flow.clientPod),
    flow.direct ? DIRECT : flow.service || NONE,
    // A direct connection's frontend fields repeat its backend's: it went through none.
    flow.direct ? NONE : `${flow.frontendAddress}:${flow.frontendPort}`,
    `${flow.backendAddress}:${flow.backendPort}`,
    podLabel(flow.backendPod),
    flow.ended ? ENDED : flow.state,
    formatDuration(flow.ageMs),
    formatDuration(flow.idleMs),
    String(flow.packets),
    formatBytes(flow.bytes),
  ];
}
