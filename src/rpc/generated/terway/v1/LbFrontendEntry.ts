// Original file: proto/terway/v1/introspection.proto

import type { LbBackendEntry as _terway_v1_LbBackendEntry, LbBackendEntry__Output as _terway_v1_LbBackendEntry__Output } from '../../terway/v1/LbBackendEntry.js';
import type { LbCounters as _terway_v1_LbCounters, LbCounters__Output as _terway_v1_LbCounters__Output } from '../../terway/v1/LbCounters.js';

export interface LbFrontendEntry {
  'address'?: (string);
  'port'?: (number);
  'protocol'?: (string);
  'service'?: (string);
  'portName'?: (string);
  'external'?: (boolean);
  'affinityTimeoutSeconds'?: (number);
  'id'?: (number);
  'backends'?: (_terway_v1_LbBackendEntry)[];
  'counters'?: (_terway_v1_LbCounters | null);
  'blocked'?: (string);
  'pending'?: (boolean);
  'topology'?: (string);
}

export interface LbFrontendEntry__Output {
  'address': (string);
  'port': (number);
  'protocol': (string);
  'service': (string);
  'portName': (string);
  'external': (boolean);
  'affinityTimeoutSeconds': (number);
  'id': (number);
  'backends': (_terway_v1_LbBackendEntry__Output)[];
  'counters': (_terway_v1_LbCounters__Output | null);
  'blocked': (string);
  'pending': (boolean);
  'topology': (string);
}
