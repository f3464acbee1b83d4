/**
 * The flows of the job and log tools and of the job resources: which cluster a call means, its
 * jobs actor and dashboard, submit, list, inspect (with the failure analysis), cancel, wait (with
 * progress), read logs; RayJobs where the call names one (rayjobs.flows.ts).
 */
import { join } from 'node:path';
import type { DashboardTarget } from '../../domain/dashboard.js';
import { RayMcpError } from '../../domain/errors.js';
import { analyzeFailure, type FailureAnalysis } from '../../domain/failure-analysis.js';
import { isTerminal, type JobView } from '../../domain/jobs.js';
import type { JobOperations } from '../../domain/operations/jobs.js';
import type { RayJobFailures } from '../../domain/ray-api.js';
import {
  DEFAULT_LOG_LINES,
  type JobResourceRow,
  jobListSignature,
  jobSignature,
  MAX_RESOURCE_JOBS,
  type SubmitJobInput,
} from '../../domain/tools/jobs.js';
import type { JobActor } from '../../machines/job.machine.js';
import {
  type JobsActor,
  jobSystemId,
  jobsSystemId,
  type SubmitRequest,
} from '../../machines/jobs.machine.js';
import { isLocal } from '../cluster-records.js';
import { clusterView, dashboardOf } from '../views/cluster.view.js';
import type { FlowsOf } from './flow.js';
import { clusterWarnings } from './kube-events.js';
import type { Ops } from './ops.js';
import {
  cancelRayJob,
  countBy,
  inspectRayJob,
  isRayJobMode,
  rayJobFlows,
  rayJobRayTarget,
  submitRayJob,
  waitRayJob,
} from './rayjobs.flows.js';
import { resolveCluster } from './resolve.js';
import { waitWithProgress } from './wait.js';

/** A working_dir upload can take a while. */
const SUBMIT_TIMEOUT_MS = 300_000;
/** How long cancel waits for Ray to report the job stopped. */
const STOP_SETTLE_MS = 15_000;
const DEFAULT_WAIT_SECONDS = 300;
const DEFAULT_LOG_BYTES = 32 * 1024;
/** The log tail a failure analysis reads. */
const ANALYSIS_LOG = { lines: 200, maxBytes: 64 * 1024 };

/** submit_ray_job's arguments that only a RayJob takes. */
const RAYJOB_ONLY = [
  'rayjob',
  'namespace',
  'kubernetes_context',
  'rayjob_cluster',
  'shutdown_after_job_finishes',
  'ttl_seconds_after_finished',
  'active_deadline_seconds',
] as const;

interface JobTarget {
  clusterId: string;
  dashboard: DashboardTarget;
  jobs: JobsActor;
  /** Where a job's driver log is on this machine (clusters ray-mcp started). */
  logPath?: (submissionId: string) => string;
}

/** The jobs actor of a cluster that can take jobs now, or a clear error. */
function jobTarget(ops: Ops, clusterId: string | undefined): JobTarget {
  const actor = resolveCluster(ops, clusterId);
  const view = clusterView(actor, ops.now());
  const dashboard = dashboardOf(actor);
  if (!(view.status === 'running' || view.status === 'degraded') || !dashboard) {
    throw new RayMcpError(
      'conflict',
      `Cluster ${view.cluster_id} is ${view.status}; jobs need a running cluster.`,
      view.status === 'starting'
        ? 'Wait for it to start (init_ray_cluster returns when it is usable), then try again.'
        : 'Start one with init_ray_cluster, or name a running one with cluster_id.',
    );
  }
  const tempDir = isLocal(actor) ? actor.getSnapshot().context.tempDir : undefined;
  return {
    clusterId: view.cluster_id,
    dashboard,
    jobs: ops.jobs(view.cluster_id),
    logPath: tempDir ? (sid) => join(tempDir, 'session_latest', 'logs', `job-driver-${sid}.log`) : undefined,
  };
}

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

const noJob = (target: JobTarget, id: string) =>
  new RayMcpError('not_found', `No job ${id} on ${target.clusterId}.`, 'list_ray_jobs shows its jobs.');

function viewOf(target: JobTarget, id: string): JobView {
  const view = target.jobs.getSnapshot().context.jobs[id];
  if (!view) throw noJob(target, id);
  return view;
}

/** The actor kept up to date for one job (started on first use). */
async function watchedJob(ops: Ops, target: JobTarget, id: string): Promise<JobActor> {
  await ops.ask(target.jobs, { type: 'jobs.watch', dashboard: target.dashboard, id });
  const job = ops.get<JobActor>(jobSystemId(target.clusterId, id));
  if (!job) throw noJob(target, id);
  return job;
}

const failureFrom = (view: JobView, logTail: string, ray?: RayJobFailures): FailureAnalysis =>
  analyzeFailure({
    status: view.status,
    message: view.message,
    errorType: view.error_type,
    exitCode: view.driver?.exit_code,
    logTail,
    ray,
  });

