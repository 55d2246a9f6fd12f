// charts/terway-node rendered as `helm template` renders it (test/support/chart-render: Go's
// text/template with Helm's sprig functions; no Helm on this machine), then read back and checked
// against the code it deploys: the eni_conf passes terwayd's own validation, the conflist the
// shim's, terwayd's flags are flags it has, the plugin dials the socket terwayd serves, the init
// container runs what the image installs, the RBAC grants what the informers list and watch.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadAll } from 'js-yaml';

import { loadNetconf } from '../../src/cni/netconf.js';
import { parseConfig } from '../../src/config/load-config.js';
import { TERWAYD_ENV, TERWAYD_HEAP_LIMIT_MIB } from '../../src/daemon/runtime-settings.js';
import { BOOT_DIR } from '../../src/dataplane/bpf/kernel-clock.js';
import { TC_HOOK_CHOICES } from '../../src/dataplane/bpf/native-bpf.js';
import { ENDPOINT_SLICES_PATH, SERVICES_PATH } from '../../src/k8s/informer-source.js';
import { DEFAULT_FLOW_TABLE_SIZE, lbMapsKernelBytes } from '../../src/lb/flow-table-size.js';
import { METRICS_PATH } from '../../src/observe/metrics-server.js';
import { parseListenAddress } from '../../src/util/listen-address.js';
import { BINS, REPO_ROOT, requireBuilt } from '../support/bins.js';
import { IMAGE_INSTALL_CNI, IMAGE_TERWAY_CLI, INSTALL_CNI_SCRIPT } from '../support/install-cni.js';

const CHART = join(REPO_ROOT, 'charts', 'terway-node');
const MiB = 1024 * 1024;
/** Debian's Go packages, installed by make test's bootstrap: sprig, its deps, sigs.k8s.io/yaml. */
const DEBIAN_GOPATH = '/usr/share/gocode';

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}
interface Probe {
  exec: { command: string[] };
  timeoutSeconds: number;
  periodSeconds: number;
  failureThreshold: number;
}

interface Container {
  name: string;
  image: string;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }>;
  securityContext?: { privileged?: boolean };
  resources?: { limits?: { memory?: string } };
  ports?: Array<{ name: string; containerPort: number; protocol: string }>;
  volumeMounts: Array<{
    name: string;
    mountPath: string;
    mountPropagation?: string;
    readOnly?: boolean;
  }>;
}
interface PodSpec {
  hostNetwork: boolean;
  dnsPolicy: string;
  hostPID: boolean;
  serviceAccountName: string;
  initContainers: Container[];
  containers: Container[];
  volumes: Array<{
    name: string;
    hostPath?: { path: string; type?: string };
    configMap?: { name: string; items: Array<{ key: string; path: string }> };
  }>;
}

let gopath: string;
/** The chart with its own values, rendered once: no test changes it. */
let defaults: K8sObject[];

/** A GOPATH where Debian's module paths (sprig/v3, semver/v3) resolve, and the renderer. */
beforeAll(() => {
  gopath = mkdtempSync(join(tmpdir(), 'terway-chart-gopath-'));
  const link = (target: string, path: string) => {
    mkdirSync(dirname(join(gopath, 'src', path)), { recursive: true });
    symlinkSync(target, join(gopath, 'src', path));
  };
  link(`${DEBIAN_GOPATH}/src/github.com/Masterminds/sprig`, 'github.com/Masterminds/sprig/v3');
  link(`${DEBIAN_GOPATH}/src/github.com/Masterminds/semver`, 'github.com/Masterminds/semver/v3');
  link(join(REPO_ROOT, 'test', 'support', 'chart-render'), 'chart-render');
  defaults = render();
});

afterAll(() => rmSync(gopath, { recursive: true, force: true }));

function render(overrides?: object): K8sObject[] {
  const args = ['run', '.', CHART];
  if (overrides !== undefined) {
    const file = join(gopath, `values-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(overrides));
    args.push(file);
  }
  const run = spawnSync('go', args, {
    cwd: join(gopath, 'src', 'chart-render'),
    encoding: 'utf8',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${gopath}:${DEBIAN_GOPATH}`,
      GOFLAGS: '',
      // Its own build cache: CI may run without a HOME for Go's default one.
      GOCACHE: join(gopath, 'go-build'),
    },
    timeout: 120_000,
  });
  if (run.error) throw run.error;
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return (loadAll(run.stdout) as Array<K8sObject | null>).filter(
    (object): object is K8sObject => object !== null,
  );
}

