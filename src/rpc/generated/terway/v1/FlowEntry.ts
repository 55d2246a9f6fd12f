// Original file: proto/terway/v1/introspection.proto

import type { PodRef as _terway_v1_PodRef, PodRef__Output as _terway_v1_PodRef__Output } from '../../terway/v1/PodRef.js';

export interface FlowEntry {
  'protocol'?: (string);
  'clientAddress'?: (string);
  'clientPort'?: (number);
  'clientPod'?: (_terway_v1_PodRef | null);
  'frontendAddress'?: (string);
  'frontendPort'?: (number);
  'service'?: (string);
  'backendAddress'?: (string);
  'backendPort'?: (number);
  'backendPod'?: (_terway_v1_PodRef | null);
  'state'?: (string);
  'ageMs'?: (number | string);
  'idleMs'?: (number | string);
  'packets'?: (number | string);
  'bytes'?: (number | string);
  'nextHopMac'?: (string);
  'ended'?: (boolean);
  'movedClientPort'?: (number);
  'direct'?: (boolean);
}

export interface FlowEntry__Output {
  'protocol': (string);
  'clientAddress': (string);
  'clientPort': (number);
  'clientPod': (_terway_v1_PodRef__Output | null);
  'frontendAddress': (string);
  'frontendPort': (number);
  'service': (string);
  'backendAddress': (string);
  'backendPort': (number);
  'backendPod': (_terway_v1_PodRef__Output | null);
  'state': (string);
  'ageMs': (number);
  'idleMs': (number);
  'packets': (number);
  'bytes': (number);
  'nextHopMac': (string);
  'ended': (boolean);
  'movedClientPort': (number);
  'direct': (boolean);
}
