/**
 * Resources for long-running sessions: one job, the jobs of a cluster, and one KubeRay RayJob. A client can
 * subscribe to either (2025 revisions: `resources/subscribe`; 2026-07-28: `subscriptions/listen`,
 * which the SDK's stdio entry routes) and gets `notifications/resources/updated` whenever the
 * job actor (or any job of the list) changes state. The notifications come from actor snapshots:
 * the resource layer watches actors, it never polls Ray.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import type { RaySystem } from '../actors/system.js';
import { RayMcpError } from '../domain/errors.js';
import { isTerminal } from '../domain/jobs.js';
import type { Logger } from '../logger.js';
import type { JobActor } from '../machines/job.machine.js';
import { jobSystemId } from '../machines/jobs.machine.js';
import { jobTarget } from './tools/jobs.tool.js';
import { findRayJob, rayJobJobView, rayJobRef } from './tools/kuberay-jobs.js';

const JOB_URI = /^ray:\/\/clusters\/([a-z0-9-]+)\/jobs\/([A-Za-z0-9_.-]+)$/;
const LIST_URI = /^ray:\/\/clusters\/([a-z0-9-]+)\/jobs$/;
const RAYJOB_URI = /^ray:\/\/kubernetes\/([^/]+)\/namespaces\/([a-z0-9-]+)\/rayjobs\/([a-z0-9-]+)$/;
const MAX_LIST = 100;

export const jobUri = (clusterId: string, sid: string) => `ray://clusters/${clusterId}/jobs/${sid}`;
export const jobsUri = (clusterId: string) => `ray://clusters/${clusterId}/jobs`;

export function registerResources(server: McpServer, deps: { system: RaySystem; log: Logger }): void {
  const { system, log } = deps;
  /** uri → stop watching it. */
  const watches = new Map<string, () => void>();

  const notify = (uri: string) => {
    server.server
      .sendResourceUpdated({ uri })
      .catch((err) => log.debug({ err, uri }, 'resource update not sent'));
  };

  const readJob = async (clusterId: string, sid: string) => {
    const target = jobTarget(system, clusterId);
    await system.ask(target.jobs, { type: 'jobs.watch', dashboardUrl: target.dashboardUrl, id: sid });
    const job = system.get<JobActor>(jobSystemId(target.clusterId, sid))!;
    return job;
  };

  const readList = async (clusterId: string) => {
    const target = jobTarget(system, clusterId);
    const snapshot = await system.ask(target.jobs, {
      type: 'jobs.refresh',
      dashboardUrl: target.dashboardUrl,
    });
    // Keep every unfinished job watched, so the list changes as they do.
    for (const job of Object.values(snapshot.context.jobs)) {
      if (!isTerminal(job.status) && !snapshot.context.watched.includes(job.submission_id)) {
        await system.ask(target.jobs, {
          type: 'jobs.watch',
          dashboardUrl: target.dashboardUrl,
          id: job.submission_id,
        });
      }
    }
    return target.jobs;
  };

  const readRayJob = async (context: string, namespace: string, name: string) =>
    findRayJob(
      system,
      { rayjob: name, namespace, kubernetes_context: decodeURIComponent(context) },
      new AbortController().signal,
    );

  /** Starts notifying on changes of `uri`; idempotent. */
  async function watch(uri: string): Promise<void> {
    if (watches.has(uri)) return;
    const rj = RAYJOB_URI.exec(uri);
    if (rj) {
      const { actor } = await readRayJob(rj[1]!, rj[2]!, rj[3]!);
      const signature = () => {
        const s = actor.getSnapshot();
        const c = s.context.summary;
        return `${String(s.value)}:${c?.deploymentStatus}:${c?.jobStatus}:${c?.rayClusterName}`;
      };
      let last = signature();
      const sub = actor.subscribe(() => {
        const now = signature();
        if (now !== last) {
          last = now;
          notify(uri);
        }
      });
      watches.set(uri, () => sub.unsubscribe());
      return;
    }
    const one = JOB_URI.exec(uri);
    if (one) {
      const job = await readJob(one[1]!, one[2]!);
      let last = job.getSnapshot().context.view.status;
      const sub = job.subscribe((s) => {
        if (s.context.view.status !== last) {
          last = s.context.view.status;
          notify(uri);
        }
      });
      watches.set(uri, () => sub.unsubscribe());
      return;
    }
    const list = LIST_URI.exec(uri);
    if (list) {
      const jobs = await readList(list[1]!);
      const signature = () =>
        Object.values(jobs.getSnapshot().context.jobs)
          .map((j) => `${j.submission_id}:${j.status}`)
          .sort()
          .join(',');
      let last = signature();
      const sub = jobs.subscribe(() => {
        const now = signature();
        if (now !== last) {
          last = now;
          notify(uri);
        }
      });
      watches.set(uri, () => sub.unsubscribe());
      return;
    }
    throw new RayMcpError(
      'invalid_input',
      `${uri} is not a ray-mcp resource.`,
      'Use ray://clusters/{cluster_id}/jobs, ray://clusters/{cluster_id}/jobs/{submission_id} or ray://kubernetes/{context}/namespaces/{namespace}/rayjobs/{name}.',
    );
  }

  /** On a 2026-07-28 connection the SDK routes updates to listeners; reading a resource starts its watch. */
  const modern = () => (server.server.getNegotiatedProtocolVersion() ?? '') >= '2026';

  server.registerResource(
    'ray-job',
    new ResourceTemplate('ray://clusters/{cluster_id}/jobs/{submission_id}', { list: undefined }),
    {
      title: 'Ray job',
      description: 'One job: status, timings, message. Subscribe to hear when its state changes.',
      mimeType: 'application/json',
    },
    async (uri, vars) => {
      const job = await readJob(String(vars.cluster_id), String(vars.submission_id));
      if (modern()) await watch(uri.href);
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: 'application/json',
            text: JSON.stringify(job.getSnapshot().context.view),
          },
        ],
      };
    },
  );

  server.registerResource(
    'ray-jobs',
    new ResourceTemplate('ray://clusters/{cluster_id}/jobs', {
      list: async () => ({
        resources: system
          .clusters()
          .map((c) => c.getSnapshot().context.id)
          .map((id) => ({ uri: jobsUri(id), name: `jobs of ${id}`, mimeType: 'application/json' })),
      }),
    }),
    {
      title: 'Jobs of a Ray cluster',
      description: `The newest ${MAX_LIST} jobs of a cluster, compact. Subscribe to hear when any of them changes state.`,
      mimeType: 'application/json',
    },
    async (uri, vars) => {
      const jobs = await readList(String(vars.cluster_id));
      if (modern()) await watch(uri.href);
      const rows = Object.values(jobs.getSnapshot().context.jobs)
        .sort((a, b) => (b.start_time ?? '').localeCompare(a.start_time ?? ''))
        .slice(0, MAX_LIST)
        .map((j) => ({
          submission_id: j.submission_id,
          status: j.status,
          start_time: j.start_time,
          end_time: j.end_time,
        }));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(rows) }] };
    },
  );

  server.registerResource(
    'kuberay-rayjob',
    new ResourceTemplate('ray://kubernetes/{context}/namespaces/{namespace}/rayjobs/{name}', {
      list: undefined,
    }),
    {
      title: 'KubeRay RayJob',
      description:
        "One RayJob: KubeRay's deployment status, the Ray job's status, its cluster. The context is URI-encoded. " +
        'Subscribe to hear when any of them changes.',
      mimeType: 'application/json',
    },
    async (uri, vars) => {
      const found = await readRayJob(String(vars.context), String(vars.namespace), String(vars.name));
      if (modern()) await watch(uri.href);
      const s = found.actor.getSnapshot().context.summary ?? found.summary;
      const body = { ...rayJobJobView(s), rayjob: rayJobRef(s, found.connectionId) };
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body) }] };
    },
  );

  server.server.setRequestHandler('resources/subscribe', async (request) => {
    await watch(request.params.uri);
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (request) => {
    watches.get(request.params.uri)?.();
    watches.delete(request.params.uri);
    return {};
  });
}
