// Original file: proto/terway/v1/introspection.proto

import type { ENIEntry as _terway_v1_ENIEntry, ENIEntry__Output as _terway_v1_ENIEntry__Output } from '../../terway/v1/ENIEntry.js';
import type { PoolFigures as _terway_v1_PoolFigures, PoolFigures__Output as _terway_v1_PoolFigures__Output } from '../../terway/v1/PoolFigures.js';
import type { CloudStatus as _terway_v1_CloudStatus, CloudStatus__Output as _terway_v1_CloudStatus__Output } from '../../terway/v1/CloudStatus.js';

export interface ShowFactoryReply {
  'enis'?: (_terway_v1_ENIEntry)[];
  'pool'?: (_terway_v1_PoolFigures | null);
  'cloud'?: (_terway_v1_CloudStatus | null);
}

export interface ShowFactoryReply__Output {
  'enis': (_terway_v1_ENIEntry__Output)[];
  'pool': (_terway_v1_PoolFigures__Output | null);
  'cloud': (_terway_v1_CloudStatus__Output | null);
}
