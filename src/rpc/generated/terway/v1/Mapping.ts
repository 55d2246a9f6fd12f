// Original file: proto/terway/v1/introspection.proto

import type { PodNetwork as _terway_v1_PodNetwork, PodNetwork__Output as _terway_v1_PodNetwork__Output } from '../../terway/v1/PodNetwork.js';

export interface Mapping {
  'network'?: (_terway_v1_PodNetwork | null);
  'ipState'?: (string);
}

export interface Mapping__Output {
  'network': (_terway_v1_PodNetwork__Output | null);
  'ipState': (string);
}
