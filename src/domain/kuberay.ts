/**
 * KubeRay as ray-mcp sees it: the input for a RayCluster on Kubernetes, the manifest built from
 * it, and compact summaries of RayCluster, RayJob and Pod objects. Pure: machines, actors and
 * tools share it. KubeRay v1.7 facts: ../docs/ARCHITECTURE.md (Kubernetes).
 */
import { z } from 'zod';
import { RayMcpError } from './errors.js';
import { NamespaceSchema } from './ids.js';
import type { RayServiceSummary } from './rayservice.js';

/** Label on everything ray-mcp creates; stop and delete act on labelled objects (or ones named explicitly). */
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'ray-mcp' } as const;
/** On RayClusters ray-mcp creates: the worker groups whose max_replicas the user chose (comma-separated). */
export const MAX_SET_ANNOTATION = 'ray-mcp.io/max-replicas-set';
export const FIELD_MANAGER = 'ray-mcp';
export const DEFAULT_RAY_VERSION = '2.60.0';
export const RAY_GROUP = 'ray.io';
export const RAY_API = 'ray.io/v1';

const quantity = z
  .union([
    z.number().positive(),
    z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'a Kubernetes quantity like 2, 500m, 4Gi'),
  ])
  .transform(String);

export const K8sNameSchema = z
  .string()
  .regex(
    /^[a-z]([a-z0-9-]{0,45}[a-z0-9])?$/,
    'Kubernetes names here are 1-47 lowercase letters, digits and dashes, starting with a letter',
  );

export { NamespaceSchema };

export const PodResourcesSchema = z
  .object({
    num_cpus: quantity.optional().describe('e.g. 2 or "500m"'),
    memory: quantity.optional().describe('e.g. "4Gi"'),
    num_gpus: z.number().int().min(0).max(16).optional().describe('GPUs per pod'),
    gpu_type: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
      .optional()
      .describe('Accelerator, e.g. nvidia-l4'),
  })
  .strict();

/** The same, undescribed: where an argument's fields need no words (a model reads them elsewhere). */
export const PlainPodResourcesSchema = z
  .object({
    num_cpus: quantity.optional(),
    memory: quantity.optional(),
    num_gpus: z.number().int().min(0).max(16).optional(),
    gpu_type: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
      .optional(),
  })
  .strict();

export const WorkerGroupSpecSchema = PodResourcesSchema.extend({
  group_name: K8sNameSchema,
  replicas: z.number().int().min(0).max(1000).optional().describe('default 1'),
  min_replicas: z.number().int().min(0).max(1000).optional().describe('autoscaler bound'),
  max_replicas: z.number().int().min(0).max(1000).optional().describe('autoscaler bound'),
}).strict();

export const ServiceTypeSchema = z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']);

export interface KubeRayClusterSpec {
  namespace: string;
  name: string;
  rayVersion: string;
  image: string;
  head: z.output<typeof PodResourcesSchema>;
  workerGroups: {
    name: string;
    replicas: number;
    minReplicas: number;
    maxReplicas: number;
    /** The user chose maxReplicas; otherwise it is ray-mcp's default, raised by a scale past it. */
    maxSet?: boolean;
    resources: z.output<typeof PodResourcesSchema>;
  }[];
  serviceType: z.infer<typeof ServiceTypeSchema>;
}

export function imageFor(rayVersion: string, gpu: boolean): string {
  return `rayproject/ray:${rayVersion}-py311${gpu ? '-gpu' : ''}`;
}

