// Original file: proto/terway/v1/introspection.proto

import type { FlowEntry as _terway_v1_FlowEntry, FlowEntry__Output as _terway_v1_FlowEntry__Output } from '../../terway/v1/FlowEntry.js';

export interface ListFlowsReply {
  'enabled'?: (boolean);
  'flows'?: (_terway_v1_FlowEntry)[];
  'matched'?: (number);
  'total'?: (number);
  'mostListed'?: (number);
  'capacity'?: (number);
}

export interface ListFlowsReply__Output {
  'enabled': (boolean);
  'flows': (_terway_v1_FlowEntry__Output)[];
  'matched': (number);
  'total': (number);
  'mostListed': (number);
  'capacity': (number);
}
