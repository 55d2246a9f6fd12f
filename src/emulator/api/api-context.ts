/** What every API handler gets, and the one check nearly all of them start with. */
import type { AccountState } from '../state/account-state.js';
import type { EniLifecycle } from '../state/eni-lifecycle.js';
import { ApiError } from '../wire/api-error.js';
import type { Params } from '../wire/params.js';
import type { ResponseBody } from '../wire/response-body.js';
import type { ClientTokenCache } from './client-tokens.js';

export type { ResponseBody } from '../wire/response-body.js';

export interface ApiContext {
  state: AccountState;
  lifecycle: EniLifecycle;
  clientTokens: ClientTokenCache;
}

export type ApiHandler = (params: Params, context: ApiContext) => ResponseBody;

/** RegionId is mandatory on every ENI API and must be the emulated region. */
export function checkRegion(params: Params, context: ApiContext): void {
  const regionId = params.required('RegionId');
  if (regionId !== context.state.config.regionId) {
    throw new ApiError(
      404,
      'InvalidRegionId.NotFound',
      `The specified RegionId ${regionId} does not exist.`,
    );
  }
}
