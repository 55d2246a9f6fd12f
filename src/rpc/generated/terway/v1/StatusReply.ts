// Original file: proto/terway/v1/backend.proto


export interface StatusReply {
  'ready'?: (boolean);
  'canAllocate'?: (boolean);
  'reason'?: (string);
  'servicesPending'?: (boolean);
  'servicesPendingReason'?: (string);
}

export interface StatusReply__Output {
  'ready': (boolean);
  'canAllocate': (boolean);
  'reason': (string);
  'servicesPending': (boolean);
  'servicesPendingReason': (string);
}
