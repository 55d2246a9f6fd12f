// Original file: proto/terway/v1/introspection.proto

import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';

export interface IPEntry {
  'address'?: (string);
  'state'?: (string);
  'owner'?: (_terway_v1_PodRef | null);
  'isEniPrimary'?: (boolean);
  'sinceMs'?: (number | string);
}

export interface IPEntry__Output {
  'address': (string);
  'state': (string);
  'owner': (_terway_v1_PodRef__Output | null);
  'isEniPrimary': (boolean);
  'sinceMs': (number);
}
