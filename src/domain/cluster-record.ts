/** What ray-mcp remembers of a cluster across restarts (the state file), and the details view. */
import type { ClusterStatus, LocalClusterSpec, NodeResources } from './cluster.js';
import type { ErrorInfo } from './errors.js';
import type { KubeTarget } from './kube.js';

/**
 * The readiness steps of a local start, in order; a start that times out names the first one not
 * reached.
 */
export const START_STEPS = {
  prepare: 'Ray CLI, temp dir and ports ready',
  dashboard: 'dashboard healthy',
  session: "dashboard's session is this cluster's",
  jobApi: 'job API answers',
  head: 'head node ALIVE',
  workers: 'every worker node ALIVE',
  jobAgent: 'job agent ready',
} as const;
export type StartStep = keyof typeof START_STEPS;

/** How the note of a cluster left running at exit (--on-exit=auto, for its jobs) begins. */
export const KEPT_AT_EXIT = 'Kept at exit';

/** Why a local cluster failed: the error, the node's last output, the step a start did not reach. */
export type LocalClusterError = ErrorInfo & {
  /** The node's last output: untrusted text from its log, bounded, control characters stripped. */
  excerpt?: string;
  step?: StartStep;
  /** Where the cluster's logs are kept until it is stopped. */
  logDir?: string;
};

export interface RayEndpoints {
  version: string;
  sessionName: string;
  dashboardUrl: string;
  gcsAddress: string;
  clientAddress?: string;
}

export interface NodeRecord {
  name: string;
  nodeType: string;
  role: 'head' | 'worker';
  resources: NodeResources;
  logFile: string;
  /** pending: not launched; launched: process up, not yet a Ray node; up: an ALIVE Ray node;
   * exited: ended on its own; removing: being stopped by a scale-down. */
  state: 'pending' | 'launched' | 'up' | 'exited' | 'removing';
  pid?: number;
  ports?: Record<string, number>;
  nodeId?: string;
  exit?: string;
}

export interface LocalClusterRecord {
  id: string;
  kind: 'local';
  status: ClusterStatus;
  spec: LocalClusterSpec;
  createdAt: number;
  startedAt?: number;
  tempDir?: string;
  rayBin?: string;
  ray?: RayEndpoints;
  nodes: NodeRecord[];
  counters: Record<string, number>;
  /** A failed cluster's error, kept across restarts. */
  error?: LocalClusterError;
  note?: string;
}

export interface ExternalClusterRecord {
  id: string;
  kind: 'external';
  status: ClusterStatus;
  address: string;
  createdAt: number;
  ray?: RayEndpoints;
}

/** A RayCluster on Kubernetes; adopted again (attached) through its connection after a restart. */
export interface KubeRayClusterRecord {
  id: string;
  kind: 'kuberay';
  status: ClusterStatus;
  connectionId: string;
  target: KubeTarget;
  namespace: string;
  name: string;
  owned: boolean;
  createdAt: number;
}

export type ClusterRecord = LocalClusterRecord | ExternalClusterRecord | KubeRayClusterRecord;

/** A Ray node as the dashboard reports it, compacted. */
export interface RayNodeHealth {
  nodeId: string;
  name?: string;
  nodeType?: string;
  alive: boolean;
  isHead: boolean;
  address: string;
  resourcesTotal: Record<string, number>;
  resourcesAvailable?: Record<string, number>;
}

export interface ClusterHealth {
  ok: boolean;
  checkedAt: number;
  nodes: RayNodeHealth[];
  error?: string;
}

export interface ClusterDetails {
  fetchedAt: number;
  nodes: RayNodeHealth[];
  usage: Record<string, { used: number; total: number }>;
  jobs: Record<string, number>;
}

/** What a health watcher tells a cluster actor. */
export type RayHealthEvent = { type: 'ray.health'; health: ClusterHealth };
