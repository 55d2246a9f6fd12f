// Original file: proto/terway/v1/backend.proto


export interface Attachment {
  'containerId'?: (string);
  'ifname'?: (string);
}

export interface Attachment__Output {
  'containerId': (string);
  'ifname': (string);
}
