// Original file: proto/terway/v1/introspection.proto

import type { LbCounters as _terway_v1_LbCounters, LbCounters__Output as _terway_v1_LbCounters__Output } from '../../terway/v1/LbCounters.js';
import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';

export interface LbBackendEntry {
  'address'?: (string);
  'port'?: (number);
  'id'?: (number);
  'state'?: (string);
  'counters'?: (_terway_v1_LbCounters | null);
  'pod'?: (_terway_v1_PodRef | null);
}

export interface LbBackendEntry__Output {
  'address': (string);
  'port': (number);
  'id': (number);
  'state': (string);
  'counters': (_terway_v1_LbCounters__Output | null);
  'pod': (_terway_v1_PodRef__Output | null);
}
