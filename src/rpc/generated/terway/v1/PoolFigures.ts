// Original file: proto/terway/v1/introspection.proto


export interface PoolFigures {
  'idle'?: (number);
  'inUse'?: (number);
  'creating'?: (number);
  'releasing'?: (number);
  'invalid'?: (number);
  'waiting'?: (number);
  'minPoolSize'?: (number);
  'maxPoolSize'?: (number);
  'maxEnis'?: (number);
  'ipsPerEni'?: (number);
  'capacity'?: (number);
  'instanceType'?: (string);
  'lastError'?: (string);
}

export interface PoolFigures__Output {
  'idle': (number);
  'inUse': (number);
  'creating': (number);
  'releasing': (number);
  'invalid': (number);
  'waiting': (number);
  'minPoolSize': (number);
  'maxPoolSize': (number);
  'maxEnis': (number);
  'ipsPerEni': (number);
  'capacity': (number);
  'instanceType': (string);
  'lastError': (string);
}
