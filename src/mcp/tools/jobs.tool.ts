import { isTerminal, type JobView } from '../../domain/jobs.js';
import { eventsLine } from '../../domain/kube-events.js';
import type { StatusCounts } from '../../domain/operations/jobs.js';
import {
  CancelJobInputSchema,
  CancelJobOutputSchema,
  InspectJobInputSchema,
  InspectJobOutputSchema,
  ListJobsInputSchema,
  ListJobsOutputSchema,
  ListRayJobsInputSchema,
  ListRayJobsOutputSchema,
  type RayJobRef,
  SubmitJobInputSchema,
  SubmitJobOutputSchema,
  WaitJobInputSchema,
  WaitJobOutputSchema,
} from '../../domain/tools/jobs.js';
import { defineTool } from './tool.js';

/** Past a call's own wait, the time its flow may take to find the job and answer. */
const GRACE_MS = 60_000;
/** submit: a working_dir upload (300 s), or a RayJob's connection, listing and apply. */
const SUBMIT_TIMEOUT_MS = 300_000 + GRACE_MS;
/** Calls that may connect to Kubernetes and list RayJobs before they act. */
const KUBE_TIMEOUT_MS = 2 * GRACE_MS;

/** One line about a RayJob and its Ray job. */
export function rayJobText(view: JobView, r: RayJobRef): string {
  return (
    `RayJob ${r.namespace}/${r.name} (context ${r.context}): ${r.deployment_status ?? 'New'}, Ray job ${view.status}` +
    (r.ray_cluster ? ` on ${r.ray_cluster}` : '') +
    (view.message ? ` — ${view.message.slice(0, 200)}` : '')
  );
}

const countsText = (counts: StatusCounts) => counts.map(([s, n]) => `${n} ${s}`).join(', ');

const failureText = (f: { cause: string; suggestion: string } | undefined) =>
  f ? `: ${f.cause}. ${f.suggestion}` : '.';

export const submitRayJob = defineTool({
  name: 'submit_ray_job',
  title: 'Submit a Ray job',
  description:
    'Submits a job (a shell-free entrypoint command such as "python train.py") to a cluster. runtime_env.working_dir ' +
    'may be a local folder: it is zipped, named after its content and uploaded (at most 100 MiB). Submitting again ' +
    'with the same submission_id returns the existing job instead of a duplicate. Returns at once; follow the job ' +
    'with wait_for_ray_job, inspect_ray_job or retrieve_logs. With job_type "rayjob" it creates a KubeRay RayJob ' +
    'custom resource instead: on the KubeRay cluster cluster_id names, or on a cluster of its own (rayjob_cluster) ' +
    'that KubeRay deletes when the job ends; follow it with rayjob=name.',
  input: SubmitJobInputSchema,
  output: SubmitJobOutputSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const job = await run('job.submit', args, { timeoutMs: SUBMIT_TIMEOUT_MS });
    const text = job.rayjob
      ? `${job.existed ? 'Already there, nothing new submitted: ' : 'Submitted '}${rayJobText(job, job.rayjob)}.`
      : job.existed
        ? `Job ${job.submission_id} already existed on ${job.cluster_id} (${job.status}); nothing new was submitted.`
        : `Submitted ${job.submission_id} to ${job.cluster_id}: ${job.status}.`;
    return { structured: job, text };
  },
});

export const listRayJobs = defineTool({
  name: 'list_ray_jobs',
  title: 'List Ray jobs',
  description:
    'The jobs of a cluster, newest first, in compact rows. Filter by status; page with the cursor the result gives.',
  input: ListJobsInputSchema,
  output: ListJobsOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const { counts, ...list } = await run('job.list', args);
    return {
      structured: list,
      text: list.total
        ? `${list.total} job(s) on ${list.cluster_id}: ${countsText(counts)}.${list.next_cursor ? ' More with next_cursor.' : ''}`
        : `No jobs on ${list.cluster_id}.`,
    };
  },
});

export const inspectRayJob = defineTool({
  name: 'inspect_ray_job',
  title: 'Inspect a Ray job',
  description:
    'Status, message, error type, timings, entrypoint, runtime env summary and driver of one job; for a failed job ' +
    'also why it failed (last traceback, Ray cause, suggestion). With rayjob=name: a KubeRay RayJob, its KubeRay ' +
    'deployment status, the RayCluster that runs it and their Kubernetes events (with hints).',
  input: InspectJobInputSchema,
  output: InspectJobOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const job = await run('job.inspect', args, { timeoutMs: KUBE_TIMEOUT_MS });
    const f = job.failure;
    if (job.rayjob)
      return { structured: job, text: `${rayJobText(job, job.rayjob)}.${eventsLine(job.events)}` };
    return {
      structured: job,
      text:
        `${job.submission_id} is ${job.status}` +
        (job.duration_seconds !== undefined ? ` after ${job.duration_seconds} s` : '') +
        (f
          ? `: ${f.cause}${f.exception ? ` (${f.exception.type}: ${f.exception.message.slice(0, 200)})` : ''}. ${f.suggestion}`
          : '.'),
    };
  },
});

