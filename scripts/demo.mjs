// `make demo`: the main job on the embedded defaults. Starts terwayd on the built-in ECS emulator
// (through the official SDK, as against real ECS), adds pods through the real `terway` CNI shim exactly as a container runtime would
// (CNI_* environment + netconf on stdin), shows the node with `terway-cli`, deletes the pods and
// stops the daemon with SIGTERM. Everything lives in a temp dir that is removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TERWAYD = join(ROOT, 'dist/cmd/terwayd.js');
const SHIM = join(ROOT, 'dist/bundle/terway.cjs');
const CLI = join(ROOT, 'dist/cmd/terway-cli.js');
const PODS = [
  ['default', 'nginx-7c9f8b6d4-q2w9z'],
  ['default', 'nginx-7c9f8b6d4-x81kd'],
  ['kube-system', 'coredns-6d8c4cb4d-x7k2p'],
  ['monitoring', 'prometheus-0'],
  ['shop', 'checkout-5b7d9c-2mzv8'],
  ['shop', 'cart-6f8d7b-9qlx4'],
];

const dir = mkdtempSync(join(tmpdir(), 'terway-demo-'));
const socket = join(dir, 'eni.socket');
const stateDir = join(dir, 'state');
const configPath = join(dir, 'eni_conf.json');
const logPath = join(dir, 'terwayd.log');
let daemon;

