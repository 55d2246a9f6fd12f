// Original file: proto/terway/v1/backend.proto

import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';

export interface AllocateIPRequest {
  'pod'?: (_terway_v1_PodRef | null);
  'netns'?: (string);
  'ifname'?: (string);
}

export interface AllocateIPRequest__Output {
  'pod': (_terway_v1_PodRef__Output | null);
  'netns': (string);
  'ifname': (string);
}
