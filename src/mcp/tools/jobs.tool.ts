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

/** Ray's record of the job's failed tasks and dead actors, as one marked line. */
export const rayRecordText = (f: { ray_record?: string } | undefined) =>
  f?.ray_record ? `\nRay's record (untrusted): ${f.ray_record}` : '';

const failureText = (f: { cause: string; suggestion: string; ray_record?: string } | undefined) =>
  f ? `: ${f.cause}. ${f.suggestion}${rayRecordText(f)}` : '.';

export const submitRayJob = defineTool({
  name: 'submit_ray_job',
  title: 'Submit a Ray job',
  description:
    'Submits a job and returns at once; follow it with wait_for_ray_job or retrieve_logs. job_type ' +
    '"rayjob": a KubeRay RayJob.',
  input: SubmitJobInputSchema,
  output: SubmitJobOutputSchema,
  toolsets: ['local', 'kuberay'],
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
  description: 'The jobs of a cluster, newest first, paged.',
  input: ListJobsInputSchema,
  output: ListJobsOutputSchema,
  toolsets: ['local', 'kuberay'],
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
  description: "A job's status and details; for a failed one, why and what to do.",
  input: InspectJobInputSchema,
  output: InspectJobOutputSchema,
  toolsets: ['local', 'kuberay'],
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
          ? `: ${f.cause}${f.exception ? ` (${f.exception.type}: ${f.exception.message.slice(0, 200)})` : ''}. ${f.suggestion}${rayRecordText(f)}`
          : '.') +
        eventsLine(job.events),
    };
  },
});

export const cancelRayJob = defineTool({
  name: 'cancel_ray_job',
  title: 'Cancel a Ray job',
  description:
    'Stops a running job (idempotent). RayJob: mode suspend (deletes its cluster, keeps the RayJob), stop, ' +
    'or delete.',
  input: CancelJobInputSchema,
  output: CancelJobOutputSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  confirm: {
    guards: true,
    async preview({ mode, ...ref }, { run }) {
      const job = await run('job.inspect', ref, { timeoutMs: KUBE_TIMEOUT_MS }).catch(() => undefined);
      if (!job) return undefined;
      const { failure: _f, ...view } = job;
      const r = job.rayjob;
      const del = r !== undefined && mode === 'delete';
      if (!del && isTerminal(job.status)) return undefined;
      return {
        structured: { ...view, already_ended: isTerminal(job.status), mode },
        action: r
          ? `${del ? 'Delete' : mode === 'stop' ? 'Stop the Ray job of' : 'Cancel'} RayJob ${r.namespace}/${r.name} on ${r.context}`
          : `Stop job ${job.submission_id} on ${job.cluster_id}`,
        running: [`Ray job ${job.status}${r ? `, KubeRay ${r.deployment_status ?? 'New'}` : ''}`],
        risky: del,
        state: r
          ? [r.context, r.namespace, r.name, r.created_at, r.deployment_status, job.status]
          : [job.cluster_id, job.submission_id, job.status],
        protectedBy: del && r.protected ? 'label or annotation ray-mcp/protected=true' : undefined,
      };
    },
  },
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
    'Waits until a job ends or timeout_seconds pass (then ended=false: call again). A failed job comes with why.',
  input: WaitJobInputSchema,
  output: WaitJobOutputSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const timeoutMs = (args.timeout_seconds ?? 300) * 1000 + KUBE_TIMEOUT_MS;
    const job = await run('job.wait', args, { timeoutMs });
    const r = job.rayjob;
    const again = `after ${job.waited_seconds} s; call wait_for_ray_job again to keep waiting.`;
    const text = job.ended
      ? (r
          ? `${rayJobText(job, r)}.`
          : `${job.submission_id} ended ${job.status}${failureText(job.failure)}`) + eventsLine(job.events)
      : r
        ? `RayJob ${r.namespace}/${r.name} is still ${r.deployment_status ?? 'New'} ${again}`
        : `${job.submission_id} is still ${job.status} ${again}`;
    return { structured: job, text };
  },
});

export const listKuberayJobs = defineTool({
  name: 'list_kuberay_jobs',
  title: 'List KubeRay RayJobs',
  description: 'KubeRay RayJobs of a namespace (or all), newest first, paged. Job tools take rayjob=name.',
  input: ListRayJobsInputSchema,
  output: ListRayJobsOutputSchema,
  toolsets: ['kuberay'],
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
