// Original file: proto/terway/v1/introspection.proto

import type { VSwitchEntry as _terway_v1_VSwitchEntry, VSwitchEntry__Output as _terway_v1_VSwitchEntry__Output } from '../../terway/v1/VSwitchEntry.js';
import type { ApiEntry as _terway_v1_ApiEntry, ApiEntry__Output as _terway_v1_ApiEntry__Output } from '../../terway/v1/ApiEntry.js';

export interface CloudStatus {
  'kind'?: (string);
  'vswitches'?: (_terway_v1_VSwitchEntry)[];
  'pendingCleanup'?: (string)[];
  'apis'?: (_terway_v1_ApiEntry)[];
}

export interface CloudStatus__Output {
  'kind': (string);
  'vswitches': (_terway_v1_VSwitchEntry__Output)[];
  'pendingCleanup': (string)[];
  'apis': (_terway_v1_ApiEntry__Output)[];
}
