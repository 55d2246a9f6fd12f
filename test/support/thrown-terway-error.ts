import { expect } from '@jest/globals';

import { TerwayError, type ErrorCode } from '../../src/errors/terway-error.js';

/**
 * The TerwayError with `code` that `run` throws. Fails the test if `run` throws anything else, or
 * returns.
 */
export function thrownTerwayError(run: () => unknown, code: ErrorCode): TerwayError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TerwayError);
    expect((error as TerwayError).code).toBe(code);
    return error as TerwayError;
  }
  throw new Error(`expected a TerwayError ${code}, but nothing was thrown`);
}
