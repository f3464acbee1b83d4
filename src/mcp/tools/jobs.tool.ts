import { join } from 'node:path';
import { z } from 'zod';
import { isLocal } from '../../actors/cluster-records.js';
import type { RaySystem } from '../../actors/system.js';
import { ClusterIdSchema } from '../../domain/cluster.js';
import { RayMcpError } from '../../domain/errors.js';
import { analyzeFailure, type FailureAnalysis } from '../../domain/failure-analysis.js';
import {
  isTerminal,
  JOB_STATUSES,
  type JobView,
  JobViewSchema,
  RuntimeEnvSchema,
  SubmissionIdSchema,
} from '../../domain/jobs.js';
import type { JobActor } from '../../machines/job.machine.js';
import { type JobsActor, jobSystemId } from '../../machines/jobs.machine.js';
import { clusterView, resolveCluster } from './cluster-view.js';
import {
  cancelRayJobCr,
  inspectRayJobCr,
  isRayJobMode,
  listKuberayJobs,
  RayJobRefSchema,
  rayJobArgs,
  rayJobSubmitArgs,
  rayJobText,
  submitRayJobCr,
  waitRayJobCr,
} from './kuberay-jobs.js';
import { defineTool } from './tool.js';

const clusterIdArg = ClusterIdSchema.optional().describe(
  'The cluster (default: the newest one that is running)',
);

export interface JobTarget {
  clusterId: string;
  dashboardUrl: string;
  jobs: JobsActor;
  /** Where a job's driver log is on this machine (clusters ray-mcp started). */
  logPath?: (submissionId: string) => string;
}

/** The jobs actor of a cluster that can take jobs now, or a clear error. */
export function jobTarget(system: RaySystem, clusterId: string | undefined): JobTarget {
  const actor = resolveCluster(system, clusterId);
  const view = clusterView(actor);
  if (!(view.status === 'running' || view.status === 'degraded') || !view.dashboard_url) {
    throw new RayMcpError(
      'conflict',
      `Cluster ${view.cluster_id} is ${view.status}; jobs need a running cluster.`,
      view.status === 'starting'
        ? 'Wait for it to start (init_ray_cluster returns when it is usable), then try again.'
        : 'Start one with init_ray_cluster, or name a running one with cluster_id.',
    );
  }
  const jobs = system.jobs(view.cluster_id);
  if (!jobs) throw new RayMcpError('shutting_down', 'The jobs actor is gone.', 'Restart ray-mcp.');
  const tempDir = isLocal(actor) ? actor.getSnapshot().context.tempDir : undefined;
  return {
    clusterId: view.cluster_id,
    dashboardUrl: view.dashboard_url,
    jobs,
    logPath: tempDir ? (sid) => join(tempDir, 'session_latest', 'logs', `job-driver-${sid}.log`) : undefined,
  };
}

/** Accepts `submission_id`, or `job_id` as calls written for the Python ray-mcp send it. */
const jobIdArgs = {
  cluster_id: clusterIdArg,
  submission_id: SubmissionIdSchema.optional().describe('The job (its submission id)'),
  job_id: SubmissionIdSchema.optional().describe('Same as submission_id (accepted for older callers)'),
};
function jobIdOf(args: { submission_id?: string; job_id?: string }): string {
  const id = args.submission_id ?? args.job_id;
  if (!id) {
    throw new RayMcpError(
      'invalid_input',
      'Which job? submission_id is missing.',
      'Pass submission_id (list_ray_jobs shows them).',
    );
  }
  return id;
}

function viewOf(target: JobTarget, id: string): JobView {
  const view = target.jobs.getSnapshot().context.jobs[id];
  if (!view)
    throw new RayMcpError(
      'not_found',
      `No job ${id} on ${target.clusterId}.`,
      'list_ray_jobs shows its jobs.',
    );
  return view;
}

/** The failure analysis of a failed or stopped job, from the tail of its log. */
export async function failureOf(
  system: RaySystem,
  target: JobTarget,
  view: JobView,
  signal: AbortSignal,
): Promise<FailureAnalysis> {
  let logTail = '';
  try {
    const { data } = await system.askForAnswer(
      target.jobs,
      {
        type: 'jobs.logs',
        dashboardUrl: target.dashboardUrl,
        id: view.submission_id,
        lines: 200,
        maxBytes: 64 * 1024,
        logPath: target.logPath?.(view.submission_id),
      },
      { signal },
    );
    logTail = data.text ?? '';
  } catch {
    // No log (e.g. a runtime env that never started): the status message is all there is.
  }
  return analyzeFailure({
    status: view.status,
    message: view.message,
    errorType: view.error_type,
    exitCode: view.driver?.exit_code,
    logTail,
  });
}

