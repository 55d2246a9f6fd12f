/** test/support/port-clash.py from a test: two sockets of one client on one local port. */
import { join } from 'node:path';

import { inNs, type EchoReply } from './bpf-lab.js';
import { REPO_ROOT } from './bins.js';

export type ClashKind = 'tcp' | 'tcp-reset' | 'tcp-reopen' | 'udp' | 'udp-recverr' | 'udp-late';

/** One exchange: the server's answer, or the error the client met (and, for UDP, who answered). */
export interface ClashAnswer {
  answer?: EchoReply;
  error?: string;
  from?: [string, number];
}

export interface ClashResult {
  first: ClashAnswer;
  second: ClashAnswer;
  firstAgain: ClashAnswer;
  /** tcp-reopen only: the second connection, asked again after the first was reopened. */
  secondAgain?: ClashAnswer;
}

/**
 * port-clash.py `kind` in the netns at `ns.path`: `first` then `second` (`host:port` each) from
 * local port `port`, then `first` again (the script's docstring says what each kind does).
 */
export function portClash(
  ns: { readonly path: string },
  kind: ClashKind,
  first: string,
  second: string,
  port: number,
): ClashResult {
  return JSON.parse(
    inNs(ns, 'python3', [
      join(REPO_ROOT, 'test/support/port-clash.py'),
      kind,
      ...first.split(':'),
      ...second.split(':'),
      String(port),
    ]),
  ) as ClashResult;
}