function heading(text) {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

function show(command, args) {
  process.stdout.write(`$ ${command} ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  process.stdout.write(result.stdout + result.stderr);
  if (result.status !== 0) throw new Error(`${command} failed`);
}

function cni(verb, namespace, name, containerId) {
  const netconf = { cniVersion: '1.0.0', name: 'terway', type: 'terway', daemon_socket: socket };
  const env = {
    PATH: process.env.PATH,
    CNI_COMMAND: verb,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: `/var/run/netns/cni-${containerId}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${containerId}`,
  };
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [SHIM], {
    input: JSON.stringify(netconf),
    env,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0)
    throw new Error(`terway ${verb} ${namespace}/${name} failed: ${result.stdout}${result.stderr}`);
  return { stdout: result.stdout.trim(), ms };
}

async function startDaemon() {
  writeFileSync(
    configPath,
    JSON.stringify(
      // `cloud: emulator` even when the shell holds ALIBABA_CLOUD_* credentials: a demo never
      // touches a real account.
      {
        cloud: 'emulator',
        min_pool_size: 2,
        max_pool_size: 5,
        emulator: { instance_type: 'ecs.g7.xlarge' },
      },
      null,
      2,
    ),
  );
  process.stdout.write(
    `eni_conf (${configPath}):\n${JSON.stringify(JSON.parse(String(spawnSync('cat', [configPath]).stdout)))}\n`,
  );
  process.stdout.write(
    `$ terwayd --config ${configPath} --socket ${socket} --state-dir ${stateDir}\n`,
  );
  const { openSync } = await import('node:fs');
  const log = openSync(logPath, 'w');
  daemon = spawn(
    process.execPath,
    [TERWAYD, '--config', configPath, '--socket', socket, '--state-dir', stateDir],
    {
      stdio: ['ignore', log, log],
    },
  );
  const exited = new Promise((resolve) =>
    daemon.once('exit', (code, signal) => resolve({ code, signal })),
  );
  for (let i = 0; i < 200; i++) {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(logPath, 'utf8');
    if (text.includes('"terwayd is serving"')) return { exited };
    if (daemon.exitCode !== null) throw new Error(`terwayd exited early:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('terwayd did not start in 10 s');
}

function printDaemonLog() {
  const lines = String(spawnSync('cat', [logPath]).stdout)
    .split('\n')
    .filter(Boolean);
  for (const line of lines) {
    try {
      const entry = JSON.parse(line);
      const extra = [
        'api',
        'latencyMs',
        'requestId',
        'pod',
        'ip',
        'eniId',
        'ips',
        'mac',
        'instanceType',
        'ecsEndpoint',
        'metadataUrl',
        'socket',
        'reason',
      ]
        .filter((key) => entry[key] !== undefined)
        .map((key) => `${key}=${Array.isArray(entry[key]) ? entry[key].join(',') : entry[key]}`)
        .join(' ');
      process.stdout.write(
        `  ${entry.time.slice(11, 23)} ${entry.level.padEnd(5)} ${entry.msg}${extra ? `  (${extra})` : ''}\n`,
      );
    } catch {
      process.stdout.write(`  ${line}\n`);
    }
  }
}

/** The embedded emulator's endpoint, as the daemon logged it. */
function emulatorEndpoint() {
  for (const line of String(spawnSync('cat', [logPath]).stdout).split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line);
    if (typeof entry.ecsEndpoint === 'string') return entry.ecsEndpoint;
  }
  return undefined;
}

async function showCloudCalls(title) {
  const endpoint = emulatorEndpoint();
  if (endpoint === undefined) return;
  const stats = await (await fetch(`http://${endpoint}/admin/stats`)).json();
  process.stdout.write(`\n${title}:\n`);
  for (const [api, count] of Object.entries(stats.calls).sort()) {
    process.stdout.write(`  ${api.padEnd(28)} ${String(count).padStart(4)}\n`);
  }
}

async function main() {
  heading(
    '1. start terwayd on the built-in ECS emulator (no credentials configured; it speaks the ECS wire protocol, and terwayd reaches it through the official SDK)',
  );
  const { exited } = await startDaemon();
  printDaemonLog();

  heading(`2. add ${PODS.length} pods through the terway CNI shim (CNI ADD, spec 1.0.0)`);
  PODS.forEach(([namespace, name], i) => {
    const { stdout, ms } = cni('ADD', namespace, name, `sandbox${i}`);
    const ip = JSON.parse(stdout).ips[0].address;
    process.stdout.write(
      `  ADD ${`${namespace}/${name}`.padEnd(36)} -> ${ip.padEnd(15)} (${ms.toFixed(0)} ms)\n`,
    );
  });
  process.stdout.write(
    `  a retried ADD returns the same IP: ${JSON.parse(cni('ADD', ...PODS[0], 'sandbox0').stdout).ips[0].address}\n`,
  );
  process.stdout.write(
    `  result JSON of the last ADD: ${cni('ADD', ...PODS[5], 'sandbox5').stdout}\n`,
  );
  process.stdout.write(
    '  (this release allocates and records the IP; it does not yet create interfaces)\n',
  );

  heading('3. the node as terway-cli shows it');
  show('terway-cli', ['--socket', socket, 'show', 'factory']);
  process.stdout.write('\n');
  show('terway-cli', ['--socket', socket, 'mapping']);

  await showCloudCalls('the ECS API calls the emulator served so far (GET /admin/stats)');

  heading('4. delete the pods (CNI DEL), twice each: DEL is idempotent');
  PODS.forEach(([namespace, name], i) => {
    cni('DEL', namespace, name, `sandbox${i}`);
    cni('DEL', namespace, name, `sandbox${i}`);
    process.stdout.write(`  DEL ${namespace}/${name}\n`);
  });
  show('terway-cli', ['--socket', socket, 'show', 'factory']);

  heading('5. stop terwayd with SIGTERM');
  daemon.kill('SIGTERM');
  const { code, signal } = await exited;
  process.stdout.write(`  terwayd exited with ${code ?? signal}\n\n  daemon log:\n`);
  printDaemonLog();
  if (code !== 0) throw new Error('terwayd did not stop cleanly');
}

try {
  await main();
  process.stdout.write('\ndemo finished cleanly.\n');
} catch (error) {
  process.stderr.write(`\ndemo failed: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  if (daemon !== undefined && daemon.exitCode === null) daemon.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
