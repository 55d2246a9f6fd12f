import { CNI_CODES, CniError } from './cni-error.js';
import { LATEST_VERSION } from './cni-version.js';

export type DecodedStdin = { ok: true; value: unknown } | { ok: false; reason: string };

/** Never throws: VERSION and the error path need a best-effort look at stdin, not a verdict. */
export function decodeStdin(stdin: Buffer): DecodedStdin {
  const text = stdin.toString('utf8');
  if (text.trim() === '') return { ok: false, reason: 'stdin is empty' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** The value a verb's result must carry; the spec leaves undecodable input to the plugin. */
export function sniffCniVersion(decoded: DecodedStdin): string {
  if (!decoded.ok) return LATEST_VERSION;
  const value = decoded.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return LATEST_VERSION;
  const version = (value as Record<string, unknown>).cniVersion;
  return typeof version === 'string' && version !== '' ? version : LATEST_VERSION;
}

export function requireDecoded(decoded: DecodedStdin): unknown {
  if (decoded.ok) return decoded.value;
  throw new CniError(
    CNI_CODES.DECODE_FAILURE,
    `failed to decode the network configuration from stdin: ${decoded.reason}`,
  );
}