export const cancelRayJob = defineTool({
  name: 'cancel_ray_job',
  title: 'Cancel a Ray job',
  description:
    'Stops a running or pending job and waits briefly until Ray reports it stopped. A job that already ended is ' +
    'left as it is (idempotent). With rayjob=name, a KubeRay RayJob: mode "suspend" (the default for a RayJob ' +
    'with its own cluster; KubeRay deletes that cluster and keeps the RayJob), "stop" (stops the Ray job through ' +
    'the dashboard; the default on an existing cluster) or "delete" (deletes the RayJob; only when asked).',
  input: CancelJobInputSchema,
  output: CancelJobOutputSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const job = await run('job.cancel', args, { timeoutMs: KUBE_TIMEOUT_MS });
    const r = job.rayjob;
    const name = r && `RayJob ${r.namespace}/${r.name} (context ${r.context})`;
    const id = job.submission_id;
    const text = r
      ? job.already_ended
        ? `${name} had already ended (${r.deployment_status}); nothing done.`
        : job.mode === 'stop'
          ? `Asked Ray to stop the job of ${name}; KubeRay shows it on its next status check (inspect_ray_job).`
          : `${job.mode === 'delete' ? 'Deleted' : 'Suspended'} ${name}: now ${r.deleting ? 'being deleted' : (r.deployment_status ?? 'New')}.`
      : job.already_ended
        ? `${id} had already ended (${job.status}); nothing to stop.`
        : isTerminal(job.status)
          ? `Stopped ${id}: ${job.status}.`
          : `Asked Ray to stop ${id}; it is still ${job.status}. Check again with inspect_ray_job.`;
    return { structured: job, text };
  },
});

export const waitForRayJob = defineTool({
  name: 'wait_for_ray_job',
  title: 'Wait for a Ray job',
  description:
    'Waits until a job ends or timeout_seconds pass, sending progress notifications while it runs (when the client ' +
    'asks for them). On timeout it returns the current state with ended=false; that is not an error. Call it again ' +
    'to keep waiting. A failed job comes with its failure analysis.',
  input: WaitJobInputSchema,
  output: WaitJobOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const timeoutMs = (args.timeout_seconds ?? 300) * 1000 + KUBE_TIMEOUT_MS;
    const job = await run('job.wait', args, { timeoutMs });
    const r = job.rayjob;
    const again = `after ${job.waited_seconds} s; call wait_for_ray_job again to keep waiting.`;
    const text = job.ended
      ? r
        ? `${rayJobText(job, r)}.`
        : `${job.submission_id} ended ${job.status}${failureText(job.failure)}`
      : r
        ? `RayJob ${r.namespace}/${r.name} is still ${r.deployment_status ?? 'New'} ${again}`
        : `${job.submission_id} is still ${job.status} ${again}`;
    return { structured: job, text };
  },
});

export const listKuberayJobs = defineTool({
  name: 'list_kuberay_jobs',
  title: 'List KubeRay RayJobs',
  description:
    'The RayJob custom resources of a namespace (or all namespaces) on a Kubernetes connection, newest first, in ' +
    'compact rows: KubeRay deployment status, Ray job status, the RayCluster running it, whether ray-mcp created it. ' +
    'Page with the cursor the result gives. inspect_ray_job, wait_for_ray_job and cancel_ray_job take rayjob=name.',
  input: ListRayJobsInputSchema,
  output: ListRayJobsOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const { counts, ...list } = await run('rayjob.list', args, { timeoutMs: KUBE_TIMEOUT_MS });
    const where = `${list.namespace ? `namespace ${list.namespace}` : 'all namespaces'} (context ${list.context})`;
    return {
      structured: list,
      text: list.total
        ? `${list.total} RayJob(s) in ${where}: ${countsText(counts)}.${list.next_cursor ? ' More with next_cursor.' : ''}`
        : `No RayJobs in ${where}.`,
    };
  },
});

export const JOB_TOOLS = [
  submitRayJob,
  listRayJobs,
  inspectRayJob,
  cancelRayJob,
  waitForRayJob,
  listKuberayJobs,
];
