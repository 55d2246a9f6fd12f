import { callBackend } from '../backend-call.js';
import { lenientPodArgs } from '../cni-args.js';
import { requireDelEnv } from '../cni-env.js';
import { daemonTarget } from '../daemon-target.js';
import type { VerbOutput, VerbRequest } from './verb.js';

/**
 * CNI DEL: idempotent on the daemon side. The netns may be gone and the pod identity missing;
 * empty namespace/name make terwayd release whatever this container id holds.
 */
export async function runDel({ conf, env }: VerbRequest): Promise<VerbOutput> {
  const attachment = requireDelEnv(env);
  const pod = lenientPodArgs(attachment.args);
  const subject =
    pod.name === '' ? `container ${attachment.containerId}` : `${pod.namespace}/${pod.name}`;
  await callBackend(
    daemonTarget('DEL', conf),
    'ReleaseIP',
    {
      pod: { namespace: pod.namespace, name: pod.name, containerId: attachment.containerId },
      ifname: attachment.ifname,
    },
    subject,
  );
  return undefined;
}
