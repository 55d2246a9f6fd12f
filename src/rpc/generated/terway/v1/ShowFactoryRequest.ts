// Original file: proto/terway/v1/introspection.proto


export interface ShowFactoryRequest {
}

export interface ShowFactoryRequest__Output {
}
