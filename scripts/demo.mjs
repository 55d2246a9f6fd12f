// `make demo`: the main job on the embedded defaults. Builds a 2-node lab (a VPC namespace, two
// node namespaces each with a terwayd on the built-in ECS emulator, ENIs that appear as real
// links when the emulator attaches them), adds pods on both nodes through the real `terway` CNI
// shim exactly as a container runtime would, shows that every pod reaches every other (ping and
// a TCP request) and which way the packets went, then gives the web pods a Service and shows the
// eBPF load balancer inside the client pods spreading connections to its ClusterIP (with the
// program's own record of which backend each connection reached), prints `terway-cli show
// factory`, `show services`, `show flows` and the Prometheus metrics for each node, deletes the pods through CNI DEL and tears everything down, even on
// failure or Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LAB = join(ROOT, 'dist/cmd/lab.js');
const CLI = join(ROOT, 'dist/cmd/terway-cli.js');
const POD_PORT = 8080;
const CLUSTER_IP = '10.96.0.80';
const { NativeBpfMap } = await import(join(ROOT, 'dist/src/dataplane/bpf/native-bpf.js'));
const { openLbMaps, closeLbMaps } = await import(join(ROOT, 'dist/src/lb/lb-maps.js'));
const { readLbTable } = await import(join(ROOT, 'dist/src/lb/lb-table.js'));
const { readFlowRecords } = await import(join(ROOT, 'dist/src/lb/flow-records.js'));
/** Pods per node: on a fresh lab node they spread over its two ENIs (eni_selection_policy least_ips). */
const PODS = { 'node-1': ['web-1', 'web-2', 'web-3'], 'node-2': ['api-1', 'api-2'] };

const dir = mkdtempSync(join(tmpdir(), 'terway-demo-'));
let labIsUp = false;
const servers = [];

