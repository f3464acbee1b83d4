/**
 * The I/O behind the jobs machine: every dashboard call for jobs, working_dir upload and log
 * reads. One command at a time per cluster (the machine's queue).
 */
import { fromPromise } from 'xstate';
import {
  type DashboardClient,
  DashboardHttpError,
  type Dashboards,
  dashboardError,
} from '../clients/dashboard.client.js';
import { readDashboardLog, readLocalLog } from '../clients/job-logs.js';
import { packWorkingDir } from '../clients/working-dir.js';
import { RayMcpError } from '../domain/errors.js';
import { jobView, MAX_SUBMIT_BYTES } from '../domain/jobs.js';
import { untrustedText } from '../domain/redact.js';
import type { Logger } from '../logger.js';
import type { JobCommandOutput, JobsCommand, SubmitRequest } from '../machines/jobs.machine.js';
import { runServeCommand } from './serve.actor.js';

/** Failed tasks and dead actors read per job for a failure analysis (the newest few matter). */
const MAX_FAILURE_ENTRIES = 20;

const REMOTE_URI = /^[a-z][a-z0-9+.-]*:\/\//i;

export function jobsActors(deps: { dashboards: Dashboards; log: Logger }) {
  const { dashboards, log } = deps;

  async function getJob(client: DashboardClient, clusterId: string, id: string, signal: AbortSignal) {
    try {
      return jobView(clusterId, await client.getJob(id, signal));
    } catch (err) {
      if (err instanceof DashboardHttpError && err.status === 404) {
        throw new RayMcpError(
          'not_found',
          `No job ${id} on cluster ${clusterId}.`,
          'list_ray_jobs shows the jobs of the cluster (pass cluster_id for another cluster).',
        );
      }
      throw dashboardError(client.url, err);
    }
  }

  async function submit(client: DashboardClient, clusterId: string, req: SubmitRequest, signal: AbortSignal) {
    const runtimeEnv: Record<string, unknown> = { ...req.runtime_env };
    const dir = req.runtime_env?.working_dir;
    if (dir && !REMOTE_URI.test(dir)) {
      const pkg = await packWorkingDir(dir, req.runtime_env?.excludes);
      if (!(await client.hasPackage(pkg.uri, signal))) await client.putPackage(pkg.uri, pkg.zip, signal);
      log.info(
        { cluster: clusterId, uri: pkg.uri, files: pkg.files, bytes: pkg.zip.length },
        'working_dir uploaded',
      );
      runtimeEnv.working_dir = pkg.uri;
      delete runtimeEnv.excludes;
    }
    const body: Record<string, unknown> = { entrypoint: req.entrypoint };
    if (req.submission_id) body.submission_id = req.submission_id;
    if (Object.keys(runtimeEnv).length) body.runtime_env = runtimeEnv;
    if (req.metadata) body.metadata = req.metadata;
    for (const k of [
      'entrypoint_num_cpus',
      'entrypoint_num_gpus',
      'entrypoint_memory',
      'entrypoint_resources',
    ] as const) {
      if (req[k] !== undefined) body[k] = req[k];
    }
    const size = Buffer.byteLength(JSON.stringify(body), 'utf8');
    if (size > MAX_SUBMIT_BYTES) throw submissionTooLarge(`${size} bytes`);
    try {
      const { submission_id } = await client.submitJob(body, signal);
      return { view: await getJob(client, clusterId, submission_id, signal), existed: false };
    } catch (err) {
      // Ray answers 500 "... already exists ..." for a reused submission_id: that job is the answer.
      if (req.submission_id && err instanceof DashboardHttpError && /already exists/i.test(err.body)) {
        return { view: await getJob(client, clusterId, req.submission_id, signal), existed: true };
      }
      if (err instanceof RayMcpError) throw err;
      // The head forwards the submission to a job agent, which refuses bodies over 1 MiB (413).
      if (
        err instanceof DashboardHttpError &&
        /Maximum request body size|status code 413|Request Entity Too Large/i.test(err.body)
      ) {
        throw submissionTooLarge('too large');
      }
      if (err instanceof DashboardHttpError && err.status === 400) {
        throw new RayMcpError(
          'invalid_input',
          `Ray refused the job: ${untrustedText(err.body, 500, dashboards.secrets)}`,
          'Fix the submission as the message says.',
        );
      }
      throw dashboardError(client.url, err);
    }
  }

  return {
    runJobCommand: fromPromise<JobCommandOutput, { clusterId: string; command: JobsCommand }>(
      async ({ input, signal }) => {
        const { clusterId, command } = input;
        const client = dashboards.client(command.dashboard, { timeoutMs: 10_000 });
        switch (command.type) {
          case 'jobs.submit': {
            const { view, existed } = await submit(client, clusterId, command.submit, signal);
            return {
              jobs: [view],
              watch: [view.submission_id],
              data: { submissionId: view.submission_id, existed },
              at: Date.now(),
            };
          }
          case 'jobs.refresh': {
            try {
              const all = await client.listJobs(signal);
              return {
                jobs: all.filter((j) => j.submission_id).map((j) => jobView(clusterId, j)),
                at: Date.now(),
                complete: true,
              };
            } catch (err) {
              throw dashboardError(client.url, err);
            }
          }
          case 'jobs.get':
            return { jobs: [await getJob(client, clusterId, command.id, signal)], at: Date.now() };
          case 'jobs.watch': {
            const view = await getJob(client, clusterId, command.id, signal);
            return { jobs: [view], watch: [view.submission_id], at: Date.now() };
          }
          case 'jobs.stop': {
            const view = await getJob(client, clusterId, command.id, signal);
            if (['SUCCEEDED', 'FAILED', 'STOPPED'].includes(view.status)) {
              return { jobs: [view], data: { alreadyEnded: true }, at: Date.now() };
            }
            try {
              await client.stopJob(command.id, signal);
            } catch (err) {
              throw dashboardError(client.url, err);
            }
            return {
              jobs: [await getJob(client, clusterId, command.id, signal)],
              watch: [view.submission_id],
              data: { alreadyEnded: false },
              at: Date.now(),
            };
          }
          case 'jobs.failures': {
            try {
              const data = await client.jobFailures(command.jobId, MAX_FAILURE_ENTRIES, signal);
              return { data, at: Date.now() };
            } catch (err) {
              throw dashboardError(client.url, err);
            }
          }
          case 'serve.apply':
          case 'serve.remove':
          case 'serve.status':
            return {
              data: await runServeCommand(
                dashboards.client(command.dashboard, { timeoutMs: 15_000 }),
                command,
                signal,
                log,
              ),
              at: Date.now(),
            };
          case 'jobs.logs': {
            const view = await getJob(client, clusterId, command.id, signal);
            const req = { lines: command.lines, maxBytes: command.maxBytes, cursor: command.cursor };
            // Ray's log API finds a driver log by its node; before the driver runs there is none.
            if (!command.logPath && !view.driver?.node_id && view.status === 'PENDING') {
              throw new RayMcpError(
                'not_found',
                `Job ${view.submission_id} has no driver log yet (PENDING${view.message ? `: ${view.message.slice(0, 200)}` : ''}).`,
                'Wait until it runs (wait_for_ray_job), then read the log again.',
              );
            }
            let page: Awaited<ReturnType<typeof readLocalLog>>;
            try {
              page = command.logPath
                ? await readLocalLog(command.logPath, req)
                : await readDashboardLog(client, view.submission_id, req, view.driver?.node_id);
            } catch (err) {
              if (err instanceof RayMcpError) throw err;
              throw dashboardError(client.url, err);
            }
            return { jobs: [view], data: page, at: Date.now() };
          }
        }
      },
    ),
  };
}

function submissionTooLarge(size: string): RayMcpError {
  return new RayMcpError(
    'invalid_input',
    `The job submission is ${size}: a Ray job agent accepts at most 1 MiB for entrypoint, runtime_env and metadata together.`,
    'Move large values (env vars, metadata, long entrypoints) into files in working_dir and read them in the job.',
  );
}