const FailureSchema = z.object({
  cause: z.string(),
  exception: z.object({ type: z.string(), message: z.string() }).optional(),
  innermost_frame: z
    .object({ file: z.string(), line: z.number(), function: z.string(), code: z.string().optional() })
    .optional(),
  missing_module: z.string().optional(),
  exit_code: z.number().optional(),
  suggestion: z.string(),
});

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
  input: z
    .object({
      cluster_id: clusterIdArg,
      entrypoint: z.string().min(1).max(10_000).describe('The command Ray runs on the head node'),
      submission_id: SubmissionIdSchema.optional().describe(
        'Your id for the job; reuse it to make submits idempotent',
      ),
      runtime_env: RuntimeEnvSchema.optional(),
      metadata: z.record(z.string().max(100), z.string().max(1000)).optional(),
      entrypoint_num_cpus: z.number().min(0).optional(),
      entrypoint_num_gpus: z.number().min(0).optional(),
      entrypoint_memory: z.number().int().min(0).optional().describe('Bytes'),
      entrypoint_resources: z.record(z.string(), z.number().min(0)).optional(),
      ...rayJobSubmitArgs,
    })
    .strict(),
  output: JobViewSchema.extend({
    existed: z.boolean().describe('The submission_id (or RayJob name) was already taken by this job'),
    rayjob: RayJobRefSchema.optional(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { system, signal } = ctx;
    if (isRayJobMode(args)) {
      const r = await submitRayJobCr(ctx, args);
      return {
        structured: { ...r.view, existed: r.existed, rayjob: r.rayjob },
        text: `${r.existed ? 'Already there, nothing new submitted: ' : 'Submitted '}${rayJobText(r)}.`,
      };
    }
    const stray = (
      [
        'rayjob',
        'namespace',
        'kubernetes_context',
        'rayjob_cluster',
        'shutdown_after_job_finishes',
        'ttl_seconds_after_finished',
        'active_deadline_seconds',
      ] as const
    ).filter((k) => args[k] !== undefined);
    if (stray.length) {
      throw new RayMcpError(
        'invalid_input',
        `${stray.join(', ')} ${stray.length > 1 ? 'are' : 'is'} for RayJobs.`,
        'Pass job_type "rayjob" to create a RayJob, or leave them out to submit to the cluster directly.',
      );
    }
    const {
      cluster_id,
      job_type: _t,
      rayjob: _r,
      namespace: _n,
      kubernetes_context: _k,
      rayjob_cluster: _c,
      shutdown_after_job_finishes: _s,
      ttl_seconds_after_finished: _ttl,
      active_deadline_seconds: _d,
      ...submit
    } = args;
    const target = jobTarget(system, cluster_id);
    const { data } = await system.askForAnswer(
      target.jobs,
      { type: 'jobs.submit', dashboardUrl: target.dashboardUrl, submit },
      { signal, timeoutMs: 300_000 },
    );
    const view = viewOf(target, data.submissionId!);
    const existed = data.existed;
    return {
      structured: { ...view, existed },
      text: existed
        ? `Job ${view.submission_id} already existed on ${target.clusterId} (${view.status}); nothing new was submitted.`
        : `Submitted ${view.submission_id} to ${target.clusterId}: ${view.status}.`,
    };
  },
});

const RowSchema = z.object({
  submission_id: z.string(),
  status: z.enum(JOB_STATUSES),
  entrypoint: z.string(),
  start_time: z.string().optional(),
  end_time: z.string().optional(),
  message: z.string().optional(),
});

