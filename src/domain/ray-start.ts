/**
 * The `ray start --block` command line of one node, pure: every port Ray would otherwise pick
 * (or default, colliding with a second cluster) comes from the node's lease.
 */
import type { LocalClusterSpec, NodeResources } from './cluster.js';
import type { PortBlock } from './ports.js';

/** Ports a Ray worker process can take on one node; more than the busiest small node needs. */
export const WORKER_PORTS_PER_NODE = 100;

const NODE_BLOCKS: PortBlock[] = [
  { name: 'agentListen', size: 1 },
  { name: 'agentGrpc', size: 1 },
  { name: 'nodeManager', size: 1 },
  { name: 'objectManager', size: 1 },
  { name: 'runtimeEnvAgent', size: 1 },
  { name: 'metricsExport', size: 1 },
  { name: 'workers', size: WORKER_PORTS_PER_NODE },
];

export const HEAD_BLOCKS: PortBlock[] = [
  { name: 'gcs', size: 1 },
  { name: 'dashboard', size: 1 },
  { name: 'client', size: 1 },
  { name: 'dashboardMetrics', size: 1 },
  ...NODE_BLOCKS,
  // Serve's HTTP and gRPC proxies (on the head only), set in the Serve deploy config, not here.
  { name: 'serveHttp', size: 1 },
  { name: 'serveGrpc', size: 1 },
];
export const WORKER_BLOCKS: PortBlock[] = NODE_BLOCKS;

/**
 * A cluster's temp dir is `<temp root>/<CLUSTER_DIR_PREFIX><6 random characters>` (mkdtemp). Ray puts
 * AF_UNIX sockets under it, the longest one below; a socket path over 107 bytes stops Ray's dashboard
 * ("Module TaskEventsHead failed to start"). The temp root is at most MAX_TEMP_ROOT bytes
 * (config.ts), so the dir name is kept this short: the name of the cluster stays out of it.
 */
export const CLUSTER_DIR_PREFIX = 'c';
export const MAX_TEMP_ROOT = 28;
export const AF_UNIX_PATH_MAX = 107;
/** session_<date>_<time>_<microseconds>_<pid, up to 7 digits>/sockets/dash_<longest dashboard module>. */
export const LONGEST_RAY_SOCKET_TAIL =
  '/session_2026-12-02_19-03-15_123456_4194304/sockets/dash_TaskEventsHead';

export const NODE_LABEL = 'ray-mcp.io/node';
export const NODE_TYPE_LABEL = 'ray-mcp.io/node-type';

export interface NodeLaunch {
  name: string;
  nodeType: string;
  role: 'head' | 'worker';
  args: string[];
  /** Extra environment for this node's process. */
  env: Record<string, string>;
}

function resourceArgs(r: NodeResources): string[] {
  const args: string[] = [];
  if (r.num_cpus !== undefined) args.push(`--num-cpus=${r.num_cpus}`);
  if (r.num_gpus !== undefined) args.push(`--num-gpus=${r.num_gpus}`);
  if (r.memory !== undefined) args.push(`--memory=${r.memory}`);
  if (r.object_store_memory !== undefined) args.push(`--object-store-memory=${r.object_store_memory}`);
  if (r.resources && Object.keys(r.resources).length) args.push(`--resources=${JSON.stringify(r.resources)}`);
  return args;
}

function labelArg(name: string, nodeType: string, labels: Record<string, string> = {}): string {
  const all = { ...labels, [NODE_LABEL]: name, [NODE_TYPE_LABEL]: nodeType };
  return `--labels=${Object.entries(all)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;
}

function nodePortArgs(ports: Record<string, number>): string[] {
  return [
    `--dashboard-agent-listen-port=${ports.agentListen}`,
    `--dashboard-agent-grpc-port=${ports.agentGrpc}`,
    `--node-manager-port=${ports.nodeManager}`,
    `--object-manager-port=${ports.objectManager}`,
    `--runtime-env-agent-port=${ports.runtimeEnvAgent}`,
    `--metrics-export-port=${ports.metricsExport}`,
    `--min-worker-port=${ports.workers}`,
    `--max-worker-port=${(ports.workers ?? 0) + WORKER_PORTS_PER_NODE - 1}`,
  ];
}

export function headLaunch(
  spec: LocalClusterSpec,
  ports: Record<string, number>,
  tempDir: string,
): NodeLaunch {
  return {
    name: 'head',
    nodeType: 'head',
    role: 'head',
    args: [
      'start',
      '--head',
      '--block',
      '--node-ip-address=127.0.0.1',
      `--temp-dir=${tempDir}`,
      `--port=${ports.gcs}`,
      '--dashboard-host=127.0.0.1',
      `--dashboard-port=${ports.dashboard}`,
      `--ray-client-server-port=${ports.client}`,
      ...nodePortArgs(ports),
      ...resourceArgs(spec.head),
      labelArg('head', 'head', spec.head.labels),
      '--disable-usage-stats',
      '--log-style=record',
      '--log-color=false',
    ],
    env: { DASHBOARD_METRIC_PORT: String(ports.dashboardMetrics) },
  };
}

export function workerLaunch(
  name: string,
  nodeType: string,
  resources: NodeResources,
  ports: Record<string, number>,
  gcsAddress: string,
): NodeLaunch {
  return {
    name,
    nodeType,
    role: 'worker',
    args: [
      'start',
      '--block',
      `--address=${gcsAddress}`,
      '--node-ip-address=127.0.0.1',
      ...nodePortArgs(ports),
      ...resourceArgs(resources),
      labelArg(name, nodeType, resources.labels),
      '--disable-usage-stats',
      '--log-style=record',
      '--log-color=false',
    ],
    env: {},
  };
}
