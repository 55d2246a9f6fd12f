import type { Env } from '../cni-env.js';
import type { NetConf } from '../netconf.js';

export interface VerbRequest {
  conf: NetConf;
  env: Env;
}

/** What to print on stdout; undefined for verbs whose success is silent (DEL, CHECK, ...). */
export type VerbOutput = string | undefined;

export type Verb = (request: VerbRequest) => Promise<VerbOutput>;
