// Original file: proto/terway/v1/introspection.proto

import type { Mapping as _terway_v1_Mapping, Mapping__Output as _terway_v1_Mapping__Output } from '../../terway/v1/Mapping.js';

export interface ListMappingsReply {
  'mappings'?: (_terway_v1_Mapping)[];
}

export interface ListMappingsReply__Output {
  'mappings': (_terway_v1_Mapping__Output)[];
}
