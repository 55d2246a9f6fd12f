/**
 * The tags terway-node puts on every ENI it creates. They live with the configuration, which
 * must refuse an eni_tag_filter that no ENI of ours could match; the cloud client uses them too.
 */

/** Always put on our ENIs, like Terway's `creator: terway`. */
export const CREATOR_TAG_KEY = 'creator';
export const CREATOR_TAG_VALUE = 'terway-node';
/** The instance an ENI was created for, so a node only ever cleans up its own leftovers. */
export const INSTANCE_TAG_KEY = 'terway-node.instance-id';
