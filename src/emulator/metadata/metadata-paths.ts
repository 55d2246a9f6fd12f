/**
 * The IMDS path tree of one instance, built from its current view on every request so attach,
 * detach and IP changes show up at once. Formats follow ECS-API.md §4: plain text, no trailing
 * newline, directories list one child per line with a trailing `/` on sub-directories.
 */
import type { MetadataInstanceView, MetadataNic, MetadataSource } from './metadata-source.js';

/** A leaf renders lazily: the RAM role's credentials are only minted when someone asks. */
type Leaf = { kind: 'leaf'; render: () => string | undefined };
interface Dir {
  kind: 'dir';
  children: Map<string, MetadataNode>;
  /** MACs are matched case-insensitively: clients differ in how they spell them. */
  foldCase?: boolean;
}
type MetadataNode = Leaf | Dir;

/** Every body is plain text, JSON documents included, as ECS serves them. */
export type MetadataLookup = { found: true; body: string } | { found: false };

const NOT_FOUND: MetadataLookup = { found: false };

function leaf(value: string | undefined): Leaf {
  return { kind: 'leaf', render: () => value };
}

function lazy(render: () => string | undefined): Leaf {
  return { kind: 'leaf', render };
}

/** Children in the given order; undefined entries are absent from the tree (and the listing). */
function dir(
  entries: ReadonlyArray<readonly [string, MetadataNode | undefined]>,
  foldCase = false,
): Dir {
  const children = new Map<string, MetadataNode>();
  for (const [name, node] of entries) {
    if (node !== undefined) children.set(name, node);
  }
  return { kind: 'dir', children, foldCase };
}

function nicDir(nic: MetadataNic): Dir {
  return dir([
    ['gateway', leaf(nic.gateway)],
    ['netmask', leaf(nic.netmask)],
    ['network-interface-id', leaf(nic.eniId)],
    ['primary-ip-address', leaf(nic.primaryIp)],
    ['private-ipv4s', leaf(JSON.stringify(nic.privateIps))],
    ['vpc-cidr-block', leaf(nic.vpcCidr)],
    ['vpc-id', leaf(nic.vpcId)],
    ['vswitch-cidr-block', leaf(nic.vswitchCidr)],
    ['vswitch-id', leaf(nic.vswitchId)],
  ]);
}

function ramDir(source: MetadataSource, view: MetadataInstanceView): Dir | undefined {
  const role = view.ramRoleName;
  if (role === undefined) return undefined;
  const credentials = lazy(() => {
    const sts = source.roleCredentials(view.instanceId);
    if (sts === undefined) return undefined;
    return JSON.stringify({
      AccessKeyId: sts.accessKeyId,
      AccessKeySecret: sts.accessKeySecret,
      Expiration: sts.expiration,
      SecurityToken: sts.securityToken,
      LastUpdated: sts.lastUpdated,
      Code: 'Success',
    });
  });
  return dir([['security-credentials', dir([[role, credentials]])]]);
}

function metaDataDir(source: MetadataSource, view: MetadataInstanceView): Dir {
  const primary = view.nics[0];
  const macs = dir(
    view.nics.map((nic) => [nic.mac.toLowerCase(), nicDir(nic)] as const),
    true,
  );
  return dir([
    ['hostname', leaf(view.hostname)],
    ['instance', dir([['instance-type', leaf(view.instanceType)]])],
    ['instance-id', leaf(view.instanceId)],
    ['mac', primary && leaf(primary.mac)],
    ['network', dir([['interfaces', dir([['macs', macs]])]])],
    ['owner-account-id', leaf(view.ownerAccountId)],
    ['private-ipv4', primary && leaf(primary.primaryIp)],
    ['ram', ramDir(source, view)],
    ['region-id', leaf(view.regionId)],
    ['vpc-cidr-block', primary && leaf(primary.vpcCidr)],
    ['vpc-id', primary && leaf(primary.vpcId)],
    ['vswitch-cidr-block', primary && leaf(primary.vswitchCidr)],
    ['vswitch-id', primary && leaf(primary.vswitchId)],
    ['zone-id', leaf(view.zoneId)],
  ]);
}

function identityDocument(view: MetadataInstanceView): string {
  const primary = view.nics[0];
  return JSON.stringify({
    'instance-id': view.instanceId,
    'instance-type': view.instanceType,
    'region-id': view.regionId,
    'zone-id': view.zoneId,
    'owner-account-id': view.ownerAccountId,
    ...(primary === undefined
      ? {}
      : { mac: primary.mac, 'private-ipv4': primary.primaryIp, 'vpc-id': primary.vpcId }),
  });
}

function instanceTree(source: MetadataSource, view: MetadataInstanceView): Dir {
  const dynamic = dir([['instance-identity', dir([['document', leaf(identityDocument(view))]])]]);
  return dir([
    [
      'latest',
      dir([
        ['dynamic', dynamic],
        ['meta-data', metaDataDir(source, view)],
      ]),
    ],
  ]);
}

function listing(node: Dir): string {
  return [...node.children]
    .map(([name, child]) => (child.kind === 'dir' ? `${name}/` : name))
    .join('\n');
}

function decodeSegments(path: string): string[] | undefined {
  const withoutQuery = path.split('?', 1)[0] ?? '';
  const segments = withoutQuery.split('/');
  // A leading '/' yields one empty first segment; any other empty segment is `//`.
  if (segments[0] === '') segments.shift();
  if (segments.at(-1) === '') segments.pop();
  try {
    const decoded = segments.map((segment) => decodeURIComponent(segment));
    return decoded.some((segment) => segment === '') ? undefined : decoded;
  } catch {
    return undefined;
  }
}

/**
 * Looks up `path` (e.g. `/latest/meta-data/network/interfaces/macs/`) in the instance's tree.
 * A directory answers with its listing whether or not the path ends in `/`; a leaf asked for
 * with a trailing `/` is not found.
 */
export function lookupMetadata(
  source: MetadataSource,
  view: MetadataInstanceView,
  path: string,
): MetadataLookup {
  const segments = decodeSegments(path);
  if (segments === undefined) return NOT_FOUND;
  let node: MetadataNode = instanceTree(source, view);
  for (const segment of segments) {
    if (node.kind !== 'dir') return NOT_FOUND;
    const child: MetadataNode | undefined = node.children.get(
      node.foldCase === true ? segment.toLowerCase() : segment,
    );
    if (child === undefined) return NOT_FOUND;
    node = child;
  }
  if (node.kind === 'dir') return { found: true, body: listing(node) };
  if (path.split('?', 1)[0]?.endsWith('/')) return NOT_FOUND;
  const body = node.render();
  return body === undefined ? NOT_FOUND : { found: true, body };
}
