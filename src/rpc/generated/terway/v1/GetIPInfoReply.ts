// Original file: proto/terway/v1/backend.proto

import type { PodNetwork as _terway_v1_PodNetwork, PodNetwork__Output as _terway_v1_PodNetwork__Output } from '../../terway/v1/PodNetwork.js';

export interface GetIPInfoReply {
  'network'?: (_terway_v1_PodNetwork | null);
  'ipState'?: (string);
  'drift'?: (string)[];
}

export interface GetIPInfoReply__Output {
  'network': (_terway_v1_PodNetwork__Output | null);
  'ipState': (string);
  'drift': (string)[];
}