/** The job's failed tasks and dead actors from Ray's state API; nothing when it cannot be read. */
async function rayFailuresOf(
  ops: Ops,
  target: JobTarget,
  view: JobView,
): Promise<RayJobFailures | undefined> {
  if (!view.job_id || !/^[0-9a-f]+$/i.test(view.job_id)) return undefined;
  try {
    const { data } = await ops.askForAnswer(
      target.jobs,
      { type: 'jobs.failures', dashboard: target.dashboard, jobId: view.job_id },
      { timeoutMs: 20_000 },
    );
    return data;
  } catch {
    // An older Ray or a busy dashboard: the log is still there to read.
    return undefined;
  }
}

/** The failure analysis of a failed job, from the tail of its log and Ray's record of it. */
async function failureOf(ops: Ops, target: JobTarget, view: JobView): Promise<FailureAnalysis> {
  const ray = rayFailuresOf(ops, target, view);
  let logTail = '';
  try {
    const { data } = await ops.askForAnswer(target.jobs, {
      type: 'jobs.logs',
      dashboard: target.dashboard,
      id: view.submission_id,
      ...ANALYSIS_LOG,
      logPath: target.logPath?.(view.submission_id),
    });
    logTail = data.text ?? '';
  } catch {
    // No log (e.g. a runtime env that never started): the status message is all there is.
  }
  return failureFrom(view, logTail, await ray);
}

const failureIfFailed = (ops: Ops, target: JobTarget, view: JobView) =>
  view.status === 'FAILED' ? failureOf(ops, target, view) : Promise.resolve(undefined);

/** What submit_ray_job sends to Ray: its arguments without the RayJob ones. */
function toSubmit(args: SubmitJobInput): SubmitRequest {
  const stray = RAYJOB_ONLY.filter((k) => args[k] !== undefined);
  if (stray.length) {
    throw new RayMcpError(
      'invalid_input',
      `${stray.join(', ')} ${stray.length > 1 ? 'are' : 'is'} for RayJobs.`,
      'Pass job_type "rayjob" to create a RayJob, or leave them out to submit to the cluster directly.',
    );
  }
  // Past the check above, what is left besides cluster_id and job_type is for Ray.
  const { cluster_id: _c, job_type: _t, ...submit } = args;
  return submit;
}

/**
 * Terminal escapes and other control characters are stripped: the text goes to a model and maybe
 * a terminal, and it is the job's, not ours.
 */
function stripControl(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing escape sequences is the point
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}

