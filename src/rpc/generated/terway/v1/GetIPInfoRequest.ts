// Original file: proto/terway/v1/backend.proto

import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';

export interface GetIPInfoRequest {
  'pod'?: (_terway_v1_PodRef | null);
}

export interface GetIPInfoRequest__Output {
  'pod': (_terway_v1_PodRef__Output | null);
}