function find(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((object) => object.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
}

function podSpec(objects: K8sObject[]): PodSpec {
  const daemonSet = find(objects, 'DaemonSet') as unknown as {
    spec: { template: { spec: PodSpec } };
  };
  return daemonSet.spec.template.spec;
}

function podAnnotations(objects: K8sObject[]): Record<string, string> {
  const daemonSet = find(objects, 'DaemonSet') as unknown as {
    spec: { template: { metadata: { annotations?: Record<string, string> } } };
  };
  return daemonSet.spec.template.metadata.annotations ?? {};
}

function container(spec: PodSpec, name: string): Container {
  const found = [...spec.initContainers, ...spec.containers].find((c) => c.name === name);
  expect(found).toBeDefined();
  return found!;
}

function envOf(c: Container): Map<string, string | undefined> {
  return new Map((c.env ?? []).map((e) => [e.name, e.value]));
}

/** terwayd's flags as the chart passes them (`--name=value`). */
function flags(c: Container): Map<string, string> {
  return new Map(
    (c.args ?? []).map((arg) => {
      const at = arg.indexOf('=');
      return [arg.slice(0, at), arg.slice(at + 1)];
    }),
  );
}

function configMapData(objects: K8sObject[]): Record<string, string> {
  return (find(objects, 'ConfigMap') as unknown as { data: Record<string, string> }).data;
}

describe('charts/terway-node', () => {
  test('renders the objects a node daemon needs, all in the release namespace', () => {
    const objects = defaults;
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'ServiceAccount',
    ]);
    for (const kind of ['ConfigMap', 'DaemonSet', 'ServiceAccount']) {
      expect(find(objects, kind).metadata.namespace).toBe('kube-system');
    }
  });

  test("its eni_conf passes terwayd's validation and talks to ECS, not the emulator", () => {
    const config = parseConfig(JSON.parse(configMapData(defaults).eni_conf!));
    expect(config.cloud).toBe('ecs');
  });

  test("its conflist passes the shim's netconf checks and dials the socket terwayd serves", () => {
    const objects = defaults;
    const conflist = JSON.parse(configMapData(objects).cni_conflist!) as {
      cniVersion: string;
      name: string;
      plugins: Array<Record<string, unknown>>;
    };
    expect(conflist.plugins).toHaveLength(1);
    // The runtime hands each plugin its entry with the list's version and name.
    const netconf = loadNetconf({
      ...conflist.plugins[0],
      cniVersion: conflist.cniVersion,
      name: conflist.name,
    });
    expect(netconf.type).toBe('terway');
    const terwayd = container(podSpec(objects), 'terwayd');
    expect(netconf.daemon_socket).toBe(flags(terwayd).get('--socket'));
  });

  test('terwayd gets only flags it has, with values it accepts', () => {
    const help = spawnSync(process.execPath, [requireBuilt(BINS.terwayd), '--help'], {
      encoding: 'utf8',
    }).stdout;
    const terwayd = container(podSpec(defaults), 'terwayd');
    const given = flags(terwayd);
    expect(given.size).toBeGreaterThan(0);
    for (const flag of given.keys()) expect(help).toContain(`${flag} <`);
    expect(TC_HOOK_CHOICES).toContain(given.get('--lb-hook'));
    // In a pod, no --services and no --kubeconfig: the in-cluster account's informers.
    expect(given.has('--services')).toBe(false);
    expect(given.has('--kubeconfig')).toBe(false);
    // The zone comes from instance metadata unless daemon.zone is set (a flag terwayd has).
    expect(given.has('--zone')).toBe(false);
    expect(help).toContain('--zone <');
  });

  test('every path terwayd is given is a mounted host path or the ConfigMap', () => {
    const spec = podSpec(defaults);
    const terwayd = container(spec, 'terwayd');
    const given = flags(terwayd);
    const mountOf = (path: string) =>
      terwayd.volumeMounts.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
    const volume = (name: string) => spec.volumes.find((v) => v.name === name);
    for (const flag of ['--socket', '--state-dir', '--bpf-pin-dir']) {
      const mount = mountOf(given.get(flag)!);
      expect(mount).toBeDefined();
      expect(volume(mount!.name)?.hostPath).toBeDefined();
    }
    expect(volume(mountOf(given.get('--config')!)!.name)?.configMap?.items).toContainEqual({
      key: 'eni_conf',
      path: 'eni_conf.json',
    });
    // The pins must be on the node's bpffs; the runtime's netns mounts must appear as they come.
    expect(mountOf(given.get('--bpf-pin-dir')!)!.mountPath).toBe('/sys/fs/bpf');
    for (const path of ['/sys/fs/bpf', '/var/run/netns']) {
      expect(mountOf(path)?.mountPropagation).toBe('HostToContainer');
    }
    for (const c of [...spec.initContainers, ...spec.containers]) {
      for (const mount of c.volumeMounts) expect(volume(mount.name)).toBeDefined();
    }
    // The kernel's config, where terwayd reads its tick (kernel-clock.ts): the node's, read-only.
    const kernelConfig = mountOf(`${BOOT_DIR}/config-6.1.0-57-amd64`);
    expect(kernelConfig).toMatchObject({ mountPath: BOOT_DIR, readOnly: true });
    expect(volume(kernelConfig!.name)?.hostPath).toEqual({ path: '/boot', type: 'Directory' });
  });

  test('runs with the node: host network, PIDs and resolver, privileged, NODE_NAME from the node', () => {
    const spec = podSpec(defaults);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.hostPID).toBe(true);
    // Cluster DNS needs pod networking, which this pod is what provides.
    expect(spec.dnsPolicy).toBe('Default');
    const terwayd = container(spec, 'terwayd');
    expect(terwayd.securityContext?.privileged).toBe(true);
    expect(terwayd.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom).toEqual({
      fieldRef: { fieldPath: 'spec.nodeName' },
    });
  });

  test("terwayd's heap ceiling is the image's (the lab's and the benchmarks'), under the memory limit with the maps", () => {
    const terwayd = container(podSpec(defaults), 'terwayd');
    const nodeOptions = terwayd.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
    expect(nodeOptions).toBe(TERWAYD_ENV.NODE_OPTIONS);
    const limit = terwayd.resources?.limits?.memory;
    expect(limit).toMatch(/^\d+Mi$/);
    // Room outside the heap for code, the young generation, libbpf and the pod store's mapping,
    // and for the Service LB maps the kernel charges to terwayd's memory cgroup.
    expect(Number.parseInt(limit!, 10)).toBe(
      TERWAYD_HEAP_LIMIT_MIB + 64 + Math.ceil(lbMapsKernelBytes(DEFAULT_FLOW_TABLE_SIZE) / MiB),
    );
  });

  test('the memory limit follows the table size and the heap, unless it is set', () => {
    const limitWith = (values: Record<string, unknown>) =>
      container(podSpec(render(values)), 'terwayd').resources?.limits?.memory;
    expect(limitWith({ daemon: { lbFlowTableSize: 1_048_576, heapLimitMiB: 448 } })).toBe(
      `${448 + 64 + Math.ceil(lbMapsKernelBytes(1_048_576) / MiB)}Mi`,
    );
    expect(limitWith({ resources: { limits: { memory: '1Gi' } } })).toBe('1Gi');
  });

  test("terwayd's probes run terway-cli status against the socket terwayd serves", () => {
    const terwayd = container(podSpec(defaults), 'terwayd');
    const socket = flags(terwayd).get('--socket');
    const help = spawnSync(process.execPath, [requireBuilt(BINS.terwayCli), '--help'], {
      encoding: 'utf8',
    }).stdout;
    expect(help).toMatch(/^ {2}status /m);
    // Readiness also waits for the node's Services to be in its maps: a rolling update moves on
    // only once they are. Liveness does not: a source that cannot list is no reason to restart.
    // dockerfile.test.ts checks the image links terway-cli there.
    const status = [IMAGE_TERWAY_CLI, 'status', `--socket=${socket}`];
    expect(terwayd.startupProbe?.exec.command).toEqual(status);
    expect(terwayd.livenessProbe?.exec.command).toEqual(status);
    expect(terwayd.readinessProbe?.exec.command).toEqual([...status, '--services-synced']);
    expect(
      spawnSync(process.execPath, [requireBuilt(BINS.terwayCli), 'status', '--help'], {
        encoding: 'utf8',
      }).stdout,
    ).toContain('--services-synced');
    for (const probe of [terwayd.startupProbe, terwayd.livenessProbe, terwayd.readinessProbe]) {
      // terway-cli gives terwayd 5 s: the probe must not cut it short.
      expect(probe!.timeoutSeconds).toBeGreaterThan(5);
    }
    // A first start restores from the cloud: minutes before liveness may judge it.
    const startup = terwayd.startupProbe!;
    expect(startup.periodSeconds * startup.failureThreshold).toBeGreaterThanOrEqual(300);
    const disabled = container(podSpec(render({ probes: { enabled: false } })), 'terwayd');
    expect([disabled.startupProbe, disabled.livenessProbe, disabled.readinessProbe]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    const moved = render({ daemon: { socketDir: '/run/terway-elsewhere' } });
    expect(container(podSpec(moved), 'terwayd').livenessProbe?.exec.command[2]).toBe(
      '--socket=/run/terway-elsewhere/eni.socket',
    );
  });

  test("terwayd serves its metrics on the node's port that the container and annotations name", () => {
    const terwayd = container(podSpec(defaults), 'terwayd');
    const address = parseListenAddress(
      flags(terwayd).get('--metrics-address')!,
      '--metrics-address',
    );
    // Host network: every address of the node unless asked otherwise.
    expect(address).toEqual({ host: '0.0.0.0', port: 9430 });
    expect(terwayd.ports).toEqual([{ name: 'metrics', containerPort: 9430, protocol: 'TCP' }]);
    expect(podAnnotations(defaults)).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9430',
      'prometheus.io/path': METRICS_PATH,
    });

    const moved = render({ metrics: { port: 19430, host: '::1', podAnnotations: false } });
    const movedTerwayd = container(podSpec(moved), 'terwayd');
    expect(
      parseListenAddress(flags(movedTerwayd).get('--metrics-address')!, '--metrics-address'),
    ).toEqual({
      host: '::1',
      port: 19430,
    });
    expect(movedTerwayd.ports?.[0]?.containerPort).toBe(19430);
    expect(Object.keys(podAnnotations(moved)).filter((k) => k.startsWith('prometheus.io'))).toEqual(
      [],
    );

    const off = render({ metrics: { enabled: false } });
    const offTerwayd = container(podSpec(off), 'terwayd');
    expect(flags(offTerwayd).has('--metrics-address')).toBe(false);
    expect(offTerwayd.ports).toBeUndefined();
    expect(podAnnotations(off)['prometheus.io/scrape']).toBeUndefined();
  });

  test('the init container runs what the image installs, with the variables it reads', () => {
    const spec = podSpec(defaults);
    const install = container(spec, 'install-cni');
    // dockerfile.test.ts checks the image has the script there.
    expect(install.command).toEqual([IMAGE_INSTALL_CNI]);
    const script = readFileSync(INSTALL_CNI_SCRIPT, 'utf8');
    const env = envOf(install);
    for (const name of env.keys()) expect(script).toContain(`${name}`);
    // Every node path it installs to is mounted under HOST_ROOT.
    for (const name of ['TERWAY_RUNTIME_DIR', 'CNI_BIN_DIR', 'CNI_CONF_DIR']) {
      const mounted = install.volumeMounts.map((m) => m.mountPath);
      expect(mounted).toContain(`${env.get('HOST_ROOT')}${env.get(name)}`);
    }
    const conflist = env.get('CNI_CONFLIST')!;
    const configMount = install.volumeMounts.find((m) => conflist.startsWith(`${m.mountPath}/`));
    expect(configMount?.name).toBe('config');
    expect(env.get('MOUNT_BPFFS')).toBe('1');
    expect(install.securityContext?.privileged).toBe(true);
  });

  test('RBAC grants list and watch on what the informers follow, and nothing more', () => {
    const objects = defaults;
    const rules = (
      find(objects, 'ClusterRole') as unknown as {
        rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
      }
    ).rules;
    const granted = rules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.map(
          (resource) => `${group}/${resource}:${[...rule.verbs].sort().join(',')}`,
        ),
      ),
    );
    // /api/v1/services → core group; /apis/discovery.k8s.io/v1/endpointslices → that group.
    const followed = [SERVICES_PATH, ENDPOINT_SLICES_PATH].map((path) => {
      const parts = path.split('/');
      return parts[1] === 'api' ? `/${parts[3]}` : `${parts[2]}/${parts[4]}`;
    });
    expect(granted.sort()).toEqual(followed.map((f) => `${f}:list,watch`).sort());
    const binding = find(objects, 'ClusterRoleBinding') as unknown as {
      subjects: Array<{ name: string; namespace: string }>;
    };
    expect(binding.subjects).toEqual([
      expect.objectContaining({
        name: podSpec(objects).serviceAccountName,
        namespace: 'kube-system',
      }),
    ]);
  });

  test('values change what they say: credentials, apiserver, paths, bpffs mount, heap, LB settings', () => {
    const objects = render({
      image: { repository: 'registry.example/terway-node', tag: 'v9' },
      credentialsSecret: 'aliyun-ak',
      apiServer: { host: '10.0.0.1', port: 6443 },
      cni: { binDir: '/usr/libexec/cni', confName: '05-terway.conflist' },
      daemon: {
        mountBpffs: false,
        mountBootConfig: false,
        lbHook: 'tcx',
        lbSyncWait: '30s',
        lbCollectInterval: '5s',
        lbFlowTableSize: 1048576,
        socketDir: '/run/terway',
        zone: 'zone-x',
        heapLimitMiB: 448,
      },
      eniConf: { max_pool_size: 10, vswitches: { 'cn-hangzhou-k': ['vsw-1'] } },
    });
    const spec = podSpec(objects);
    const terwayd = container(spec, 'terwayd');
    const install = container(spec, 'install-cni');
    expect(terwayd.image).toBe('registry.example/terway-node:v9');
    const env = new Map((terwayd.env ?? []).map((e) => [e.name, e]));
    expect(env.get('ALIBABA_CLOUD_ACCESS_KEY_ID')?.valueFrom).toEqual({
      secretKeyRef: { name: 'aliyun-ak', key: 'ALIBABA_CLOUD_ACCESS_KEY_ID' },
    });
    expect(env.get('KUBERNETES_SERVICE_HOST')?.value).toBe('10.0.0.1');
    expect(env.get('KUBERNETES_SERVICE_PORT')?.value).toBe('6443');
    expect(env.get('NODE_OPTIONS')?.value).toBe('--max-old-space-size=448');
    expect(envOf(install).get('CNI_BIN_DIR')).toBe('/usr/libexec/cni');
    expect(envOf(install).get('CNI_CONF_NAME')).toBe('05-terway.conflist');
    expect(envOf(install).get('MOUNT_BPFFS')).toBe('0');
    expect(terwayd.volumeMounts.map((m) => m.mountPath)).not.toContain(BOOT_DIR);
    expect(spec.volumes.map((v) => v.name)).not.toContain('boot');
    expect(flags(terwayd).get('--lb-hook')).toBe('tcx');
    expect(flags(terwayd).get('--lb-sync-wait')).toBe('30s');
    expect(flags(terwayd).get('--lb-collect-interval')).toBe('5s');
    expect(flags(terwayd).get('--lb-flow-table-size')).toBe('1048576');
    expect(flags(terwayd).get('--zone')).toBe('zone-x');
    expect(flags(terwayd).get('--socket')).toBe('/run/terway/eni.socket');
    const data = configMapData(objects);
    expect(JSON.parse(data.cni_conflist!).plugins[0].daemon_socket).toBe('/run/terway/eni.socket');
    const config = parseConfig(JSON.parse(data.eni_conf!));
    expect(config.cloud).toBe('ecs');
    expect(JSON.parse(data.eni_conf!)).toMatchObject({ max_pool_size: 10 });
  });
});
