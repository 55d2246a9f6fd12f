// Original file: proto/terway/v1/backend.proto


export interface StatusRequest {
}

export interface StatusRequest__Output {
}
