// Original file: proto/terway/v1/types.proto


export interface PodRef {
  'namespace'?: (string);
  'name'?: (string);
  'containerId'?: (string);
}

export interface PodRef__Output {
  'namespace': (string);
  'name': (string);
  'containerId': (string);
}
