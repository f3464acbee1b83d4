/**
 * RayJob custom resources for the job tools: submit one (its own RayCluster, or an existing one
 * by clusterSelector), find and follow one, cancel it (suspend, stop or delete), wait for it, and
 * list them. Every function reads the Kubernetes connection's informer cache or asks a `rayjob:`
 * actor; none calls Kubernetes itself.
 */
import { z } from 'zod';
import { isKubeRay } from '../../actors/cluster-records.js';
import type { RaySystem } from '../../actors/system.js';
import { RayMcpError } from '../../domain/errors.js';
import { JOB_STATUSES, type JobStatus, type JobView, type RuntimeEnvInput } from '../../domain/jobs.js';
import {
  NamespaceSchema,
  PodResourcesSchema,
  RAYJOB_DEPLOYMENT_STATUSES,
  type RayJobSummary,
  rayJobManifest,
  toKubeRaySpec,
  WorkerGroupSpecSchema,
} from '../../domain/kuberay.js';
import type { KubeConnectionActor } from '../../machines/kube-connection.machine.js';
import { type RayJobActor, type RayJobCancelMode, rayJobEnded } from '../../machines/rayjob.machine.js';
import { clusterView, resolveCluster } from './cluster-view.js';
import { resolveConnection } from './kube-view.js';
import { defineTool, type ToolContext } from './tool.js';

/** KubeRay names the RayJob's cluster `<name>-<5 chars>` and its services after that: 47 at most. */
export const RayJobNameSchema = z
  .string()
  .regex(
    /^[a-z]([-a-z0-9]{0,45}[a-z0-9])?$/,
    'a RayJob name is 1-47 lowercase letters, digits and dashes, starting with a letter',
  );

/** The RayJob's resource; the context is URI-encoded (cloud connection ids hold `:` and `/`). */
export const rayJobUri = (context: string, namespace: string, name: string) =>
  `ray://kubernetes/${encodeURIComponent(context)}/namespaces/${namespace}/rayjobs/${name}`;

export const RayJobRefSchema = z
  .object({
    name: z.string(),
    namespace: z.string(),
    context: z.string().describe('The Kubernetes connection'),
    deployment_status: z.string().optional().describe("KubeRay's jobDeploymentStatus"),
    reason: z.string().optional(),
    ray_cluster: z.string().optional().describe('The RayCluster that runs it'),
    cluster_selector: z.string().optional().describe('Runs on this existing RayCluster'),
    owned: z.boolean().describe('Created by ray-mcp'),
    suspended: z.boolean(),
    shutdown_after_job_finishes: z.boolean(),
    deleting: z.boolean(),
    created_at: z.string().optional(),
    uri: z.string().describe('Its MCP resource: subscribe to hear when its status changes'),
  })
  .describe('KubeRay: the RayJob custom resource');
export type RayJobRef = z.infer<typeof RayJobRefSchema>;

/** The arguments that name a RayJob (inspect, cancel, wait). */
export const rayJobArgs = {
  rayjob: RayJobNameSchema.optional().describe(
    'KubeRay: a RayJob custom resource by name, instead of a job on a cluster (list_kuberay_jobs shows them)',
  ),
  namespace: NamespaceSchema.optional().describe("KubeRay: the RayJob's namespace (default: the context's)"),
  kubernetes_context: z
    .string()
    .min(1)
    .optional()
    .describe('KubeRay: the Kubernetes connection/context (default: the current connection)'),
};

/** submit_ray_job's arguments for a RayJob. */
export const rayJobSubmitArgs = {
  job_type: z
    .enum(['ray', 'rayjob', 'kuberay', 'kubernetes', 'local', 'auto'])
    .optional()
    .describe(
      '"rayjob" (alias kuberay, kubernetes) submits a KubeRay RayJob custom resource; default "ray" submits to the cluster\'s dashboard',
    ),
  ...rayJobArgs,
  rayjob_cluster: z
    .object({
      ray_version: z
        .string()
        .regex(/^\d+\.\d+\.\d+$/)
        .optional(),
      image: z.string().min(3).max(300).optional(),
      head_node_spec: PodResourcesSchema.optional(),
      worker_node_specs: z.array(WorkerGroupSpecSchema).max(16).optional(),
    })
    .strict()
    .optional()
    .describe(
      'RayJob: the cluster KubeRay creates for it (when cluster_id does not name an existing KubeRay cluster)',
    ),
  shutdown_after_job_finishes: z
    .boolean()
    .optional()
    .describe('RayJob: delete its own cluster when the job ends (default true)'),
  ttl_seconds_after_finished: z
    .number()
    .int()
    .min(0)
    .max(7 * 86400)
    .optional()
    .describe('RayJob: keep the cluster this long after the end'),
  active_deadline_seconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86400)
    .optional()
    .describe('RayJob: fail it after this long'),
};

