// Original file: proto/terway/v1/introspection.proto


export interface ListFlowsRequest {
  'service'?: (string);
  'pod'?: (string);
  'backend'?: (string);
  'limit'?: (number);
}

export interface ListFlowsRequest__Output {
  'service': (string);
  'pod': (string);
  'backend': (string);
  'limit': (number);
}
