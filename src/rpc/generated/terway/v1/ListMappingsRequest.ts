// Original file: proto/terway/v1/introspection.proto


export interface ListMappingsRequest {
}

export interface ListMappingsRequest__Output {
}