export const jobFlows: FlowsOf<JobOperations> = {
  ...rayJobFlows,

  async 'job.submit'(ops, args) {
    if (isRayJobMode(args)) return submitRayJob(ops, args);
    const submit = toSubmit(args);
    const target = jobTarget(ops, args.cluster_id);
    const { data } = await ops.askForAnswer(
      target.jobs,
      { type: 'jobs.submit', dashboard: target.dashboard, submit },
      { timeoutMs: SUBMIT_TIMEOUT_MS },
    );
    return { ...viewOf(target, data.submissionId), existed: data.existed };
  },

  async 'job.list'(ops, { cluster_id, status, limit = 20, cursor }) {
    const target = jobTarget(ops, cluster_id);
    const snapshot = await ops.ask(target.jobs, { type: 'jobs.refresh', dashboard: target.dashboard });
    const all = Object.values(snapshot.context.jobs)
      .filter((j) => !status || status.includes(j.status))
      .sort((a, b) => (b.start_time ?? '').localeCompare(a.start_time ?? ''));
    const offset = cursor ? Number(cursor.slice(2)) : 0;
    const jobs = all.slice(offset, offset + limit).map((j) => ({
      submission_id: j.submission_id,
      status: j.status,
      entrypoint: j.entrypoint.length > 120 ? `${j.entrypoint.slice(0, 120)}…` : j.entrypoint,
      start_time: j.start_time,
      end_time: j.end_time,
      message: j.status === 'FAILED' ? j.message?.slice(0, 200) : undefined,
    }));
    return {
      cluster_id: target.clusterId,
      jobs,
      total: all.length,
      next_cursor: offset + limit < all.length ? `o:${offset + limit}` : undefined,
      counts: countBy(all.map((j) => j.status)),
    };
  },

  async 'job.inspect'(ops, args) {
    if (args.rayjob) return inspectRayJob(ops, args);
    const id = jobIdOf(args);
    const target = jobTarget(ops, args.cluster_id);
    await ops.ask(target.jobs, { type: 'jobs.get', dashboard: target.dashboard, id });
    const view = viewOf(target, id);
    const failure = await failureIfFailed(ops, target, view);
    // On KubeRay, the Warning events of the cluster and its pods belong with the analysis.
    return { ...view, failure, ...(failure && (await clusterWarnings(ops, target.clusterId))) };
  },

  async 'job.cancel'(ops, args) {
    if (args.rayjob) return cancelRayJob(ops, args);
    if (args.mode) {
      throw new RayMcpError(
        'invalid_input',
        'mode is for RayJobs.',
        'Pass rayjob=name with it, or leave mode out.',
      );
    }
    const id = jobIdOf(args);
    const target = jobTarget(ops, args.cluster_id);
    const { data } = await ops.askForAnswer(target.jobs, {
      type: 'jobs.stop',
      dashboard: target.dashboard,
      id,
    });
    // The jobs actor answers a stop that went through with no data (src/actors/jobs.actor.ts).
    const alreadyEnded = data?.alreadyEnded === true;
    const job = () => ops.get<JobActor>(jobSystemId(target.clusterId, id));
    const running = !alreadyEnded && job();
    if (running)
      await ops.ask(running, { type: 'job.awaitEnd' }, { timeoutMs: STOP_SETTLE_MS }).catch(() => undefined);
    const view = job()?.getSnapshot().context.view ?? viewOf(target, id);
    return { ...view, already_ended: alreadyEnded };
  },

  async 'job.wait'(ops, args) {
    const timeoutMs = (args.timeout_seconds ?? DEFAULT_WAIT_SECONDS) * 1000;
    if (args.rayjob) return waitRayJob(ops, args, timeoutMs);
    const id = jobIdOf(args);
    const target = jobTarget(ops, args.cluster_id);
    const job = await watchedJob(ops, target, id);
    const { ended, waitedSeconds } = await waitWithProgress(
      ops,
      timeoutMs,
      () => job.getSnapshot().context.view.status,
      (options) => ops.ask(job, { type: 'job.awaitEnd' }, options),
    );
    const view = job.getSnapshot().context.view;
    const failure = await failureIfFailed(ops, target, view);
    return {
      ...view,
      ended,
      waited_seconds: waitedSeconds,
      failure,
      ...(failure && (await clusterWarnings(ops, target.clusterId))),
    };
  },

  async 'job.logs'(ops, args) {
    let id = args.submission_id ?? args.identity;
    let clusterId = args.cluster_id;
    if (args.rayjob) {
      if (id || clusterId) {
        throw new RayMcpError(
          'invalid_input',
          'Pass rayjob, or cluster_id and submission_id, not both.',
          'A RayJob names its cluster and Ray job itself.',
        );
      }
      ({ submissionId: id, clusterId } = await rayJobRayTarget(ops, args));
    }
    const sid = jobIdOf({ submission_id: id });
    const target = jobTarget(ops, clusterId);
    const { snapshot, data } = await ops.askForAnswer(target.jobs, {
      type: 'jobs.logs',
      dashboard: target.dashboard,
      id: sid,
      lines: args.lines ?? args.num_lines ?? DEFAULT_LOG_LINES,
      maxBytes: args.max_bytes ?? DEFAULT_LOG_BYTES,
      cursor: args.cursor,
      logPath: target.logPath?.(sid),
    });
    const view = snapshot.context.jobs[sid] ?? viewOf(target, sid);
    const log = stripControl(data.text ?? '');
    const analyze = args.analyze ?? args.include_errors ?? view.status === 'FAILED';
    const failure = analyze ? failureFrom(view, log, await rayFailuresOf(ops, target, view)) : undefined;
    return {
      submission_id: sid,
      cluster_id: target.clusterId,
      status: view.status,
      log,
      untrusted: true as const,
      lines: Number(data.lines ?? 0),
      truncated: data.truncated,
      older_cursor: data.older,
      newer_cursor: data.newer ?? '',
      failure,
      ...(failure && (await clusterWarnings(ops, target.clusterId))),
    };
  },

  async 'job.follow'(ops, { cluster_id, submission_id }) {
    const target = jobTarget(ops, cluster_id);
    const job = await watchedJob(ops, target, submission_id);
    const snapshot = job.getSnapshot();
    return {
      body: snapshot.context.view,
      systemId: jobSystemId(target.clusterId, submission_id),
      signature: jobSignature(snapshot),
    };
  },

  async 'job.followList'(ops, { cluster_id }) {
    const target = jobTarget(ops, cluster_id);
    const snapshot = await ops.ask(target.jobs, { type: 'jobs.refresh', dashboard: target.dashboard });
    // Keep every unfinished job watched, so the list changes as they do.
    for (const job of Object.values(snapshot.context.jobs)) {
      if (!isTerminal(job.status) && !snapshot.context.watched.includes(job.submission_id)) {
        await ops.ask(target.jobs, {
          type: 'jobs.watch',
          dashboard: target.dashboard,
          id: job.submission_id,
        });
      }
    }
    const now = target.jobs.getSnapshot();
    const rows: JobResourceRow[] = Object.values(now.context.jobs)
      .sort((a, b) => (b.start_time ?? '').localeCompare(a.start_time ?? ''))
      .slice(0, MAX_RESOURCE_JOBS)
      .map((j) => ({
        submission_id: j.submission_id,
        status: j.status,
        start_time: j.start_time,
        end_time: j.end_time,
      }));
    return {
      body: rows,
      systemId: jobsSystemId(target.clusterId),
      signature: jobListSignature(now),
    };
  },

  async 'job.clusters'(ops) {
    return { clusters: ops.clusters().map((c) => c.getSnapshot().context.id) };
  },
};