function heading(text) {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

function lab(args, { echo = true } = {}) {
  if (echo) process.stdout.write(`$ lab ${args.join(' ')}\n`);
  return run(process.execPath, [LAB, ...args, '--dir', dir]);
}

/** Runs terway-cli against one node's terwayd, showing the command as an operator would type it. */
function cli(node, args) {
  const socket = node.socket;
  process.stdout.write(`$ terway-cli --socket ${socket} ${args.join(' ')}    # ${node.name}\n`);
  process.stdout.write(run(process.execPath, [CLI, '--socket', socket, ...args]));
}

/** The node's terwayd metrics as Prometheus scrapes them: the pool, the CNI calls and the LB. */
async function metrics(node) {
  process.stdout.write(
    `$ curl -s ${node.metrics} | grep -E '^terway_(pool_ips|cni_requests_total|lb_frontends|lb_backends|lb_new_flows_total)'    # ${node.name}\n`,
  );
  const response = await fetch(node.metrics);
  if (response.status !== 200) throw new Error(`${node.metrics} answered ${response.status}`);
  const wanted =
    /^terway_(pool_ips|cni_requests_total|lb_frontends|lb_backends|lb_new_flows_total)[{ ]/;
  const lines = (await response.text()).split('\n').filter((line) => wanted.test(line));
  if (!lines.some((line) => line.startsWith('terway_lb_frontends{state="programmed"} '))) {
    throw new Error(`${node.metrics} has no terway_lb_frontends`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function inNetns(netns, command, args) {
  return spawnSync('ip', ['netns', 'exec', netns, command, ...args], { encoding: 'utf8' });
}

/** A one-line TCP server in the pod that answers with who it is. */
function startServer(pod) {
  const code = `require('net').createServer((s) => s.once('data', (d) => s.end('${pod.name} got ' + d))).listen(${POD_PORT}, '${pod.ip}', () => console.log('up'))`;
  const child = spawn('ip', ['netns', 'exec', pod.netnsName, process.execPath, '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  servers.push(child);
  return new Promise((resolve) => child.stdout.once('data', resolve));
}

function tcpRequest(from, to, { ip = to.ip, port = POD_PORT } = {}) {
  const code = `const s = require('net').connect(${port}, '${ip}', () => s.write('hello from ${from.name}')); s.setTimeout(3000, () => process.exit(2)); s.on('data', (d) => { process.stdout.write(s.localPort + ' ' + String(d)); process.exit(0); });`;
  const result = inNetns(from.netnsName, process.execPath, ['-e', code]);
  if (result.status !== 0) return { answer: `FAILED (${result.status})` };
  const [localPort, ...answer] = result.stdout.split(' ');
  return { localPort: Number(localPort), answer: answer.join(' ') };
}

/** The node's Service: the web pods behind CLUSTER_IP:80, as Kubernetes objects. */
function writeServices(node, backends) {
  const objects = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          type: 'ClusterIP',
          clusterIP: CLUSTER_IP,
          ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: POD_PORT }],
        },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: 'web-1',
          namespace: 'default',
          labels: { 'kubernetes.io/service-name': 'web' },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', protocol: 'TCP', port: POD_PORT }],
        // targetRef as the EndpointSlice controller writes it: terway-cli names a backend pod on
        // another node by it.
        endpoints: backends.map((pod) => ({
          addresses: [pod.ip],
          conditions: { ready: true },
          targetRef: { kind: 'Pod', namespace: 'default', name: pod.name },
        })),
      },
    ],
  };
  writeFileSync(`${node.services}.tmp`, `${JSON.stringify(objects, null, 2)}\n`);
  renameSync(`${node.services}.tmp`, node.services);
}

/** Reads the node's pinned LB maps until the Service is there (the daemon follows the file). */
async function waitForService(node, backends) {
  const want = backends
    .map((pod) => pod.ip)
    .sort()
    .join(',');
  for (let attempt = 0; attempt < 100; attempt++) {
    const maps = openLbMaps(node.bpfPinDir, (path) => NativeBpfMap.openPinned(path));
    try {
      const row = readLbTable(maps).find((entry) => entry.frontend.ip === CLUSTER_IP);
      if (
        row &&
        row.backends
          .map((backend) => backend.ip)
          .sort()
          .join(',') === want
      )
        return row;
    } finally {
      closeLbMaps(maps);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${node.name}'s Service LB never picked up ${node.services}`);
}

function pathOf(from, to) {
  if (from.node !== to.node) return `${from.node} -> VPC -> ${to.node}`;
  if (from.eniId === to.eniId)
    return from.driver === 'ipvlan'
      ? 'same ENI (inside the ipvlan parent)'
      : 'same ENI (via the node)';
  return from.driver === 'ipvlan'
    ? 'other ENI (out and back through the VPC)'
    : 'other ENI (via the node)';
}

async function main() {
  if (process.getuid?.() !== 0)
    throw new Error('make demo builds network namespaces: run it as root');

  heading('1. a lab: a VPC and two nodes, each with a terwayd on the built-in ECS emulator');
  // IPVlan is Terway's (and our) datapath; on a kernel without ipvlan terwayd falls back to veth
  // for each pod and says so, as Terway does.
  const manifest = JSON.parse(lab(['up', '--nodes', '2', '--driver', 'ipvlan', '--json']));
  labIsUp = true;
  process.stdout.write(run(process.execPath, [LAB, 'status', '--dir', dir]) + '\n');
  const driverLine = run('grep', ['-h', '"msg":"wiring pods', manifest.nodes[0].log]).split(
    '\n',
  )[0];
  process.stdout.write(`terwayd says: ${JSON.parse(driverLine).msg}\n`);

  heading('2. pods through the real terway CNI shim (CNI ADD)');
  const pods = [];
  for (const [node, names] of Object.entries(PODS)) {
    for (const name of names) {
      const added = JSON.parse(lab(['pod', 'add', node, name]));
      const eth0 = added.result.interfaces.find((iface) => iface.sandbox !== undefined);
      pods.push({
        node,
        name,
        netnsName: added.netns.split('/').pop(),
        ip: added.result.ips[0].address.split('/')[0],
        mac: eth0.mac,
      });
      process.stdout.write(
        `   ${node}/${name}: ${added.result.ips[0].address} via ${added.result.ips[0].gateway}, eth0 ${eth0.mac}\n`,
      );
    }
  }
  for (const node of manifest.nodes) {
    const mappings = JSON.parse(
      run(process.execPath, [CLI, '--socket', node.socket, 'mapping', '--json']),
    ).mappings;
    for (const mapping of mappings) {
      const pod = pods.find(
        (candidate) => candidate.node === node.name && candidate.name === mapping.network.pod.name,
      );
      Object.assign(pod, { eniId: mapping.network.eniId, driver: mapping.network.driver });
    }
    cli(node, ['mapping']);
  }

  heading('3. every pod reaches every other: ping, and a TCP request answered by the other pod');
  await Promise.all(pods.map(startServer));
  let failures = 0;
  for (const from of pods) {
    for (const to of pods) {
      if (from === to) continue;
      const ping = inNetns(from.netnsName, 'ping', ['-c', '1', '-W', '2', to.ip]);
      const rtt = /time=([\d.]+ ms)/.exec(ping.stdout)?.[1];
      const { answer } = tcpRequest(from, to);
      if (ping.status !== 0 || !answer.startsWith(to.name)) failures++;
      process.stdout.write(
        `   ${`${from.node}/${from.name}`.padEnd(13)} -> ${`${to.node}/${to.name}`.padEnd(13)} ${(rtt ?? 'no reply').padEnd(9)} ${JSON.stringify(answer).padEnd(30)} ${pathOf(from, to)}\n`,
      );
    }
  }
  if (failures > 0) throw new Error(`${failures} pod pairs could not reach each other`);

  heading(`4. a Service: ${CLUSTER_IP}:80 -> the web pods, load-balanced inside each client pod`);
  const webs = pods.filter((pod) => pod.name.startsWith('web-'));
  for (const node of manifest.nodes) {
    process.stdout.write(`   writing ${node.services} (a Service and its EndpointSlice)\n`);
    writeServices(node, webs);
  }
  for (const node of manifest.nodes) {
    const row = await waitForService(node, webs);
    process.stdout.write(
      `   ${node.name}'s maps: ${CLUSTER_IP}:80/TCP -> ${row.backends.map((b) => `${b.ip}:${b.port}`).join(' ')}\n`,
    );
  }
  for (const client of pods.filter((pod) => pod.name.startsWith('api-'))) {
    const node = manifest.nodes.find((candidate) => candidate.name === client.node);
    const reached = [];
    for (let request = 0; request < 6; request++) {
      const { localPort, answer } = tcpRequest(client, null, { ip: CLUSTER_IP, port: 80 });
      if (!webs.some((web) => answer.startsWith(web.name))) failures++;
      reached.push({ localPort, answer });
    }
    const flows = NativeBpfMap.openPinned(`${node.bpfPinDir}/tw_flow_v1`);
    const records = readFlowRecords(flows);
    flows.close();
    for (const { localPort, answer } of reached) {
      const record = records.find(
        (flow) => flow.client.ip === client.ip && flow.client.port === localPort,
      );
      process.stdout.write(
        `   ${client.node}/${client.name}:${localPort} -> ${CLUSTER_IP}:80  answered ${JSON.stringify(answer).padEnd(28)} record: backend ${record ? `${record.backend.ip}:${record.backend.port}, ${record.packets} packets, replies from ${record.nextHopMac ?? 'nobody yet'}` : 'none'}\n`,
      );
    }
  }
  if (failures > 0) throw new Error('a request to the ClusterIP was not answered by a web pod');

  heading('5. each node as its operator sees it');
  for (const node of manifest.nodes) {
    cli(node, ['show', 'factory']);
    cli(node, ['show', 'services']);
    cli(node, ['show', 'flows']);
    await metrics(node);
  }

  heading('6. delete the pods (CNI DEL) and tear the lab down');
}

async function cleanup() {
  for (const server of servers) server.kill();
  if (labIsUp) {
    labIsUp = false;
    process.stdout.write(lab(['down']));
  }
  rmSync(dir, { recursive: true, force: true });
}

process.on('SIGINT', () => cleanup().finally(() => process.exit(130)));
try {
  await main();
  await cleanup();
  process.stdout.write('\ndemo finished cleanly.\n');
} catch (error) {
  process.stderr.write(
    `\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  await cleanup().catch((cleanupError) => process.stderr.write(`cleanup: ${cleanupError}\n`));
  process.exit(1);
}
