import { ApiError } from '../../src/emulator/wire/api-error.js';

/** "<status> <Code>" of the emulator error `run` throws, or "ok"; anything else is rethrown. */
export function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return `${error.status} ${error.code}`;
    throw error;
  }
  return 'ok';
}