export function isRayJobMode(args: {
  job_type?: string;
  rayjob?: string;
  rayjob_cluster?: unknown;
}): boolean {
  if (args.job_type && ['rayjob', 'kuberay', 'kubernetes'].includes(args.job_type)) return true;
  const auto = args.job_type === undefined || args.job_type === 'auto';
  return auto && (args.rayjob !== undefined || args.rayjob_cluster !== undefined);
}

const key = (ns: string, name: string) => `${ns}/${name}`;

/** What a RayJob says about its Ray job, in the shape of the other job tools. */
export function rayJobJobView(s: RayJobSummary): JobView {
  let status: JobStatus = 'PENDING';
  if (s.jobStatus && (JOB_STATUSES as readonly string[]).includes(s.jobStatus))
    status = s.jobStatus as JobStatus;
  else if (s.deploymentStatus === 'Failed' || s.deploymentStatus === 'ValidationFailed') status = 'FAILED';
  else if (s.deploymentStatus === 'Suspended') status = 'STOPPED';
  const start = s.startTime ? Date.parse(s.startTime) : undefined;
  const end = s.endTime ? Date.parse(s.endTime) : undefined;
  return {
    submission_id: s.jobId ?? s.name,
    job_id: s.jobId,
    cluster_id: s.rayClusterName ?? s.clusterSelector ?? '',
    status,
    entrypoint: s.entrypoint,
    message: s.message ?? s.reason,
    start_time: s.startTime,
    end_time: s.endTime,
    duration_seconds: start && end ? Math.round((end - start) / 100) / 10 : undefined,
  };
}

export function rayJobRef(s: RayJobSummary, connectionId: string): RayJobRef {
  return {
    name: s.name,
    namespace: s.namespace,
    context: connectionId,
    deployment_status: s.deploymentStatus,
    reason: s.reason,
    ray_cluster: s.rayClusterName,
    cluster_selector: s.clusterSelector,
    owned: s.managedByUs,
    suspended: s.suspend,
    shutdown_after_job_finishes: s.shutdownAfterJobFinishes,
    deleting: s.deleting,
    created_at: s.createdAt,
    uri: rayJobUri(connectionId, s.namespace, s.name),
  };
}

/** The connection and namespace of a RayJob call, with the namespace's RayJobs listed. */
async function rayJobScope(
  system: RaySystem,
  args: { namespace?: string; kubernetes_context?: string },
  signal: AbortSignal,
  allNamespaces = false,
): Promise<{ conn: KubeConnectionActor; namespace: string }> {
  const conn = await resolveConnection(system, args.kubernetes_context, signal);
  const session = conn.getSnapshot().context.session!;
  if (!session.crdsInstalled) {
    throw new RayMcpError(
      'unavailable',
      `The KubeRay CRDs are not installed on ${session.context} (no ray.io/v1 RayJob).`,
      'Install the KubeRay operator (helm install kuberay-operator kuberay/kuberay-operator), then connect again.',
    );
  }
  const namespace = allNamespaces ? '' : (args.namespace ?? session.namespace);
  await system.ask(conn, { type: 'kube.watchNamespace', namespace }, { signal });
  await system.ask(
    conn,
    { type: 'kube.awaitSynced', namespace, resource: 'rayjobs' },
    { signal, timeoutMs: 30_000 },
  );
  return { conn, namespace };
}

export interface FoundRayJob {
  conn: KubeConnectionActor;
  connectionId: string;
  summary: RayJobSummary;
  actor: RayJobActor;
}

