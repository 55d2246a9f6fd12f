// Original file: proto/terway/v1/introspection.proto

import type { ENIEntry as _terway_v1_ENIEntry, ENIEntry__Output as _terway_v1_ENIEntry__Output } from '../../terway/v1/ENIEntry.js';
import type { PoolFigures as _terway_v1_PoolFigures, PoolFigures__Output as _terway_v1_PoolFigures__Output } from '../../terway/v1/PoolFigures.js';

export interface ShowFactoryReply {
  'enis'?: (_terway_v1_ENIEntry)[];
  'pool'?: (_terway_v1_PoolFigures | null);
}

export interface ShowFactoryReply__Output {
  'enis': (_terway_v1_ENIEntry__Output)[];
  'pool': (_terway_v1_PoolFigures__Output | null);
}
