/**
 * Which handler serves an (action, version) pair. ECS and VPC share the server, as they share
 * the SDK's wire format; only the version tells them apart.
 */
import { ApiError } from '../wire/api-error.js';
import type { ApiHandler } from './api-context.js';
import {
  describeInstanceTypes,
  describeInstances,
  describeNetworkInterfaces,
  describeVSwitches,
} from './describe-handlers.js';
import {
  attachNetworkInterface,
  createNetworkInterface,
  deleteNetworkInterface,
  detachNetworkInterface,
} from './eni-handlers.js';
import { assignPrivateIpAddresses, unassignPrivateIpAddresses } from './ip-handlers.js';

export const ECS_VERSION = '2014-05-26';
export const VPC_VERSION = '2016-04-28';

export interface ApiRoute {
  handler: ApiHandler;
  /** HTTP status of MissingParameter for this API (ECS-API.md §2.3). */
  missingStatus: number;
}

const ROUTES: Readonly<Record<string, Readonly<Record<string, ApiRoute>>>> = {
  [ECS_VERSION]: {
    CreateNetworkInterface: { handler: createNetworkInterface, missingStatus: 400 },
    AttachNetworkInterface: { handler: attachNetworkInterface, missingStatus: 400 },
    DetachNetworkInterface: { handler: detachNetworkInterface, missingStatus: 400 },
    DeleteNetworkInterface: { handler: deleteNetworkInterface, missingStatus: 400 },
    DescribeNetworkInterfaces: { handler: describeNetworkInterfaces, missingStatus: 400 },
    AssignPrivateIpAddresses: { handler: assignPrivateIpAddresses, missingStatus: 403 },
    UnassignPrivateIpAddresses: { handler: unassignPrivateIpAddresses, missingStatus: 403 },
    DescribeInstanceTypes: { handler: describeInstanceTypes, missingStatus: 400 },
    DescribeInstances: { handler: describeInstances, missingStatus: 400 },
  },
  [VPC_VERSION]: {
    DescribeVSwitches: { handler: describeVSwitches, missingStatus: 400 },
  },
};

/** Every action the emulator serves, ECS and VPC together. */
export const EMULATED_APIS: readonly string[] = Object.values(ROUTES).flatMap((routes) =>
  Object.keys(routes),
);

export function resolveRoute(action: string, version: string): ApiRoute {
  const route = ROUTES[version]?.[action];
  if (route === undefined) {
    throw new ApiError(
      404,
      'InvalidAction.NotFound',
      `Specified api ${action} (version ${version}) is not found, please check your url and method.`,
    );
  }
  return route;
}