/** The RayJob named by the arguments, followed by a `rayjob:` actor (spawned on first use). */
export async function findRayJob(
  system: RaySystem,
  args: { rayjob?: string; namespace?: string; kubernetes_context?: string },
  signal: AbortSignal,
): Promise<FoundRayJob> {
  const name = args.rayjob!;
  const { conn, namespace } = await rayJobScope(system, args, signal);
  const c = conn.getSnapshot().context;
  const summary = c.rayJobs[key(namespace, name)];
  if (!summary) {
    const names = Object.values(c.rayJobs)
      .filter((j) => j.namespace === namespace)
      .map((j) => j.name)
      .slice(0, 20);
    throw new RayMcpError(
      'not_found',
      `No RayJob ${name} in namespace ${namespace} of ${c.id}.`,
      names.length
        ? `RayJobs there: ${names.join(', ')}. Or pass namespace for another namespace.`
        : 'list_kuberay_jobs shows the RayJobs (all_namespaces=true for every namespace).',
    );
  }
  const { data } = await system.askForAnswer(
    conn,
    { type: 'kube.rayJob', namespace, name, owned: summary.managedByUs },
    { signal },
  );
  return { conn, connectionId: c.id, summary, actor: system.get<RayJobActor>(data.systemId!)! };
}

function latest(found: FoundRayJob): RayJobSummary {
  return found.actor.getSnapshot().context.summary ?? found.summary;
}

