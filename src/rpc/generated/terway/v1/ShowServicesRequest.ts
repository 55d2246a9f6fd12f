// Original file: proto/terway/v1/introspection.proto


export interface ShowServicesRequest {
  'filter'?: (string);
}

export interface ShowServicesRequest__Output {
  'filter': (string);
}
