// Original file: proto/terway/v1/introspection.proto

import type { LbFrontendEntry as _terway_v1_LbFrontendEntry, LbFrontendEntry__Output as _terway_v1_LbFrontendEntry__Output } from '../../terway/v1/LbFrontendEntry.js';

export interface ShowServicesReply {
  'enabled'?: (boolean);
  'source'?: (string);
  'synced'?: (boolean);
  'lastError'?: (string);
  'pinDir'?: (string);
  'frontends'?: (_terway_v1_LbFrontendEntry)[];
  'node'?: (string);
  'zone'?: (string);
  'parkedFrontendIds'?: (number);
  'sourceProblem'?: (string);
  'newFlowsBalanced'?: (number | string);
  'newFlowsRefused'?: (number | string);
  'newFlowsClashed'?: (number | string);
  'newFlowsMoved'?: (number | string);
  'directConnectionsMoved'?: (number | string);
  'addHoldRemainingMs'?: (number);
  'addHoldExpired'?: (boolean);
}

export interface ShowServicesReply__Output {
  'enabled': (boolean);
  'source': (string);
  'synced': (boolean);
  'lastError': (string);
  'pinDir': (string);
  'frontends': (_terway_v1_LbFrontendEntry__Output)[];
  'node': (string);
  'zone': (string);
  'parkedFrontendIds': (number);
  'sourceProblem': (string);
  'newFlowsBalanced': (number);
  'newFlowsRefused': (number);
  'newFlowsClashed': (number);
  'newFlowsMoved': (number);
  'directConnectionsMoved': (number);
  'addHoldRemainingMs': (number);
  'addHoldExpired': (boolean);
}
