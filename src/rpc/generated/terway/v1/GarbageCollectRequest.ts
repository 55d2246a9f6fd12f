// Original file: proto/terway/v1/backend.proto

import type { Attachment as _terway_v1_Attachment, Attachment__Output as _terway_v1_Attachment__Output } from '../../terway/v1/Attachment.js';

export interface GarbageCollectRequest {
  'validAttachments'?: (_terway_v1_Attachment)[];
}

export interface GarbageCollectRequest__Output {
  'validAttachments': (_terway_v1_Attachment__Output)[];
}
