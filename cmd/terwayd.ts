#!/usr/bin/env node
import { Command, Option } from 'commander';
import { DEFAULT_SOCKET_PATH } from '../src/rpc/socket-address.js';
import { DEFAULT_BPF_OBJECT, DEFAULT_BPF_PIN_DIR } from '../src/daemon/service-lb.js';
import { runDaemon } from '../src/daemon/terwayd.js';
import { DEFAULT_LB_SYNC_WAIT_MS } from '../src/daemon/service-sync-gate.js';
import { DEFAULT_FLOW_COLLECT_INTERVAL_MS } from '../src/lb/flow-collector.js';
import {
  DEFAULT_FLOW_TABLE_SIZE,
  FLOW_TABLE_BYTES_PER_ENTRY,
  FLOW_TABLE_SIZE_MAX,
  FLOW_TABLE_SIZE_MIN,
} from '../src/lb/flow-table-size.js';
import {
  DEFAULT_TC_HOOK,
  TC_HOOK_CHOICES,
  type TcHookChoice,
} from '../src/dataplane/bpf/native-bpf.js';

const DEFAULT_STATE_DIR = '/var/lib/terway-node';

const program = new Command('terwayd')
  .description('terway-node daemon: warm ENI/IP pool and IPAM for the terway CNI plugin')
  .option('--config <file>', "eni_conf JSON (Terway's keys); built-in defaults when omitted")
  .option('--socket <path>', 'unix socket to serve gRPC on', DEFAULT_SOCKET_PATH)
  .option(
    '--state-dir <dir>',
    'directory for durable pod records and the daemon lock',
    DEFAULT_STATE_DIR,
  )
  .option('--log-level <level>', 'trace | debug | info | warn | error | fatal', 'info')
  .option(
    '--services <file>',
    'standalone Service source: Kubernetes Services and EndpointSlices (YAML or JSON), followed as it changes',
  )
  .addOption(
    // Two Service sources would both claim the same maps: one must be chosen, not silently won.
    new Option(
      '--kubeconfig <file>',
      'cluster Service source: informers on Services and EndpointSlices (in a pod: the in-cluster account)',
    ).conflicts('services'),
  )
  .option(
    '--bpf-pin-dir <dir>',
    'bpffs directory of the Service LB maps and program',
    DEFAULT_BPF_PIN_DIR,
  )
  .option('--bpf-object <file>', 'the compiled Service LB program', DEFAULT_BPF_OBJECT)
  .option(
    '--node-name <name>',
    "this node's Kubernetes name, whose endpoints internalTrafficPolicy: Local keeps (default: $NODE_NAME, else the hostname, as kubelet names a node)",
  )
  .option(
    '--zone <zone>',
    "this node's zone, whose endpoints topology hints (forZones) keep (default: the ECS instance's zone from instance metadata, which Alibaba Cloud also gives the node as its topology.kubernetes.io/zone label)",
  )
  .addOption(
    new Option(
      '--lb-hook <hook>',
      "where pods' Service LB programs go: clsact (attach < 1 ms) or tcx (Linux 6.6+, cheaper per packet; each attach waits an RCU grace period, under 1 ms to about 12 ms per attach here, longer on busy many-CPU nodes; clsact on older kernels)",
    )
      .choices(TC_HOOK_CHOICES)
      .default(DEFAULT_TC_HOOK),
  )
  .option(
    '--lb-sync-wait <duration>',
    "how long after the start pod ADDs may wait for the Service LB's first complete state from its source (so a new pod's first ClusterIP packets are translated); 0 for not at all",
    `${DEFAULT_LB_SYNC_WAIT_MS / 1000}s`,
  )
  .option(
    '--lb-collect-interval <duration>',
    "how often ended flows are deleted from the Service LB's conntrack tables, so that a full table never evicts live flows for ended ones; 0 for never",
    `${DEFAULT_FLOW_COLLECT_INTERVAL_MS / 1000}s`,
  )
  .option(
    '--lb-flow-table-size <flows>',
    `how many flows the Service LB's conntrack tables hold (${FLOW_TABLE_SIZE_MIN} to ${FLOW_TABLE_SIZE_MAX}, about ${FLOW_TABLE_BYTES_PER_ENTRY} bytes of kernel memory each); pinned tables of another size are resized at start, their live flows kept`,
    String(DEFAULT_FLOW_TABLE_SIZE),
  )
  .option(
    '--metrics-address <host:port>',
    'serve Prometheus metrics at http://<host:port>/metrics (:port for every address); not served when omitted',
  )
  .showHelpAfterError();

program.parse();
const options = program.opts<{
  config?: string;
  socket: string;
  stateDir: string;
  logLevel: string;
  services?: string;
  kubeconfig?: string;
  bpfPinDir: string;
  bpfObject: string;
  lbHook: TcHookChoice;
  nodeName?: string;
  zone?: string;
  metricsAddress?: string;
  lbSyncWait: string;
  lbCollectInterval: string;
  lbFlowTableSize: string;
}>();
await runDaemon(options);