export const listRayJobs = defineTool({
  name: 'list_ray_jobs',
  title: 'List Ray jobs',
  description:
    'The jobs of a cluster, newest first, in compact rows. Filter by status; page with the cursor the result gives.',
  input: z
    .object({
      cluster_id: clusterIdArg,
      status: z.array(z.enum(JOB_STATUSES)).min(1).optional().describe('Only jobs with these statuses'),
      limit: z.number().int().min(1).max(100).optional().describe('Rows per page (default 20)'),
      cursor: z
        .string()
        .regex(/^o:\d+$/, 'use the next_cursor of a previous list_ray_jobs')
        .optional(),
    })
    .strict(),
  output: z.object({
    cluster_id: z.string(),
    jobs: z.array(RowSchema),
    total: z.number().describe('Jobs matching the filter'),
    next_cursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ cluster_id, status, limit = 20, cursor }, { system, signal }) {
    const target = jobTarget(system, cluster_id);
    const snapshot = await system.ask(
      target.jobs,
      { type: 'jobs.refresh', dashboardUrl: target.dashboardUrl },
      { signal },
    );
    const all = Object.values(snapshot.context.jobs)
      .filter((j) => !status || status.includes(j.status))
      .sort((a, b) => (b.start_time ?? '').localeCompare(a.start_time ?? ''));
    const offset = cursor ? Number(cursor.slice(2)) : 0;
    const page = all.slice(offset, offset + limit).map((j) => ({
      submission_id: j.submission_id,
      status: j.status,
      entrypoint: j.entrypoint.length > 120 ? `${j.entrypoint.slice(0, 120)}…` : j.entrypoint,
      start_time: j.start_time,
      end_time: j.end_time,
      message: j.status === 'FAILED' ? j.message?.slice(0, 200) : undefined,
    }));
    const next = offset + limit < all.length ? `o:${offset + limit}` : undefined;
    const counts = new Map<string, number>();
    for (const j of all) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
    return {
      structured: { cluster_id: target.clusterId, jobs: page, total: all.length, next_cursor: next },
      text: all.length
        ? `${all.length} job(s) on ${target.clusterId}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}.${next ? ' More with next_cursor.' : ''}`
        : `No jobs on ${target.clusterId}.`,
    };
  },
});