export function toKubeRaySpec(input: {
  name: string;
  namespace: string;
  ray_version?: string;
  image?: string;
  head?: z.output<typeof PodResourcesSchema>;
  workers?: z.output<typeof WorkerGroupSpecSchema>[];
  service_type?: z.infer<typeof ServiceTypeSchema>;
}): KubeRayClusterSpec {
  const rayVersion = input.ray_version ?? DEFAULT_RAY_VERSION;
  const workers = input.workers ?? [];
  const names = new Set<string>();
  for (const w of workers) {
    if (names.has(w.group_name)) {
      throw new RayMcpError(
        'invalid_input',
        `Two worker groups are named ${w.group_name}.`,
        'Give each worker group its own group_name.',
      );
    }
    names.add(w.group_name);
    const replicas = w.replicas ?? 1;
    if (w.max_replicas !== undefined && w.max_replicas < (w.min_replicas ?? 0)) {
      throw new RayMcpError(
        'invalid_input',
        `Worker group ${w.group_name}: max_replicas is below min_replicas.`,
        'Make max_replicas >= min_replicas.',
      );
    }
    if (replicas < (w.min_replicas ?? 0) || (w.max_replicas !== undefined && replicas > w.max_replicas)) {
      throw new RayMcpError(
        'invalid_input',
        `Worker group ${w.group_name}: replicas (${replicas}) must lie between min_replicas and max_replicas.`,
        'Adjust replicas, min_replicas or max_replicas.',
      );
    }
  }
  const gpu = (input.head?.num_gpus ?? 0) > 0 || workers.some((w) => (w.num_gpus ?? 0) > 0);
  return {
    name: input.name,
    namespace: input.namespace,
    rayVersion,
    image: input.image ?? imageFor(rayVersion, gpu),
    head: input.head ?? {},
    workerGroups: workers.map((w) => {
      const { group_name, replicas, min_replicas, max_replicas, ...resources } = w;
      const r = replicas ?? 1;
      return {
        name: group_name,
        replicas: r,
        minReplicas: min_replicas ?? 0,
        maxReplicas: max_replicas ?? Math.max(r, 1),
        maxSet: max_replicas !== undefined,
        resources,
      };
    }),
    serviceType: input.service_type ?? 'ClusterIP',
  };
}

function container(name: string, image: string, r: z.output<typeof PodResourcesSchema>, head: boolean) {
  const cpu = r.num_cpus ?? '1';
  const memory = r.memory ?? '2Gi';
  const limits: Record<string, string> = { cpu, memory };
  if (r.num_gpus) limits['nvidia.com/gpu'] = String(r.num_gpus);
  return {
    name,
    image,
    resources: { requests: { ...limits }, limits },
    ...(head && {
      ports: [
        { containerPort: 6379, name: 'gcs-server' },
        { containerPort: 8265, name: 'dashboard' },
        { containerPort: 10001, name: 'client' },
        { containerPort: 8080, name: 'metrics' },
      ],
    }),
    // Ray stops gracefully before the pod goes away.
    lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', 'ray stop'] } } },
  };
}

function podSpec(c: ReturnType<typeof container>, r: z.output<typeof PodResourcesSchema>) {
  return {
    containers: [c],
    ...(r.gpu_type && { nodeSelector: { 'cloud.google.com/gke-accelerator': r.gpu_type } }),
    ...((r.num_gpus ?? 0) > 0 && {
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    }),
  };
}

/** The RayCluster manifest for server-side apply. */
export function rayClusterManifest(spec: KubeRayClusterSpec) {
  const labels = { [MANAGED_BY.key]: MANAGED_BY.value };
  return {
    apiVersion: RAY_API,
    kind: 'RayCluster',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels,
      annotations: {
        [MAX_SET_ANNOTATION]: spec.workerGroups
          .filter((g) => g.maxSet)
          .map((g) => g.name)
          .join(','),
      },
    },
    spec: {
      rayVersion: spec.rayVersion,
      headGroupSpec: {
        serviceType: spec.serviceType,
        rayStartParams: { 'dashboard-host': '0.0.0.0', 'num-cpus': cpuCount(spec.head.num_cpus ?? '1') },
        template: {
          metadata: { labels },
          spec: podSpec(container('ray-head', spec.image, spec.head, true), spec.head),
        },
      },
      workerGroupSpecs: spec.workerGroups.map((g) => ({
        groupName: g.name,
        replicas: g.replicas,
        minReplicas: g.minReplicas,
        maxReplicas: g.maxReplicas,
        rayStartParams: {},
        template: {
          metadata: { labels },
          spec: podSpec(container('ray-worker', spec.image, g.resources, false), g.resources),
        },
      })),
    },
  };
}

/** Ray wants whole CPUs; a request of 500m still gets one logical CPU. */
function cpuCount(q: string): string {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(q);
  if (!m) return '1';
  const cpus = m[2] ? Number(m[1]) / 1000 : Number(m[1]);
  return String(Math.max(1, Math.floor(cpus)));
}

