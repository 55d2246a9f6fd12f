// Original file: proto/terway/v1/types.proto


export interface Interface {
  'name'?: (string);
  'mac'?: (string);
  'sandbox'?: (string);
}

export interface Interface__Output {
  'name': (string);
  'mac': (string);
  'sandbox': (string);
}