export async function submitRayJobCr(
  ctx: Pick<ToolContext, 'system' | 'signal'>,
  args: {
    cluster_id?: string;
    entrypoint: string;
    submission_id?: string;
    runtime_env?: RuntimeEnvInput;
    metadata?: Record<string, string>;
    entrypoint_num_cpus?: number;
    entrypoint_num_gpus?: number;
    entrypoint_memory?: number;
    entrypoint_resources?: Record<string, number>;
  } & { [K in keyof typeof rayJobSubmitArgs]?: z.output<(typeof rayJobSubmitArgs)[K]> },
): Promise<{ view: JobView; rayjob: RayJobRef; existed: boolean }> {
  const { system, signal } = ctx;
  const dir = args.runtime_env?.working_dir;
  if (dir && !/^[a-z][a-z0-9+.-]*:\/\//i.test(dir)) {
    throw new RayMcpError(
      'invalid_input',
      `A RayJob cannot take the local folder ${dir} as working_dir: KubeRay submits the job from inside the cluster.`,
      'Use a remote URI (gcs://, s3://, https://...zip), or submit with job_type "ray" to a running KubeRay cluster (the folder is uploaded for you).',
    );
  }
  if (args.runtime_env?.excludes) {
    throw new RayMcpError(
      'invalid_input',
      'excludes apply to a local working_dir only.',
      'Leave excludes out for a RayJob.',
    );
  }
  if (args.entrypoint_memory !== undefined) {
    throw new RayMcpError(
      'invalid_input',
      'A RayJob has no entrypoint_memory.',
      'Use entrypoint_resources, or submit with job_type "ray" to a running KubeRay cluster.',
    );
  }
  // An existing KubeRay cluster (cluster_id) runs it by clusterSelector; else it gets its own.
  let selector: { name: string; namespace: string; connectionId: string } | undefined;
  if (args.cluster_id) {
    const actor = resolveCluster(system, args.cluster_id);
    if (!isKubeRay(actor)) {
      throw new RayMcpError(
        'invalid_input',
        `${args.cluster_id} is not a KubeRay cluster; a RayJob runs on Kubernetes.`,
        'Leave job_type out to submit to it directly, or name a KubeRay cluster (or none: the RayJob then gets its own).',
      );
    }
    if (args.rayjob_cluster) {
      throw new RayMcpError(
        'invalid_input',
        'Pass cluster_id (an existing cluster) or rayjob_cluster (a cluster of its own), not both.',
        'Drop one of them.',
      );
    }
    const c = actor.getSnapshot().context;
    selector = { name: c.name, namespace: c.namespace, connectionId: c.connectionId };
    if (args.namespace && args.namespace !== c.namespace) {
      throw new RayMcpError(
        'invalid_input',
        `Cluster ${args.cluster_id} is in namespace ${c.namespace}, not ${args.namespace}.`,
        'A RayJob runs in the namespace of its cluster: drop namespace.',
      );
    }
  }
  const { conn, namespace } = await rayJobScope(
    system,
    {
      namespace: selector?.namespace ?? args.namespace,
      kubernetes_context: selector?.connectionId ?? args.kubernetes_context,
    },
    signal,
  );
  const connectionId = conn.getSnapshot().context.id;
  const name =
    args.rayjob ??
    (args.submission_id && RayJobNameSchema.safeParse(args.submission_id.toLowerCase()).success
      ? args.submission_id.toLowerCase()
      : `rayjob-${Date.now().toString(36)}`);
  const existing = conn.getSnapshot().context.rayJobs[key(namespace, name)];
  if (existing) {
    if (existing.managedByUs && existing.entrypoint === args.entrypoint.slice(0, 500)) {
      const found = await findRayJob(
        system,
        { rayjob: name, namespace, kubernetes_context: connectionId },
        signal,
      );
      const s = latest(found);
      return { view: rayJobJobView(s), rayjob: rayJobRef(s, connectionId), existed: true };
    }
    throw new RayMcpError(
      'conflict',
      `A RayJob ${namespace}/${name} already exists${existing.managedByUs ? ' with another entrypoint' : ' and ray-mcp did not create it'}.`,
      'Pick another rayjob name, or follow that one with inspect_ray_job (rayjob=name).',
    );
  }
  const entrypointResources = args.entrypoint_resources;
  const manifest = rayJobManifest({
    name,
    namespace,
    entrypoint: args.entrypoint,
    runtimeEnv: args.runtime_env as Record<string, unknown> | undefined,
    metadata: args.metadata,
    submissionId: args.submission_id,
    clusterSelector: selector?.name,
    cluster: selector
      ? undefined
      : toKubeRaySpec({
          name,
          namespace,
          ray_version: args.rayjob_cluster?.ray_version,
          image: args.rayjob_cluster?.image,
          head: args.rayjob_cluster?.head_node_spec,
          workers: args.rayjob_cluster?.worker_node_specs,
        }),
    shutdownAfterJobFinishes: args.shutdown_after_job_finishes,
    ttlSecondsAfterFinished: args.ttl_seconds_after_finished,
    activeDeadlineSeconds: args.active_deadline_seconds,
    entrypointNumCpus: args.entrypoint_num_cpus,
    entrypointNumGpus: args.entrypoint_num_gpus,
    entrypointResources,
  });
  const { data } = await system.askForAnswer(
    conn,
    { type: 'kube.rayJob', namespace, name, manifest, owned: true },
    { signal },
  );
  const actor = system.get<RayJobActor>(data.systemId!)!;
  await system.ask(actor, { type: 'rayjob.awaitSubmitted' }, { signal, timeoutMs: 60_000 });
  const s = actor.getSnapshot().context.summary!;
  return { view: rayJobJobView(s), rayjob: rayJobRef(s, connectionId), existed: false };
}

export async function inspectRayJobCr(
  ctx: Pick<ToolContext, 'system' | 'signal'>,
  args: Parameters<typeof findRayJob>[1],
) {
  const found = await findRayJob(ctx.system, args, ctx.signal);
  const s = latest(found);
  return { view: rayJobJobView(s), rayjob: rayJobRef(s, found.connectionId) };
}

/**
 * The cluster and submission id of a RayJob's Ray job, for the tools that read it through the
 * dashboard (logs). The RayJob's cluster is attached as a cluster ray-mcp does not own: KubeRay
 * decides its life, so stop_ray_cluster never deletes it as the current cluster.
 */
