// Original file: proto/terway/v1/introspection.proto

import type { IPEntry as _terway_v1_IPEntry, IPEntry__Output as _terway_v1_IPEntry__Output } from '../../terway/v1/IPEntry.js';

export interface ENIEntry {
  'id'?: (string);
  'mac'?: (string);
  'status'?: (string);
  'primaryIp'?: (string);
  'vswitchId'?: (string);
  'vswitchCidr'?: (string);
  'gateway'?: (string);
  'ips'?: (_terway_v1_IPEntry)[];
  'pendingIps'?: (number);
  'link'?: (string);
}

export interface ENIEntry__Output {
  'id': (string);
  'mac': (string);
  'status': (string);
  'primaryIp': (string);
  'vswitchId': (string);
  'vswitchCidr': (string);
  'gateway': (string);
  'ips': (_terway_v1_IPEntry__Output)[];
  'pendingIps': (number);
  'link': (string);
}
