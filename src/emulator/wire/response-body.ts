/** A response as handlers build it: PascalCase keys, serialised to JSON as ECS sends it. */
export type ResponseBody = Record<string, unknown>;
