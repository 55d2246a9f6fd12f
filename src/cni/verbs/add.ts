import { callBackend } from '../backend-call.js';
import { requirePodArgs } from '../cni-args.js';
import { requireAttachmentEnv } from '../cni-env.js';
import { CNI_CODES, CniError } from '../cni-error.js';
import { buildAddResult } from '../cni-result.js';
import { daemonTarget } from '../daemon-target.js';
import type { VerbOutput, VerbRequest } from './verb.js';

/** CNI ADD: terwayd allocates (or returns the recorded) IP; we print it as the CNI result. */
export async function runAdd({ conf, env }: VerbRequest): Promise<VerbOutput> {
  const attachment = requireAttachmentEnv(env);
  const pod = requirePodArgs(attachment.args);
  const subject = `${pod.namespace}/${pod.name}`;
  const reply = await callBackend(
    daemonTarget('ADD', conf),
    'AllocateIP',
    {
      pod: { namespace: pod.namespace, name: pod.name, containerId: attachment.containerId },
      netns: attachment.netns,
      ifname: attachment.ifname,
    },
    subject,
  );
  if (reply.network === null) {
    throw new CniError(CNI_CODES.INTERNAL, `terwayd allocated nothing for ${subject}`);
  }
  return `${JSON.stringify(buildAddResult(reply.network, conf.cniVersion, subject, conf.prevResult))}\n`;
}
