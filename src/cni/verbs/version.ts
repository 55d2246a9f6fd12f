import { isSupportedVersion, LATEST_VERSION, SUPPORTED_VERSIONS } from '../cni-version.js';

export interface VersionResult {
  cniVersion: string;
  supportedVersions: string[];
}

/**
 * CNI VERSION. The spec echoes the caller's cniVersion; one we do not speak is answered in our
 * latest, since the runtime is asking precisely because it does not know what we support.
 */
export function versionResult(requested: string): VersionResult {
  return {
    cniVersion: isSupportedVersion(requested) ? requested : LATEST_VERSION,
    supportedVersions: [...SUPPORTED_VERSIONS],
  };
}
