// Original file: proto/terway/v1/introspection.proto


export interface LbCounters {
  'packets'?: (number | string);
  'bytes'?: (number | string);
  'flows'?: (number | string);
  'rejected'?: (number | string);
}

export interface LbCounters__Output {
  'packets': (number);
  'bytes': (number);
  'flows': (number);
  'rejected': (number);
}
