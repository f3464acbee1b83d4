/**
 * The KubeRay side of the job tools: submit a RayJob (its own RayCluster, or an existing one by
 * clusterSelector), find and follow one, cancel it (suspend, stop or delete), wait for it, list
 * them, and attach a RayJob's cluster to read its Ray job. Every step reads a Kubernetes
 * connection's informer cache or asks a `rayjob:` actor; none calls Kubernetes itself.
 */
import { RayMcpError } from '../../domain/errors.js';
import { type RayJobSummary, rayJobManifest, toKubeRaySpec } from '../../domain/kuberay.js';
import type { JobOperations, StatusCounts } from '../../domain/operations/jobs.js';
import {
  type CancelJobOutput,
  type InspectJobOutput,
  type RayJobArgs,
  RayJobNameSchema,
  type RayJobRef,
  rayJobSignature,
  type SubmitJobInput,
  type SubmitJobOutput,
  type WaitJobOutput,
} from '../../domain/tools/jobs.js';
import type { KubeConnectionActor } from '../../machines/kube-connection.machine.js';
import { type RayJobActor, type RayJobCancelMode, rayJobEnded } from '../../machines/rayjob.machine.js';
import { isKubeRay } from '../cluster-records.js';
import { clusterView } from '../views/cluster.view.js';
import { rayJobResult } from '../views/rayjob.view.js';
import type { FlowsOf } from './flow.js';
import { kubeEventsOf } from './kube-events.js';
import type { Ops } from './ops.js';
import { requireKubeRay, resolveCluster, resolveConnection } from './resolve.js';
import { waitWithProgress } from './wait.js';

const SYNC_TIMEOUT_MS = 30_000;
const SUBMITTED_TIMEOUT_MS = 60_000;
const CANCEL_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 15_000;
const NAMED_CLUSTER_TIMEOUT_MS = 10_000;

const key = (ns: string, name: string) => `${ns}/${name}`;

/** submit_ray_job means a RayJob: job_type says so, or (auto) a RayJob option is given. */
export function isRayJobMode(args: {
  job_type?: string;
  rayjob?: string;
  rayjob_cluster?: unknown;
}): boolean {
  if (args.job_type && ['rayjob', 'kuberay', 'kubernetes'].includes(args.job_type)) return true;
  const auto = args.job_type === undefined || args.job_type === 'auto';
  return auto && (args.rayjob !== undefined || args.rayjob_cluster !== undefined);
}

/** The connection and namespace of a RayJob call, with the namespace's RayJobs listed. */
async function rayJobScope(
  ops: Ops,
  args: { namespace?: string; kubernetes_context?: string },
  allNamespaces = false,
): Promise<{ conn: KubeConnectionActor; namespace: string }> {
  const conn = await resolveConnection(ops, args.kubernetes_context);
  requireKubeRay(conn, 'RayJob');
  const session = conn.getSnapshot().context.session!;
  const namespace = allNamespaces ? '' : (args.namespace ?? session.namespace);
  await ops.ask(conn, { type: 'kube.watchNamespace', namespace });
  await ops.ask(
    conn,
    { type: 'kube.awaitSynced', namespace, resource: 'rayjobs' },
    { timeoutMs: SYNC_TIMEOUT_MS },
  );
  return { conn, namespace };
}

interface FoundRayJob {
  connectionId: string;
  summary: RayJobSummary;
  actor: RayJobActor;
  systemId: string;
}

/** The RayJob named by the arguments, followed by a `rayjob:` actor (spawned on first use). */
async function findRayJob(ops: Ops, args: RayJobArgs): Promise<FoundRayJob> {
  const name = args.rayjob!;
  const { conn, namespace } = await rayJobScope(ops, args);
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
  const { data } = await ops.askForAnswer(conn, {
    type: 'kube.rayJob',
    namespace,
    name,
    owned: summary.managedByUs,
  });
  const actor = ops.get<RayJobActor>(data.systemId);
  if (!actor)
    throw new RayMcpError('unavailable', `RayJob ${namespace}/${name} is not followed.`, 'Try again.');
  return { connectionId: c.id, summary, actor, systemId: data.systemId };
}

