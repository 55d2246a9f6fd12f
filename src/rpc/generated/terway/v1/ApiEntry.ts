// Original file: proto/terway/v1/introspection.proto


export interface ApiEntry {
  'api'?: (string);
  'calls'?: (number);
  'throttled'?: (number);
  'retried'?: (number);
  'errors'?: (number);
  'callsPerMinute'?: (number | string);
  'baseCallsPerMinute'?: (number | string);
  'lastError'?: (string);
}

export interface ApiEntry__Output {
  'api': (string);
  'calls': (number);
  'throttled': (number);
  'retried': (number);
  'errors': (number);
  'callsPerMinute': (number);
  'baseCallsPerMinute': (number);
  'lastError': (string);
}
