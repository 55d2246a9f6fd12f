/**
 * The services file's format: multi-document YAML, or JSON (one object, a `List` with `items`, or
 * an array), of `v1` Services and `discovery.k8s.io/v1` EndpointSlices.
 *
 * Validation covers every field the translation reads, so a mistake is reported by document,
 * object and field instead of silently producing no frontends; other fields pass through.
 */
import { isIP } from 'node:net';

import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import * as z from 'zod';

import { TerwayError } from '../errors/terway-error.js';
import { isIPv4 } from '../util/ipv4.js';
import { SERVICE_NAME_LABEL } from './service-translation.js';
import { messageOf } from '../errors/error-message.js';

/** kubectl's default when an object names no namespace. */
const DEFAULT_NAMESPACE = 'default';

export interface ServicesFileContent {
  readonly services: V1Service[];
  readonly endpointSlices: V1EndpointSlice[];
}

const ipAddress = z.string().refine((value) => isIP(value) !== 0, 'expected an IP address');
const clusterIp = z
  .string()
  .refine(
    (value) => value === '' || value === 'None' || isIP(value) !== 0,
    'expected an IP address, "None" or ""',
  );
const portNumber = z.int().min(1).max(65_535);
const protocol = z.enum(['TCP', 'UDP', 'SCTP']);

const metadataSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1).default(DEFAULT_NAMESPACE),
  labels: z.record(z.string(), z.string()).optional(),
});

const serviceSchema = z
  .looseObject({
    apiVersion: z.literal('v1'),
    kind: z.literal('Service'),
    metadata: metadataSchema,
    spec: z
      .looseObject({
        type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).optional(),
        clusterIP: clusterIp.optional(),
        clusterIPs: z.array(clusterIp).optional(),
        externalIPs: z.array(ipAddress).optional(),
        ports: z
          .array(
            z.looseObject({
              name: z.string().optional(),
              port: portNumber,
              protocol: protocol.optional(),
              targetPort: z.union([portNumber, z.string().min(1)]).optional(),
            }),
          )
          .optional(),
        sessionAffinity: z.enum(['None', 'ClientIP']).optional(),
        internalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
        sessionAffinityConfig: z
          .looseObject({
            clientIP: z
              .looseObject({ timeoutSeconds: z.int().min(1).max(86_400).optional() })
              .optional(),
          })
          .optional(),
      })
      .default({}),
    status: z
      .looseObject({
        loadBalancer: z
          .looseObject({
            ingress: z
              .array(z.looseObject({ ip: ipAddress.optional(), ipMode: z.string().optional() }))
              .optional(),
          })
          .optional(),
      })
      .optional(),
  })
  .superRefine((service, context) => {
    const type = service.spec.type ?? 'ClusterIP';
    if (type !== 'ExternalName' && (service.spec.clusterIP ?? '') === '') {
      context.addIssue({
        code: 'custom',
        path: ['spec', 'clusterIP'],
        message: 'required in a services file (no apiserver allocates one); "None" for headless',
      });
    }
  });

/** `hints.forZones` / `hints.forNodes`: a list of zones or nodes, each by name. */
const namedHints = z.array(z.looseObject({ name: z.string().min(1) }));

const endpointSliceSchema = z
  .looseObject({
    apiVersion: z.literal('discovery.k8s.io/v1'),
    kind: z.literal('EndpointSlice'),
    metadata: metadataSchema,
    addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
    endpoints: z
      .array(
        z.looseObject({
          addresses: z.array(z.string()).min(1),
          nodeName: z.string().min(1).optional(),
          // What the EndpointSlice controller writes for trafficDistribution / topology-mode.
          hints: z
            .looseObject({ forZones: namedHints.optional(), forNodes: namedHints.optional() })
            .optional(),
          conditions: z
            .looseObject({
              ready: z.boolean().optional(),
              serving: z.boolean().optional(),
              terminating: z.boolean().optional(),
            })
            .optional(),
        }),
      )
      .default([]),
    ports: z
      .array(
        z.looseObject({
          name: z.string().optional(),
          port: portNumber.optional(),
          protocol: protocol.optional(),
        }),
      )
      .default([]),
  })
  .superRefine((slice, context) => {
    if ((slice.metadata.labels?.[SERVICE_NAME_LABEL] ?? '') === '') {
      context.addIssue({
        code: 'custom',
        path: ['metadata', 'labels', SERVICE_NAME_LABEL],
        message: 'required: it names the Service this slice belongs to',
      });
    }
    if (slice.addressType !== 'IPv4') return;
    slice.endpoints.forEach((endpoint, index) => {
      endpoint.addresses.forEach((address, addressIndex) => {
        if (!isIPv4(address)) {
          context.addIssue({
            code: 'custom',
            path: ['endpoints', index, 'addresses', addressIndex],
            message: `expected an IPv4 address (addressType IPv4), got ${JSON.stringify(address)}`,
          });
        }
      });
    });
  });