const latest = (found: FoundRayJob): RayJobSummary =>
  found.actor.getSnapshot().context.summary ?? found.summary;

function refuseForRayJob(args: SubmitJobInput): void {
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
}

/** The existing KubeRay cluster (cluster_id) that runs the RayJob by clusterSelector; none: it gets its own. */
function selectorOf(ops: Ops, args: SubmitJobInput) {
  if (!args.cluster_id) return undefined;
  const actor = resolveCluster(ops, args.cluster_id);
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
  if (args.namespace && args.namespace !== c.namespace) {
    throw new RayMcpError(
      'invalid_input',
      `Cluster ${args.cluster_id} is in namespace ${c.namespace}, not ${args.namespace}.`,
      'A RayJob runs in the namespace of its cluster: drop namespace.',
    );
  }
  return { name: c.name, namespace: c.namespace, connectionId: c.connectionId };
}

/** The RayJob's name: the one given, else the submission id when it makes a valid name, else a fresh one. */
function rayJobName(ops: Ops, args: SubmitJobInput): string {
  if (args.rayjob) return args.rayjob;
  const sid = args.submission_id?.toLowerCase();
  return sid && RayJobNameSchema.safeParse(sid).success ? sid : `rayjob-${ops.now().toString(36)}`;
}

export async function submitRayJob(ops: Ops, args: SubmitJobInput): Promise<SubmitJobOutput> {
  refuseForRayJob(args);
  const selector = selectorOf(ops, args);
  const { conn, namespace } = await rayJobScope(ops, {
    namespace: selector?.namespace ?? args.namespace,
    kubernetes_context: selector?.connectionId ?? args.kubernetes_context,
  });
  const connectionId = conn.getSnapshot().context.id;
  const name = rayJobName(ops, args);
  const existing = conn.getSnapshot().context.rayJobs[key(namespace, name)];
  if (existing) {
    if (existing.managedByUs && existing.entrypoint === args.entrypoint.slice(0, 500)) {
      const found = await findRayJob(ops, { rayjob: name, namespace, kubernetes_context: connectionId });
      const { view, rayjob } = rayJobResult(latest(found), connectionId);
      return { ...view, existed: true, rayjob };
    }
    throw new RayMcpError(
      'conflict',
      `A RayJob ${namespace}/${name} already exists${existing.managedByUs ? ' with another entrypoint' : ' and ray-mcp did not create it'}.`,
      'Pick another rayjob name, or follow that one with inspect_ray_job (rayjob=name).',
    );
  }
  const own = args.rayjob_cluster;
  const manifest = rayJobManifest({
    name,
    namespace,
    entrypoint: args.entrypoint,
    runtimeEnv: args.runtime_env as Record<string, unknown> | undefined,
    metadata: args.metadata,
    // One id in every result: the Ray job's id is fixed now (KubeRay would make up `<name>-xxxxx`).
    submissionId: args.submission_id ?? name,
    clusterSelector: selector?.name,
    cluster: selector
      ? undefined
      : toKubeRaySpec({
          name,
          namespace,
          ray_version: own?.ray_version,
          image: own?.image,
          head: own?.head_node_spec,
          workers: own?.worker_node_specs,
        }),
    shutdownAfterJobFinishes: args.shutdown_after_job_finishes,
    ttlSecondsAfterFinished: args.ttl_seconds_after_finished,
    activeDeadlineSeconds: args.active_deadline_seconds,
    entrypointNumCpus: args.entrypoint_num_cpus,
    entrypointNumGpus: args.entrypoint_num_gpus,
    entrypointResources: args.entrypoint_resources,
  });
  const { data } = await ops.askForAnswer(conn, {
    type: 'kube.rayJob',
    namespace,
    name,
    manifest,
    owned: true,
  });
  const actor = ops.get<RayJobActor>(data.systemId);
  if (!actor)
    throw new RayMcpError('unavailable', `RayJob ${namespace}/${name} is not followed.`, 'Try again.');
  await ops.ask(actor, { type: 'rayjob.awaitSubmitted' }, { timeoutMs: SUBMITTED_TIMEOUT_MS });
  // Its own cluster is named by KubeRay (`<name>-xxxxx`) on its first reconcile: wait for that
  // name briefly, so submit gives the cluster_id that inspect and wait give.
  if (!selector) await namedCluster(ops, actor, NAMED_CLUSTER_TIMEOUT_MS);
  const { view, rayjob } = rayJobResult(actor.getSnapshot().context.summary!, connectionId);
  return { ...view, existed: false, rayjob };
}