export const inspectRayJob = defineTool({
  name: 'inspect_ray_job',
  title: 'Inspect a Ray job',
  description:
    'Status, message, error type, timings, entrypoint, runtime env summary and driver of one job; for a failed job ' +
    'also why it failed (last traceback, Ray cause, suggestion). With rayjob=name: a KubeRay RayJob, its KubeRay ' +
    'deployment status and the RayCluster that runs it.',
  input: z.object({ ...jobIdArgs, ...rayJobArgs }).strict(),
  output: JobViewSchema.extend({ failure: FailureSchema.optional(), rayjob: RayJobRefSchema.optional() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { system, signal } = ctx;
    if (args.rayjob) {
      const r = await inspectRayJobCr(ctx, args);
      return { structured: { ...r.view, rayjob: r.rayjob }, text: `${rayJobText(r)}.` };
    }
    const id = jobIdOf(args);
    const target = jobTarget(system, args.cluster_id);
    await system.ask(target.jobs, { type: 'jobs.get', dashboardUrl: target.dashboardUrl, id }, { signal });
    const view = viewOf(target, id);
    const failure = view.status === 'FAILED' ? await failureOf(system, target, view, signal) : undefined;
    return {
      structured: { ...view, failure },
      text:
        `${view.submission_id} is ${view.status}` +
        (view.duration_seconds !== undefined ? ` after ${view.duration_seconds} s` : '') +
        (failure
          ? `: ${failure.cause}${failure.exception ? ` (${failure.exception.type}: ${failure.exception.message.slice(0, 200)})` : ''}. ${failure.suggestion}`
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
  input: z
    .object({
      ...jobIdArgs,
      ...rayJobArgs,
      mode: z.enum(['suspend', 'stop', 'delete']).optional().describe('RayJob: how to cancel it (see above)'),
    })
    .strict(),
  output: JobViewSchema.extend({
    already_ended: z.boolean(),
    rayjob: RayJobRefSchema.optional(),
    mode: z.enum(['suspend', 'stop', 'delete']).optional().describe('RayJob: how it was cancelled'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { system, signal } = ctx;
    if (args.rayjob) {
      const r = await cancelRayJobCr(ctx, args);
      const name = `RayJob ${r.rayjob.namespace}/${r.rayjob.name} (context ${r.rayjob.context})`;
      return {
        structured: { ...r.view, already_ended: r.alreadyEnded, rayjob: r.rayjob, mode: r.mode },
        text: r.alreadyEnded
          ? `${name} had already ended (${r.rayjob.deployment_status}); nothing done.`
          : r.mode === 'stop'
            ? `Asked Ray to stop the job of ${name}; KubeRay shows it on its next status check (inspect_ray_job).`
            : `${r.mode === 'delete' ? 'Deleted' : 'Suspended'} ${name}: now ${r.rayjob.deleting ? 'being deleted' : (r.rayjob.deployment_status ?? 'New')}.`,
      };
    }
    if (args.mode) {
      throw new RayMcpError(
        'invalid_input',
        'mode is for RayJobs.',
        'Pass rayjob=name with it, or leave mode out.',
      );
    }
    const id = jobIdOf(args);
    const target = jobTarget(system, args.cluster_id);
    const { data } = await system.askForAnswer(
      target.jobs,
      { type: 'jobs.stop', dashboardUrl: target.dashboardUrl, id },
      { signal },
    );
    const alreadyEnded = data.alreadyEnded;
    if (!alreadyEnded) {
      const job = system.get<JobActor>(jobSystemId(target.clusterId, id));
      if (job)
        await system.ask(job, { type: 'job.awaitEnd' }, { signal, timeoutMs: 15_000 }).catch(() => undefined);
    }
    const view =
      system.get<JobActor>(jobSystemId(target.clusterId, id))?.getSnapshot().context.view ??
      viewOf(target, id);
    return {
      structured: { ...view, already_ended: alreadyEnded },
      text: alreadyEnded
        ? `${id} had already ended (${view.status}); nothing to stop.`
        : isTerminal(view.status)
          ? `Stopped ${id}: ${view.status}.`
          : `Asked Ray to stop ${id}; it is still ${view.status}. Check again with inspect_ray_job.`,
    };
  },
});

export const waitForRayJob = defineTool({
  name: 'wait_for_ray_job',
  title: 'Wait for a Ray job',
  description:
    'Waits until a job ends or timeout_seconds pass, sending progress notifications while it runs (when the client ' +
    'asks for them). On timeout it returns the current state with ended=false; that is not an error. Call it again ' +
    'to keep waiting. A failed job comes with its failure analysis.',
  input: z
    .object({
      ...jobIdArgs,
      ...rayJobArgs,
      timeout_seconds: z.number().int().min(1).max(3600).optional().describe('Longest wait (default 300)'),
    })
    .strict(),
  output: JobViewSchema.extend({
    ended: z.boolean(),
    waited_seconds: z.number(),
    failure: FailureSchema.optional(),
    rayjob: RayJobRefSchema.optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { system, signal, progress } = ctx;
    if (args.rayjob) {
      const started = Date.now();
      const timeoutMs = (args.timeout_seconds ?? 300) * 1000;
      let last = 'New';
      const tell = () => {
        const secs = Math.round((Date.now() - started) / 1000);
        void progress(secs, Math.round(timeoutMs / 1000), `${last} (waited ${secs} s)`);
      };
      // A heartbeat keeps clients that reset their timeout on progress from giving up.
      const heartbeat = setInterval(tell, 5000);
      const r = await waitRayJobCr(ctx, args, timeoutMs, (s) => {
        const now = `${s.deploymentStatus ?? 'New'}, Ray job ${s.jobStatus ?? 'not started'}`;
        if (now === last) return;
        last = now;
        tell();
      }).finally(() => clearInterval(heartbeat));
      const waited = Math.round((Date.now() - started) / 100) / 10;
      return {
        structured: { ...r.view, ended: r.ended, waited_seconds: waited, rayjob: r.rayjob },
        text: r.ended
          ? `${rayJobText(r)}.`
          : `RayJob ${r.rayjob.namespace}/${r.rayjob.name} is still ${r.rayjob.deployment_status ?? 'New'} after ${waited} s; call wait_for_ray_job again to keep waiting.`,
      };
    }
    const id = jobIdOf(args);
    const target = jobTarget(system, args.cluster_id);
    await system.ask(target.jobs, { type: 'jobs.watch', dashboardUrl: target.dashboardUrl, id }, { signal });
    const job = system.get<JobActor>(jobSystemId(target.clusterId, id));
    if (!job)
      throw new RayMcpError(
        'not_found',
        `No job ${id} on ${target.clusterId}.`,
        'list_ray_jobs shows its jobs.',
      );
    const started = Date.now();
    const timeoutMs = (args.timeout_seconds ?? 300) * 1000;
    const tell = () => {
      const v = job.getSnapshot().context.view;
      const s = Math.round((Date.now() - started) / 1000);
      void progress(s, Math.round(timeoutMs / 1000), `${v.status} (waited ${s} s)`);
    };
    tell();
    // A heartbeat keeps clients that reset their timeout on progress from giving up.
    const heartbeat = setInterval(tell, 5000);
    let ended = true;
    try {
      await system.ask(job, { type: 'job.awaitEnd' }, { signal, timeoutMs, onSnapshot: tell });
    } catch (err) {
      if (!(err instanceof RayMcpError && err.code === 'timeout') || signal.aborted) throw err;
      ended = false;
    } finally {
      clearInterval(heartbeat);
    }
    const view = job.getSnapshot().context.view;
    const failure = view.status === 'FAILED' ? await failureOf(system, target, view, signal) : undefined;
    const waited = Math.round((Date.now() - started) / 100) / 10;
    return {
      structured: { ...view, ended, waited_seconds: waited, failure },
      text: ended
        ? `${id} ended ${view.status}${failure ? `: ${failure.cause}. ${failure.suggestion}` : '.'}`
        : `${id} is still ${view.status} after ${waited} s; call wait_for_ray_job again to keep waiting.`,
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
