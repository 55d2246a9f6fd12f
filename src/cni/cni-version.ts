import { CNI_CODES, CniError } from './cni-error.js';

/** Ascending; the last one is what we answer in when the caller's version is unknown. */
export const SUPPORTED_VERSIONS = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.1.0';

/** The first spec version that defines each verb beyond ADD/DEL/VERSION. */
const VERB_MIN_VERSION: Partial<Record<string, CniVersion>> = {
  CHECK: '0.4.0',
  STATUS: '1.1.0',
  GC: '1.1.0',
};

export function isSupportedVersion(version: string): version is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(version);
}

/** Compares two supported versions by their position, which is their semver order. */
export function versionAtLeast(version: CniVersion, floor: CniVersion): boolean {
  return SUPPORTED_VERSIONS.indexOf(version) >= SUPPORTED_VERSIONS.indexOf(floor);
}

export function requireSupportedVersion(version: string): CniVersion {
  if (isSupportedVersion(version)) return version;
  throw new CniError(
    CNI_CODES.INCOMPATIBLE_VERSION,
    `incompatible CNI version "${version}": terway supports ${SUPPORTED_VERSIONS.join(', ')}`,
  );
}

/** libcni's skel answers code 1 ("config version does not allow X"); we do the same. */
export function requireVerbAllowed(verb: string, version: CniVersion): void {
  const floor = VERB_MIN_VERSION[verb];
  if (floor === undefined || versionAtLeast(version, floor)) return;
  throw new CniError(
    CNI_CODES.INCOMPATIBLE_VERSION,
    `config version ${version} does not allow ${verb}: it needs cniVersion ${floor} or later`,
  );
}
