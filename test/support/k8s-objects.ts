/**
 * The smallest real Service and EndpointSlice objects the Service sources accept: one TCP port
 * named http (80 → 8080), every endpoint ready. Tests that need more ports or conditions build
 * their own.
 */
import type { K8sObject } from '../../src/k8s/test-apiserver.js';
import { SERVICE_NAME_LABEL } from '../../src/k8s/service-translation.js';

export function httpService(name: string, clusterIP: string, namespace = 'default'): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
    },
  };
}

/** The slice of `serviceName` (in namespace default) with these endpoints, all ready. */
export function readySlice(name: string, serviceName: string, ips: string[]): K8sObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { [SERVICE_NAME_LABEL]: serviceName } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({
      addresses: [ip],
      conditions: { ready: true, serving: true, terminating: false },
    })),
  };
}

/** What `attempt` rejects with; a test fails here if it resolves. */
export async function failureOf(attempt: () => Promise<unknown>): Promise<unknown> {
  try {
    await attempt();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure, and it succeeded');
}
