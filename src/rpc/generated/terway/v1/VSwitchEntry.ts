// Original file: proto/terway/v1/introspection.proto


export interface VSwitchEntry {
  'id'?: (string);
  'zoneId'?: (string);
  'availableIps'?: (number);
  'inhibitedUntilMs'?: (number | string);
  'reason'?: (string);
  'excluded'?: (string);
}

export interface VSwitchEntry__Output {
  'id': (string);
  'zoneId': (string);
  'availableIps': (number);
  'inhibitedUntilMs': (number);
  'reason': (string);
  'excluded': (string);
}
