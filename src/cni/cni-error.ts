/**
 * The CNI error result and the spec's well-known codes. Every failure the shim reports goes
 * through CniError, so the runtime always receives a spec-shaped answer with a code it can act on.
 */

/** Codes 1-99 are reserved by the spec; 999 is the containernetworking convention for "other". */
export const CNI_CODES = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  /** STATUS only (spec 1.1): the plugin cannot service ADD. */
  PLUGIN_NOT_AVAILABLE: 50,
  /** STATUS only (spec 1.1): not available, and existing containers may have limited connectivity. */
  PLUGIN_NOT_AVAILABLE_LIMITED: 51,
  INTERNAL: 999,
} as const;

export type CniCode = (typeof CNI_CODES)[keyof typeof CNI_CODES];

export interface CniErrorResult {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  readonly code: CniCode;
  readonly details: string | undefined;

  constructor(code: CniCode, msg: string, details?: string) {
    super(msg);
    this.name = 'CniError';
    this.code = code;
    this.details = details === '' ? undefined : details;
  }

  toResult(cniVersion: string): CniErrorResult {
    const result: CniErrorResult = { cniVersion, code: this.code, msg: this.message };
    if (this.details !== undefined) result.details = this.details;
    return result;
  }
}

/** Anything thrown that is not already a CniError is a bug or an unforeseen environment problem. */
export function asCniError(value: unknown): CniError {
  if (value instanceof CniError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new CniError(CNI_CODES.INTERNAL, `internal error in the terway CNI plugin: ${message}`);
}
