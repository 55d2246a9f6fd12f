// Original file: proto/terway/v1/backend.proto

import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';

export interface GarbageCollectReply {
  'released'?: (_terway_v1_PodRef)[];
}

export interface GarbageCollectReply__Output {
  'released': (_terway_v1_PodRef__Output)[];
}
