// Original file: proto/terway/v1/backend.proto


export interface ReleaseIPReply {
  'released'?: (boolean);
  'ip'?: (string);
}

export interface ReleaseIPReply__Output {
  'released': (boolean);
  'ip': (string);
}