// ---- Summaries of what the API server says ----

export interface PodSummary {
  namespace: string;
  name: string;
  cluster: string;
  group: string;
  nodeType: 'head' | 'worker';
  phase: string;
  ready: boolean;
  /** When its Ready condition last turned true (ms), as Kubernetes recorded it. */
  readyAt?: number;
  podIP?: string;
  node?: string;
  restarts: number;
  /** Why it is not running: Unschedulable, ImagePullBackOff, CrashLoopBackOff, OOMKilled... */
  reason?: string;
  message?: string;
  deleting: boolean;
}

export interface WorkerGroupStatus {
  name: string;
  replicas: number;
  minReplicas: number;
  maxReplicas: number;
  workersToDelete: string[];
}

export interface RayClusterSummary {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  createdAt?: string;
  managedByUs: boolean;
  /** Labelled or annotated ray-mcp/protected=true: stop and delete refuse. */
  protected?: boolean;
  rayVersion?: string;
  state?: string;
  reason?: string;
  desiredWorkers: number;
  readyWorkers: number;
  availableWorkers: number;
  headPodName?: string;
  headServiceName: string;
  headReady: boolean;
  conditions: { type: string; status: string; reason?: string; message?: string }[];
  groups: WorkerGroupStatus[];
  deleting: boolean;
  /** Created by a RayJob (its name), which owns this cluster. */
  rayJob?: string;
  /** Worker groups whose max_replicas the user chose; undefined when ray-mcp did not mark it (every bound is the user's). */
  maxSetGroups?: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: raw API objects
type Obj = any;

/** The label or annotation that makes stop and delete refuse a RayCluster or RayJob, whatever the confirmation. */
export const PROTECTED_KEY = 'ray-mcp/protected';

/** Whether an object carries `ray-mcp/protected: "true"` as a label or an annotation. */
export const isProtectedObject = (o: Obj): boolean =>
  o?.metadata?.labels?.[PROTECTED_KEY] === 'true' || o?.metadata?.annotations?.[PROTECTED_KEY] === 'true';

export function summarizeRayCluster(o: Obj): RayClusterSummary {
  const spec = o.spec ?? {};
  const status = o.status ?? {};
  const conditions = (status.conditions ?? []).map((c: Obj) => ({
    type: c.type,
    status: c.status,
    reason: c.reason || undefined,
    message: c.message ? String(c.message).slice(0, 300) : undefined,
  }));
  const owner = (o.metadata.ownerReferences ?? []).find((r: Obj) => r.kind === 'RayJob');
  return {
    namespace: o.metadata.namespace,
    name: o.metadata.name,
    uid: o.metadata.uid,
    generation: o.metadata.generation ?? 0,
    createdAt: o.metadata.creationTimestamp,
    managedByUs: o.metadata.labels?.[MANAGED_BY.key] === MANAGED_BY.value,
    protected: isProtectedObject(o),
    rayVersion: spec.rayVersion,
    state: status.state || undefined,
    reason: status.reason || undefined,
    desiredWorkers: status.desiredWorkerReplicas ?? 0,
    readyWorkers: status.readyWorkerReplicas ?? 0,
    availableWorkers: status.availableWorkerReplicas ?? 0,
    headPodName: status.head?.podName,
    headServiceName:
      status.head?.serviceName ||
      spec.headGroupSpec?.headService?.metadata?.name ||
      `${o.metadata.name}-head-svc`,
    headReady: conditions.some(
      (c: { type: string; status: string }) => c.type === 'HeadPodReady' && c.status === 'True',
    ),
    conditions,
    groups: (spec.workerGroupSpecs ?? []).map((g: Obj) => ({
      name: g.groupName,
      replicas: g.replicas ?? 0,
      minReplicas: g.minReplicas ?? 0,
      maxReplicas: g.maxReplicas ?? 2147483647,
      workersToDelete: g.scaleStrategy?.workersToDelete ?? [],
    })),
    deleting: Boolean(o.metadata.deletionTimestamp),
    rayJob: owner?.name,
    maxSetGroups:
      typeof o.metadata.annotations?.[MAX_SET_ANNOTATION] === 'string'
        ? String(o.metadata.annotations[MAX_SET_ANNOTATION]).split(',').filter(Boolean)
        : undefined,
  };
}

export function summarizePod(o: Obj): PodSummary {
  const labels = o.metadata.labels ?? {};
  const status = o.status ?? {};
  const cs = (status.containerStatuses ?? [])[0] ?? {};
  const waiting = cs.state?.waiting;
  const terminated = cs.state?.terminated ?? cs.lastState?.terminated;
  const sched = (status.conditions ?? []).find((c: Obj) => c.type === 'PodScheduled' && c.status === 'False');
  const readyCondition = (status.conditions ?? []).find(
    (c: Obj) => c.type === 'Ready' && c.status === 'True',
  );
  const ready = readyCondition !== undefined;
  return {
    namespace: o.metadata.namespace ?? '',
    name: o.metadata.name,
    cluster: labels['ray.io/cluster'] ?? '',
    group: labels['ray.io/group'] ?? '',
    nodeType: labels['ray.io/node-type'] === 'head' ? 'head' : 'worker',
    phase: status.phase ?? 'Pending',
    ready,
    readyAt: ready ? Date.parse(readyCondition.lastTransitionTime) || undefined : undefined,
    podIP: status.podIP || undefined,
    node: o.spec?.nodeName || undefined,
    restarts: cs.restartCount ?? 0,
    reason: waiting?.reason ?? (ready ? undefined : terminated?.reason) ?? sched?.reason ?? undefined,
    message: (waiting?.message ?? sched?.message ?? undefined)?.slice(0, 300),
    deleting: Boolean(o.metadata.deletionTimestamp),
  };
}

export const RAYJOB_DEPLOYMENT_STATUSES = [
  'Initializing',
  'Running',
  'Complete',
  'Failed',
  'ValidationFailed',
  'Suspending',
  'Suspended',
  'Retrying',
  'Waiting',
  'New',
] as const;

export interface RayJobSummary {
  namespace: string;
  name: string;
  uid: string;
  managedByUs: boolean;
  /** Labelled or annotated ray-mcp/protected=true: delete refuses. */
  protected?: boolean;
  entrypoint: string;
  createdAt?: string;
  jobId?: string;
  jobStatus?: string;
  deploymentStatus?: string;
  reason?: string;
  message?: string;
  rayClusterName?: string;
  clusterSelector?: string;
  shutdownAfterJobFinishes: boolean;
  suspend: boolean;
  startTime?: string;
  endTime?: string;
  failed?: number;
  succeeded?: number;
  deleting: boolean;
}

export function summarizeRayJob(o: Obj): RayJobSummary {
  const spec = o.spec ?? {};
  const status = o.status ?? {};
  return {
    namespace: o.metadata.namespace,
    name: o.metadata.name,
    uid: o.metadata.uid,
    managedByUs: o.metadata.labels?.[MANAGED_BY.key] === MANAGED_BY.value,
    protected: isProtectedObject(o),
    entrypoint: String(spec.entrypoint ?? '').slice(0, 500),
    createdAt: o.metadata.creationTimestamp,
    jobId: status.jobId || spec.jobId || undefined,
    jobStatus: status.jobStatus || undefined,
    deploymentStatus: status.jobDeploymentStatus || undefined,
    reason: status.reason || undefined,
    message: status.message ? String(status.message).slice(0, 500) : undefined,
    rayClusterName: status.rayClusterName || undefined,
    clusterSelector: spec.clusterSelector?.['ray.io/cluster'],
    shutdownAfterJobFinishes: Boolean(spec.shutdownAfterJobFinishes),
    suspend: Boolean(spec.suspend),
    startTime: status.startTime || undefined,
    endTime: status.endTime || undefined,
    failed: status.failed,
    succeeded: status.succeeded,
    deleting: Boolean(o.metadata.deletionTimestamp),
  };
}

/** The RayJob manifest: its own cluster (rayClusterSpec) or an existing one (clusterSelector). */
export function rayJobManifest(input: {
  name: string;
  namespace: string;
  entrypoint: string;
  runtimeEnv?: Record<string, unknown>;
  metadata?: Record<string, string>;
  submissionId?: string;
  cluster?: KubeRayClusterSpec;
  clusterSelector?: string;
  shutdownAfterJobFinishes?: boolean;
  ttlSecondsAfterFinished?: number;
  activeDeadlineSeconds?: number;
  entrypointNumCpus?: number;
  entrypointNumGpus?: number;
  entrypointResources?: Record<string, number>;
}) {
  const labels = { [MANAGED_BY.key]: MANAGED_BY.value };
  const own = input.cluster ? rayClusterManifest(input.cluster).spec : undefined;
  const shutdown = input.clusterSelector ? false : (input.shutdownAfterJobFinishes ?? true);
  return {
    apiVersion: RAY_API,
    kind: 'RayJob',
    metadata: { name: input.name, namespace: input.namespace, labels },
    spec: {
      entrypoint: input.entrypoint,
      ...(input.runtimeEnv && { runtimeEnvYAML: JSON.stringify(input.runtimeEnv) }),
      ...(input.metadata && { metadata: input.metadata }),
      ...(input.submissionId && { jobId: input.submissionId }),
      ...(own ? { rayClusterSpec: own } : { clusterSelector: { 'ray.io/cluster': input.clusterSelector } }),
      shutdownAfterJobFinishes: shutdown,
      ...(shutdown &&
        input.ttlSecondsAfterFinished !== undefined && {
          ttlSecondsAfterFinished: input.ttlSecondsAfterFinished,
        }),
      ...(input.activeDeadlineSeconds && { activeDeadlineSeconds: input.activeDeadlineSeconds }),
      ...(input.entrypointNumCpus !== undefined && { entrypointNumCpus: input.entrypointNumCpus }),
      ...(input.entrypointNumGpus !== undefined && { entrypointNumGpus: input.entrypointNumGpus }),
      // KubeRay takes custom entrypoint resources as a JSON string.
      ...(input.entrypointResources && { entrypointResources: JSON.stringify(input.entrypointResources) }),
    },
  };
}

/** API paths. */
export const paths = {
  rayClusters: (ns?: string) =>
    ns ? `/apis/ray.io/v1/namespaces/${ns}/rayclusters` : '/apis/ray.io/v1/rayclusters',
  rayCluster: (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayclusters/${name}`,
  rayJobs: (ns?: string) => (ns ? `/apis/ray.io/v1/namespaces/${ns}/rayjobs` : '/apis/ray.io/v1/rayjobs'),
  rayJob: (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayjobs/${name}`,
  rayServices: (ns?: string) =>
    ns ? `/apis/ray.io/v1/namespaces/${ns}/rayservices` : '/apis/ray.io/v1/rayservices',
  rayService: (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayservices/${name}`,
  pods: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods'),
  dashboardProxy: (server: string, ns: string, service: string) =>
    `${server}/api/v1/namespaces/${ns}/services/${service}:dashboard/proxy`,
};

/** The Kubernetes resources the informers watch. */
export type KubeResource = 'rayclusters' | 'rayjobs' | 'pods' | 'rayservices';

/** What the informers tell a Kubernetes connection. */
export type InformerEvent =
  | { type: 'k8s.synced'; resource: 'rayclusters'; namespace: string; items: RayClusterSummary[] }
  | { type: 'k8s.synced'; resource: 'rayjobs'; namespace: string; items: RayJobSummary[] }
  | { type: 'k8s.synced'; resource: 'pods'; namespace: string; items: PodSummary[] }
  | { type: 'k8s.synced'; resource: 'rayservices'; namespace: string; items: RayServiceSummary[] }
  | { type: 'k8s.upsert'; resource: 'rayclusters'; item: RayClusterSummary }
  | { type: 'k8s.upsert'; resource: 'rayjobs'; item: RayJobSummary }
  | { type: 'k8s.upsert'; resource: 'pods'; item: PodSummary }
  | { type: 'k8s.upsert'; resource: 'rayservices'; item: RayServiceSummary }
  | { type: 'k8s.delete'; resource: KubeResource; namespace: string; name: string }
  | {
      type: 'k8s.watchError';
      resource: KubeResource;
      namespace: string;
      status?: number;
      message: string;
      retryInMs: number;
      /** When the list or watch failed (ms). */
      at: number;
    };
