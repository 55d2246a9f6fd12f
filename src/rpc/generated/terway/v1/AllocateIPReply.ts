// Original file: proto/terway/v1/backend.proto

import type { PodNetwork as _terway_v1_PodNetwork, PodNetwork__Output as _terway_v1_PodNetwork__Output } from '../../terway/v1/PodNetwork.js';

export interface AllocateIPReply {
  'network'?: (_terway_v1_PodNetwork | null);
  'reused'?: (boolean);
  'fallbackReason'?: (string);
}

export interface AllocateIPReply__Output {
  'network': (_terway_v1_PodNetwork__Output | null);
  'reused': (boolean);
  'fallbackReason': (string);
}