/** One object found in the file, with where it was found for error messages. */
interface LocatedObject {
  readonly location: string;
  readonly value: unknown;
}

/**
 * Parses the text of a services file. Throws TerwayError('INVALID_CONFIG') listing every problem,
 * one per line, each naming the document (1-based) and the object's kind.
 */
export function parseServicesFile(text: string, fileName: string): ServicesFileContent {
  const problems: string[] = [];
  const services: V1Service[] = [];
  const endpointSlices: V1EndpointSlice[] = [];
  const seen = new Map<string, string>();
  for (const { location, value } of locateObjects(splitDocuments(text, fileName))) {
    const schema = schemaFor(value);
    if (schema === undefined) {
      problems.push(
        `${location}: ${describeKind(value)} is neither a Service (apiVersion v1) nor an EndpointSlice ` +
          '(apiVersion discovery.k8s.io/v1)',
      );
      continue;
    }
    const result = schema.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) {
        problems.push(`${location} (${objectLabel(value)}): ${formatIssue(issue)}`);
      }
      continue;
    }
    const object = result.data;
    const identity = `${object.kind} ${object.metadata.namespace}/${object.metadata.name}`;
    const earlier = seen.get(identity);
    if (earlier !== undefined) {
      problems.push(`${location}: ${identity} is already defined in ${earlier}`);
      continue;
    }
    seen.set(identity, location);
    // Validated above for every field translation reads; the rest passes through untouched.
    if (object.kind === 'Service') services.push(object as unknown as V1Service);
    else endpointSlices.push(object as unknown as V1EndpointSlice);
  }
  if (problems.length > 0) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `services file ${fileName} is invalid:\n${problems.map((line) => `  ${line}`).join('\n')}`,
    );
  }
  return { services, endpointSlices };
}

/** JSON if it looks like JSON (its errors are clearer), multi-document YAML otherwise. */
function splitDocuments(text: string, fileName: string): unknown[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return [JSON.parse(text)];
    } catch (error) {
      throw new TerwayError(
        'INVALID_CONFIG',
        `services file ${fileName} is not valid JSON: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
  try {
    // An empty document (a trailing `---`) is null: nothing to declare.
    return yaml.loadAll(text).filter((document) => document !== null && document !== undefined);
  } catch (error) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `services file ${fileName} is not valid YAML: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

/** Flattens `List` documents and arrays into their items, keeping each item's position. */
function locateObjects(documents: readonly unknown[]): LocatedObject[] {
  const located: LocatedObject[] = [];
  documents.forEach((document, index) => {
    const where = `document ${index + 1} of ${documents.length}`;
    const items = listItems(document);
    if (items === undefined) {
      located.push({ location: where, value: document });
      return;
    }
    items.forEach((value, itemIndex) => {
      located.push({ location: `${where}, item ${itemIndex + 1}`, value });
    });
  });
  return located;
}

/** The items of `[...]`, `kind: List` or `kind: <Kind>List`; undefined for a single object. */
function listItems(document: unknown): readonly unknown[] | undefined {
  if (Array.isArray(document)) return document;
  if (!isRecord(document)) return undefined;
  const { kind, items } = document;
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items)) return items;
  return undefined;
}

function schemaFor(value: unknown): typeof serviceSchema | typeof endpointSliceSchema | undefined {
  if (!isRecord(value)) return undefined;
  if (value['kind'] === 'Service' && value['apiVersion'] === 'v1') return serviceSchema;
  if (value['kind'] === 'EndpointSlice' && value['apiVersion'] === 'discovery.k8s.io/v1') {
    return endpointSliceSchema;
  }
  return undefined;
}

function describeKind(value: unknown): string {
  if (!isRecord(value)) return `a ${Array.isArray(value) ? 'nested list' : typeof value}`;
  const kind = typeof value['kind'] === 'string' ? value['kind'] : '(no kind)';
  const apiVersion =
    typeof value['apiVersion'] === 'string' ? value['apiVersion'] : 'no apiVersion';
  return `kind ${kind} (${apiVersion})`;
}

/** `Service default/web`, for an object already known to be a Service or an EndpointSlice. */
function objectLabel(value: unknown): string {
  if (!isRecord(value)) return '';
  const kind = String(value['kind']);
  if (!isRecord(value['metadata'])) return kind;
  const { name, namespace } = value['metadata'];
  if (typeof name !== 'string') return kind;
  return `${kind} ${typeof namespace === 'string' ? namespace : DEFAULT_NAMESPACE}/${name}`;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  let path = '';
  for (const part of issue.path) {
    if (typeof part === 'number') path += `[${part}]`;
    else path += path === '' ? String(part) : `.${String(part)}`;
  }
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