/** Resolves once the RayJob's status names its RayCluster, or after `timeoutMs` (or on abort). */
function namedCluster(ops: Ops, actor: RayJobActor, timeoutMs: number): Promise<void> {
  const named = () => Boolean(actor.getSnapshot().context.summary?.rayClusterName);
  if (named()) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      sub.unsubscribe();
      ops.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    const sub = actor.subscribe({ next: () => named() && done(), error: done, complete: done });
    ops.signal.addEventListener('abort', done, { once: true });
  });
}

export async function inspectRayJob(ops: Ops, args: RayJobArgs): Promise<InspectJobOutput> {
  const found = await findRayJob(ops, args);
  const { view, rayjob } = rayJobResult(latest(found), found.connectionId);
  return { ...view, rayjob, ...(await rayJobEvents(ops, found, view.status)) };
}

/** A RayJob's events and those of its cluster; for a failed one, the Warning that says why, when one does. */
async function rayJobEvents(
  ops: Ops,
  found: FoundRayJob,
  status: string,
): Promise<Pick<InspectJobOutput, 'events' | 'failure' | 'events_note'>> {
  const s = latest(found);
  const cluster = s.rayClusterName ?? s.clusterSelector;
  const read = await kubeEventsOf(ops, found.connectionId, {
    namespace: s.namespace,
    names: [s.name, ...(cluster ? [cluster] : [])],
    clusters: cluster ? [cluster] : [],
  });
  const events = read.events.length ? read.events : undefined;
  const warning = events?.find((e) => e.type === 'Warning');
  const failure =
    status === 'FAILED' && warning
      ? {
          cause: 'kubernetes_event',
          suggestion: `${warning.reason} on ${warning.object} (see events): ${warning.hint ?? warning.message}`,
        }
      : undefined;
  return { events, failure, ...(read.note && { events_note: read.note }) };
}

/**
 * The cluster and submission id of a RayJob's Ray job, for reading it through the dashboard
 * (logs). The RayJob's cluster is attached as a cluster ray-mcp does not own: KubeRay decides its
 * life, so stop_ray_cluster never deletes it as the current cluster.
 */