export async function rayJobRayTarget(
  system: RaySystem,
  args: Parameters<typeof findRayJob>[1],
  signal: AbortSignal,
): Promise<{ clusterId: string; submissionId: string; rayjob: RayJobRef }> {
  const found = await findRayJob(system, args, signal);
  const s = latest(found);
  const clusterName = s.clusterSelector ?? s.rayClusterName;
  const ref = rayJobRef(s, found.connectionId);
  if (!clusterName || !s.jobId) {
    throw new RayMcpError(
      'conflict',
      `RayJob ${s.namespace}/${s.name} has no Ray job yet (${s.deploymentStatus ?? 'New'}).`,
      'Wait for it to start: wait_for_ray_job or inspect_ray_job with rayjob=name.',
    );
  }
  const actor = system.cluster(clusterName);
  if (actor && clusterView(actor).status !== 'stopped') {
    const c = actor.getSnapshot().context as { connectionId?: string; namespace?: string; name?: string };
    if (c.connectionId !== found.connectionId || c.namespace !== s.namespace || c.name !== clusterName) {
      throw new RayMcpError(
        'conflict',
        `ray-mcp already has another cluster named ${clusterName}.`,
        'Stop or rename that one, then try again.',
      );
    }
  } else {
    await system.askForAnswer(system.root, {
      type: 'cluster.create',
        at: Date.now(),
      id: clusterName,
      kuberay: {
        connectionId: found.connectionId,
        namespace: s.namespace,
        name: clusterName,
        owned: false,
        timeoutMs: 120_000,
      },
    });
  }
  return { clusterId: clusterName, submissionId: s.jobId, rayjob: ref };
}

/** How a RayJob is cancelled when the caller does not say: suspend what has its own cluster, else stop. */
function defaultMode(s: RayJobSummary): RayJobCancelMode {
  return s.shutdownAfterJobFinishes && !s.clusterSelector ? 'suspend' : 'stop';
}

export async function cancelRayJobCr(
  ctx: Pick<ToolContext, 'system' | 'signal'>,
  args: Parameters<typeof findRayJob>[1] & { mode?: RayJobCancelMode },
): Promise<{ view: JobView; rayjob: RayJobRef; alreadyEnded: boolean; mode: RayJobCancelMode }> {
  const { system, signal } = ctx;
  const found = await findRayJob(system, args, signal);
  const before = latest(found);
  const mode = args.mode ?? defaultMode(before);
  if (mode === 'suspend' && (!before.shutdownAfterJobFinishes || before.clusterSelector)) {
    throw new RayMcpError(
      'invalid_input',
      `RayJob ${before.namespace}/${before.name} runs on ${before.clusterSelector ? `the existing cluster ${before.clusterSelector}` : 'a cluster it keeps'}, so KubeRay cannot suspend it.`,
      'Use mode "stop" (stops the Ray job through the dashboard) or mode "delete" (deletes the RayJob).',
    );
  }
  const alreadyEnded = mode !== 'delete' && rayJobEnded(before);
  if (!alreadyEnded) {
    await system.ask(found.actor, { type: 'rayjob.cancel', mode }, { signal, timeoutMs: 30_000 });
    // Suspend and delete: wait briefly for KubeRay to act (Suspended, or gone). A stopped Ray job
    // reaches the RayJob's status on KubeRay's next status check; nothing to wait for here.
    if (mode !== 'stop') {
      await system
        .ask(found.actor, { type: 'rayjob.awaitEnd' }, { signal, timeoutMs: 15_000 })
        .catch(() => undefined);
    }
  }
  const s = latest(found);
  const gone = found.actor.getSnapshot().matches('gone');
  return {
    view: rayJobJobView(s),
    rayjob: { ...rayJobRef(s, found.connectionId), deleting: gone || s.deleting },
    alreadyEnded,
    mode,
  };
}

/** Waits for a RayJob to end; `onChange` sees each new status. */
export async function waitRayJobCr(
  ctx: Pick<ToolContext, 'system' | 'signal'>,
  args: Parameters<typeof findRayJob>[1],
  timeoutMs: number,
  onChange: (s: RayJobSummary) => void,
): Promise<{ view: JobView; rayjob: RayJobRef; ended: boolean }> {
  const { system, signal } = ctx;
  const found = await findRayJob(system, args, signal);
  let ended = true;
  try {
    await system.ask(
      found.actor,
      { type: 'rayjob.awaitEnd' },
      {
        signal,
        timeoutMs,
        onSnapshot: () => onChange(latest(found)),
      },
    );
  } catch (err) {
    if (!(err instanceof RayMcpError && err.code === 'timeout') || signal.aborted) throw err;
    ended = false;
  }
  const s = latest(found);
  return { view: rayJobJobView(s), rayjob: rayJobRef(s, found.connectionId), ended };
}

