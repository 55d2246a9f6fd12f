// Original file: proto/terway/v1/types.proto

import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';
import type { Interface as _terway_v1_Interface, Interface__Output as _terway_v1_Interface__Output } from '../../terway/v1/Interface.js';

export interface PodNetwork {
  'pod'?: (_terway_v1_PodRef | null);
  'ip'?: (string);
  'prefixLength'?: (number);
  'gateway'?: (string);
  'eniId'?: (string);
  'eniMac'?: (string);
  'vswitchId'?: (string);
  'vswitchCidr'?: (string);
  'netns'?: (string);
  'ifname'?: (string);
  'allocatedAtMs'?: (number | string);
  'driver'?: (string);
  'hostInterface'?: (_terway_v1_Interface | null);
  'podInterface'?: (_terway_v1_Interface | null);
}

export interface PodNetwork__Output {
  'pod': (_terway_v1_PodRef__Output | null);
  'ip': (string);
  'prefixLength': (number);
  'gateway': (string);
  'eniId': (string);
  'eniMac': (string);
  'vswitchId': (string);
  'vswitchCidr': (string);
  'netns': (string);
  'ifname': (string);
  'allocatedAtMs': (number);
  'driver': (string);
  'hostInterface': (_terway_v1_Interface__Output | null);
  'podInterface': (_terway_v1_Interface__Output | null);
}