export async function rayJobRayTarget(
  ops: Ops,
  args: RayJobArgs,
): Promise<{ clusterId: string; submissionId: string; rayjob: RayJobRef }> {
  const found = await findRayJob(ops, args);
  const s = latest(found);
  const clusterName = s.clusterSelector ?? s.rayClusterName;
  const { rayjob } = rayJobResult(s, found.connectionId);
  if (!clusterName || !s.jobId) {
    throw new RayMcpError(
      'conflict',
      `RayJob ${s.namespace}/${s.name} has no Ray job yet (${s.deploymentStatus ?? 'New'}).`,
      'Wait for it to start: wait_for_ray_job or inspect_ray_job with rayjob=name.',
    );
  }
  const actor = ops.cluster(clusterName);
  if (actor && clusterView(actor, ops.now()).status !== 'stopped') {
    const c = actor.getSnapshot().context as { connectionId?: string; namespace?: string; name?: string };
    if (c.connectionId !== found.connectionId || c.namespace !== s.namespace || c.name !== clusterName) {
      throw new RayMcpError(
        'conflict',
        `ray-mcp already has another cluster named ${clusterName}.`,
        'Stop or rename that one, then try again.',
      );
    }
  } else {
    await ops.askForAnswer(ops.root, {
      type: 'cluster.create',
      at: ops.now(),
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
  return { clusterId: clusterName, submissionId: s.jobId, rayjob };
}

/** How a RayJob is cancelled when the caller does not say: suspend what has its own cluster, else stop. */
function defaultMode(s: RayJobSummary): RayJobCancelMode {
  return s.shutdownAfterJobFinishes && !s.clusterSelector ? 'suspend' : 'stop';
}

export async function cancelRayJob(
  ops: Ops,
  args: RayJobArgs & { mode?: RayJobCancelMode },
): Promise<CancelJobOutput & { rayjob: RayJobRef; mode: RayJobCancelMode }> {
  const found = await findRayJob(ops, args);
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
    await ops.ask(found.actor, { type: 'rayjob.cancel', mode }, { timeoutMs: CANCEL_TIMEOUT_MS });
    // Suspend and delete: wait briefly for KubeRay to act (Suspended, or gone). A stopped Ray job
    // reaches the RayJob's status on KubeRay's next status check; nothing to wait for here.
    if (mode !== 'stop') {
      await ops
        .ask(found.actor, { type: 'rayjob.awaitEnd' }, { timeoutMs: SETTLE_TIMEOUT_MS })
        .catch(() => undefined);
    }
  }
  const s = latest(found);
  const gone = found.actor.getSnapshot().matches('gone');
  const { view, rayjob } = rayJobResult(s, found.connectionId);
  return { ...view, already_ended: alreadyEnded, rayjob: { ...rayjob, deleting: gone || s.deleting }, mode };
}

/** Waits for a RayJob to end, telling the caller each new status. */
export async function waitRayJob(
  ops: Ops,
  args: RayJobArgs,
  timeoutMs: number,
): Promise<WaitJobOutput & { rayjob: RayJobRef }> {
  const found = await findRayJob(ops, args);
  const status = () => {
    const s = latest(found);
    return `${s.deploymentStatus ?? 'New'}, Ray job ${s.jobStatus ?? 'not started'}`;
  };
  const { ended, waitedSeconds } = await waitWithProgress(ops, timeoutMs, status, (options) =>
    ops.ask(found.actor, { type: 'rayjob.awaitEnd' }, options),
  );
  const { view, rayjob } = rayJobResult(latest(found), found.connectionId);
  // A RayJob that ended failed: its events and the Warning that says why, as inspect gives them.
  const why = ended && view.status === 'FAILED' ? await rayJobEvents(ops, found, view.status) : {};
  return { ...view, ended, waited_seconds: waitedSeconds, rayjob, ...why };
}

export const rayJobFlows: FlowsOf<Pick<JobOperations, 'rayjob.list' | 'rayjob.follow'>> = {
  async 'rayjob.list'(ops, args) {
    if (args.all_namespaces && args.namespace) {
      throw new RayMcpError(
        'invalid_input',
        'Pass namespace or all_namespaces, not both.',
        'Drop one of them.',
      );
    }
    const { conn, namespace } = await rayJobScope(ops, args, args.all_namespaces === true);
    const c = conn.getSnapshot().context;
    const wanted = args.deployment_status as string[] | undefined;
    const all = Object.values(c.rayJobs)
      .filter((j) => !namespace || j.namespace === namespace)
      .filter((j) => !wanted || wanted.includes(j.deploymentStatus ?? 'New'))
      .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.name.localeCompare(b.name));
    const limit = args.limit ?? 20;
    const offset = args.cursor ? Number(args.cursor.slice(2)) : 0;
    const rayjobs = all.slice(offset, offset + limit).map((j) => ({
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
    const counts = countBy(all.map((j) => j.deploymentStatus ?? 'New'));
    return { context: c.id, namespace, rayjobs, total: all.length, next_cursor: next, counts };
  },

  async 'rayjob.follow'(ops, { context, namespace, name }) {
    const found = await findRayJob(ops, { rayjob: name, namespace, kubernetes_context: context });
    const { view, rayjob } = rayJobResult(latest(found), found.connectionId);
    return {
      body: { ...view, rayjob },
      systemId: found.systemId,
      signature: rayJobSignature(found.actor.getSnapshot()),
    };
  },
};

/** How often each value occurs, in order of first occurrence. */
export function countBy(values: string[]): StatusCounts {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts];
}
