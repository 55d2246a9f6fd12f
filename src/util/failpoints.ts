/**
 * Failpoints: named places where a test can make the daemon die, to prove that what it does on
 * restart covers a crash at exactly that point. Off unless the environment asks for them:
 *
 *   TERWAY_FAILPOINTS="pod-network/after-allocate=exit[,name=action...]"
 *
 * Action `exit` is a hard death (SIGKILL to ourselves): no shutdown handler, no flushed state,
 * as with an OOM kill or a node losing power. The variable is read and parsed once, on the first
 * failpoint reached; without it every failpoint is a map lookup that finds nothing.
 */

export const FAILPOINTS_ENV = 'TERWAY_FAILPOINTS';

export type FailpointAction = 'exit';
const ACTIONS: readonly FailpointAction[] = ['exit'];

/** `name=action` pairs separated by commas; whitespace around either is ignored. */
export function parseFailpoints(spec: string | undefined): Map<string, FailpointAction> {
  const parsed = new Map<string, FailpointAction>();
  if (spec === undefined || spec.trim() === '') return parsed;
  for (const entry of spec.split(',')) {
    if (entry.trim() === '') continue;
    const [name = '', action = '', ...rest] = entry.split('=').map((part) => part.trim());
    if (name === '' || rest.length > 0 || !(ACTIONS as readonly string[]).includes(action)) {
      throw new Error(
        `${FAILPOINTS_ENV}: ${JSON.stringify(entry)} is not name=action with action one of ${ACTIONS.join(', ')}`,
      );
    }
    parsed.set(name, action as FailpointAction);
  }
  return parsed;
}

let active: Map<string, FailpointAction> | undefined;

/** Does what TERWAY_FAILPOINTS says for `name`; nothing when it says nothing about it. */
export function failpoint(name: string): void {
  active ??= parseFailpoints(process.env[FAILPOINTS_ENV]);
  if (active.get(name) === 'exit') {
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL to ourselves is delivered before kill() returns; this only documents that.
    throw new Error(`failpoint ${name}: SIGKILL did not stop the process`);
  }
}
