/**
 * The message of anything thrown. Duck-typed: errors from another realm (jest's vm modules, a
 * worker's structured clone) fail `instanceof Error` but still carry their message.
 */
export function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const { message } = error;
    if (typeof message === 'string') return message;
  }
  return String(error);
}