export function rayJobText(s: { view: JobView; rayjob: RayJobRef }): string {
  const r = s.rayjob;
  return (
    `RayJob ${r.namespace}/${r.name} (context ${r.context}): ${r.deployment_status ?? 'New'}, Ray job ${s.view.status}` +
    (r.ray_cluster ? ` on ${r.ray_cluster}` : '') +
    (s.view.message ? ` — ${s.view.message.slice(0, 200)}` : '')
  );
}

const RowSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  deployment_status: z.string().optional(),
  job_status: z.string().optional(),
  ray_cluster: z.string().optional(),
  entrypoint: z.string(),
  owned: z.boolean(),
  created_at: z.string().optional(),
  message: z.string().optional(),
});

export const listKuberayJobs = defineTool({
  name: 'list_kuberay_jobs',
  title: 'List KubeRay RayJobs',
  description:
    'The RayJob custom resources of a namespace (or all namespaces) on a Kubernetes connection, newest first, in ' +
    'compact rows: KubeRay deployment status, Ray job status, the RayCluster running it, whether ray-mcp created it. ' +
    'Page with the cursor the result gives. inspect_ray_job, wait_for_ray_job and cancel_ray_job take rayjob=name.',
  input: z
    .object({
      namespace: NamespaceSchema.optional().describe("The namespace (default: the context's)"),
      all_namespaces: z.boolean().optional().describe('Every namespace the credentials can list'),
      kubernetes_context: rayJobArgs.kubernetes_context,
      deployment_status: z
        .array(z.enum(RAYJOB_DEPLOYMENT_STATUSES))
        .min(1)
        .optional()
        .describe('Only RayJobs in these KubeRay states'),
      limit: z.number().int().min(1).max(100).optional().describe('Rows per page (default 20)'),
      cursor: z
        .string()
        .regex(/^o:\d+$/, 'use the next_cursor of a previous list_kuberay_jobs')
        .optional(),
    })
    .strict(),
  output: z.object({
    context: z.string(),
    namespace: z.string().describe('The namespace listed; "" for all'),
    rayjobs: z.array(RowSchema),
    total: z.number(),
    next_cursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { system, signal }) {
    if (args.all_namespaces && args.namespace) {
      throw new RayMcpError(
        'invalid_input',
        'Pass namespace or all_namespaces, not both.',
        'Drop one of them.',
      );
    }
    const { conn, namespace } = await rayJobScope(system, args, signal, args.all_namespaces === true);
    const c = conn.getSnapshot().context;
    const all = Object.values(c.rayJobs)
      .filter((j) => !namespace || j.namespace === namespace)
      .filter(
        (j) =>
          !args.deployment_status ||
          (args.deployment_status as string[]).includes(j.deploymentStatus ?? 'New'),
      )
      .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.name.localeCompare(b.name));
    const limit = args.limit ?? 20;
    const offset = args.cursor ? Number(args.cursor.slice(2)) : 0;
    const rows = all.slice(offset, offset + limit).map((j) => ({
      name: j.name,
      namespace: j.namespace,
      deployment_status: j.deploymentStatus,
      job_status: j.jobStatus,
      ray_cluster: j.rayClusterName ?? j.clusterSelector,
      entrypoint: j.entrypoint.length > 120 ? `${j.entrypoint.slice(0, 120)}…` : j.entrypoint,
      owned: j.managedByUs,
      created_at: j.createdAt,
      message: j.message?.slice(0, 200),
    }));
    const next = offset + limit < all.length ? `o:${offset + limit}` : undefined;
    const where = namespace ? `namespace ${namespace}` : 'all namespaces';
    const counts = new Map<string, number>();
    for (const j of all)
      counts.set(j.deploymentStatus ?? 'New', (counts.get(j.deploymentStatus ?? 'New') ?? 0) + 1);
    return {
      structured: { context: c.id, namespace, rayjobs: rows, total: all.length, next_cursor: next },
      text: all.length
        ? `${all.length} RayJob(s) in ${where} (context ${c.id}): ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}.${next ? ' More with next_cursor.' : ''}`
        : `No RayJobs in ${where} (context ${c.id}).`,
    };
  },
});
