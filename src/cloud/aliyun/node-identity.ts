/**
 * Who this node is in ECS terms, and which ENIs are ours. Read once from instance metadata at
 * start-up; the ownership tags are how a restarted daemon, or a later one on the same node, finds
 * ENIs it created and never recorded (a crash between create and attach) and deletes them.
 */

import { CREATOR_TAG_KEY, CREATOR_TAG_VALUE, INSTANCE_TAG_KEY } from '../../config/own-eni-tags.js';

export { CREATOR_TAG_KEY, CREATOR_TAG_VALUE, INSTANCE_TAG_KEY };

/** The subset of the metadata client the ENI provider needs. */
export interface NicMetadata {
  eniId: string;
  primaryIp: string;
  privateIps: string[];
  gateway: string;
  vswitchCidr: string;
}

export interface NodeMetadata {
  instanceId(): Promise<string>;
  zoneId(): Promise<string>;
  instanceType(): Promise<string>;
  vswitchId(): Promise<string>;
  primaryMac(): Promise<string>;
  /** Undefined while the MAC is not (yet) on the instance. */
  nicIfPresent(mac: string): Promise<NicMetadata | undefined>;
}

export interface NodeIdentity {
  instanceId: string;
  zoneId: string;
  instanceType: string;
  /** The primary NIC's vSwitch: where ENIs go when `vswitches` names none for this zone. */
  vswitchId: string;
  primaryMac: string;
}

export async function readNodeIdentity(metadata: NodeMetadata): Promise<NodeIdentity> {
  const [instanceId, zoneId, instanceType, vswitchId, primaryMac] = await Promise.all([
    metadata.instanceId(),
    metadata.zoneId(),
    metadata.instanceType(),
    metadata.vswitchId(),
    metadata.primaryMac(),
  ]);
  return { instanceId, zoneId, instanceType, vswitchId, primaryMac: primaryMac.toLowerCase() };
}

/**
 * The tags every ENI this daemon creates carries, and so the ones that find them again: the
 * `eni_tag_filter` tags (without them a restarted daemon would skip its own ENIs), then ours.
 * Config validation keeps the filter off our two keys, so ours never overwrite a filter tag.
 */
export function ownershipTags(
  eniTagFilter: Readonly<Record<string, string>>,
  instanceId: string,
): Record<string, string> {
  return { ...eniTagFilter, [CREATOR_TAG_KEY]: CREATOR_TAG_VALUE, [INSTANCE_TAG_KEY]: instanceId };
}

/**
 * The tags a new ENI carries: the operator's `eni_tags`, then the ownership tags. Validation
 * refuses an `eni_tags` value that contradicts the filter, so the merge never hides a typo.
 */
export function ownedEniTags(
  eniTags: Readonly<Record<string, string>>,
  eniTagFilter: Readonly<Record<string, string>>,
  instanceId: string,
): Record<string, string> {
  return { ...eniTags, ...ownershipTags(eniTagFilter, instanceId) };
}

/**
 * Whether the daemon may manage an ENI. With `eni_tag_filter` set, exactly the ENIs that carry
 * all of those tags (Terway's meaning); otherwise only ENIs we created, so an ENI an operator
 * attached by hand for something else is never touched.
 */
export function isOwnedEni(
  tags: Readonly<Record<string, string>>,
  eniTagFilter: Readonly<Record<string, string>>,
): boolean {
  const filter = Object.entries(eniTagFilter);
  if (filter.length > 0) return filter.every(([key, value]) => tags[key] === value);
  return tags[CREATOR_TAG_KEY] === CREATOR_TAG_VALUE;
}

/** Whether this node created the ENI, under the current filter: what the leak sweep may delete. */
export function isOwnLeftover(
  tags: Readonly<Record<string, string>>,
  eniTagFilter: Readonly<Record<string, string>>,
  instanceId: string,
): boolean {
  return Object.entries(ownershipTags(eniTagFilter, instanceId)).every(
    ([key, value]) => tags[key] === value,
  );
}
