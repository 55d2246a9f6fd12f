// Original file: proto/terway/v1/backend.proto

import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';

export interface ReleaseIPRequest {
  'pod'?: (_terway_v1_PodRef | null);
  'ifname'?: (string);
}

export interface ReleaseIPRequest__Output {
  'pod': (_terway_v1_PodRef__Output | null);
  'ifname': (string);
}
