/**
 * Resources for long-running sessions: one job, the jobs of a cluster, and one KubeRay RayJob. A client can
 * subscribe to either (2025 revisions: `resources/subscribe`; 2026-07-28: `subscriptions/listen`,
 * which the SDK's stdio entry routes) and gets `notifications/resources/updated` whenever the
 * job actor (or any job of the list) changes state. The notifications come from actor snapshots:
 * the resource layer observes actors through the port, it never polls Ray.
 */
import {
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
import type { ToolPort } from '../actors/port.js';
import { RayMcpError } from '../domain/errors.js';
import type { Followed } from '../domain/operations/jobs.js';
import {
  jobListSignature,
  jobSignature,
  jobsUri,
  MAX_RESOURCE_JOBS,
  rayJobSignature,
} from '../domain/tools/jobs.js';
import type { Logger } from '../logger.js';

const JOB_URI = /^ray:\/\/clusters\/([a-z0-9-]+)\/jobs\/([A-Za-z0-9_.-]+)$/;
const LIST_URI = /^ray:\/\/clusters\/([a-z0-9-]+)\/jobs$/;
const RAYJOB_URI = /^ray:\/\/kubernetes\/([^/]+)\/namespaces\/([a-z0-9-]+)\/rayjobs\/([a-z0-9-]+)$/;

export function registerResources(server: McpServer, deps: { port: ToolPort; log: Logger }): void {
  const { port, log } = deps;
  /** uri → stop watching it. */
  const watches = new Map<string, () => void>();

  const notify = (uri: string) => {
    server.server
      .sendResourceUpdated({ uri })
      .catch((err) => log.debug({ err, uri }, 'resource update not sent'));
  };

  /**
   * Reads a resource; with `subscribe`, also notifies `uri` whenever `signature` of the actor
   * behind it changes (idempotent).
   */
  async function follow<T, S>(
    uri: string,
    read: Promise<Followed<T>>,
    signature: (snapshot: S) => string,
    subscribe: boolean,
  ): Promise<T> {
    const followed = await read.catch((err) => {
      throw asProtocolError(uri, err);
    });
    if (subscribe && !watches.has(uri)) {
      let last = followed.signature;
      const stop = port.observe(followed.systemId, (snapshot) => {
        const now = signature(snapshot as S);
        if (now === last) return;
        last = now;
        notify(uri);
      });
      if (stop) watches.set(uri, stop);
    }
    return followed.body;
  }

  const job = (uri: string, cluster_id: string, submission_id: string, subscribe: boolean) =>
    follow(uri, port.run('job.follow', { cluster_id, submission_id }), jobSignature, subscribe);
  const jobList = (uri: string, cluster_id: string, subscribe: boolean) =>
    follow(uri, port.run('job.followList', { cluster_id }), jobListSignature, subscribe);
  const rayJob = (uri: string, context: string, namespace: string, name: string, subscribe: boolean) =>
    follow(
      uri,
      port.run('rayjob.follow', { context: decodeURIComponent(context), namespace, name }),
      rayJobSignature,
      subscribe,
    );

  /** Starts notifying on changes of `uri`. */
  async function watch(uri: string): Promise<void> {
    if (watches.has(uri)) return;
    const rj = RAYJOB_URI.exec(uri);
    if (rj) return void (await rayJob(uri, rj[1]!, rj[2]!, rj[3]!, true));
    const one = JOB_URI.exec(uri);
    if (one) return void (await job(uri, one[1]!, one[2]!, true));
    const list = LIST_URI.exec(uri);
    if (list) return void (await jobList(uri, list[1]!, true));
    throw asProtocolError(
      uri,
      new RayMcpError(
        'not_found',
        `${uri} is not a ray-mcp resource.`,
        'Use ray://clusters/{cluster_id}/jobs, ray://clusters/{cluster_id}/jobs/{submission_id} or ray://kubernetes/{context}/namespaces/{namespace}/rayjobs/{name}.',
      ),
    );
  }

  /** On a 2026-07-28 connection the SDK routes updates to listeners; reading a resource starts its watch. */
  const modern = () => (server.server.getNegotiatedProtocolVersion() ?? '') >= '2026';
  const json = (uri: URL, body: unknown) => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body) }],
  });

  server.registerResource(
    'ray-job',
    new ResourceTemplate('ray://clusters/{cluster_id}/jobs/{submission_id}', { list: undefined }),
    {
      title: 'Ray job',
      description: 'One job: status, timings, message. Subscribe to hear when its state changes.',
      mimeType: 'application/json',
    },
    async (uri, vars) =>
      json(uri, await job(uri.href, String(vars.cluster_id), String(vars.submission_id), modern())),
  );

  server.registerResource(
    'ray-jobs',
    new ResourceTemplate('ray://clusters/{cluster_id}/jobs', {
      list: async () => ({
        resources: (await port.run('job.clusters', {})).clusters.map((id) => ({
          uri: jobsUri(id),
          name: `jobs of ${id}`,
          mimeType: 'application/json',
        })),
      }),
    }),
    {
      title: 'Jobs of a Ray cluster',
      description: `The newest ${MAX_RESOURCE_JOBS} jobs of a cluster, compact. Subscribe to hear when any of them changes state.`,
      mimeType: 'application/json',
    },
    async (uri, vars) => json(uri, await jobList(uri.href, String(vars.cluster_id), modern())),
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
    async (uri, vars) =>
      json(
        uri,
        await rayJob(uri.href, String(vars.context), String(vars.namespace), String(vars.name), modern()),
      ),
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

/**
 * What a resource read or subscribe answers on the wire: a missing cluster, job or RayJob is the
 * SDK's resource-not-found error (-32602 with data.uri, as the 2026-07-28 spec says; -32002 is
 * only its legacy alias), bad input is invalid params; anything else stays an internal error.
 */
function asProtocolError(uri: string, err: unknown): unknown {
  if (!(err instanceof RayMcpError)) return err;
  const text = `${err.message} ${err.fix}`;
  if (err.code === 'not_found') return new ResourceNotFoundError(uri, text);
  if (err.code === 'invalid_input') return new ProtocolError(ProtocolErrorCode.InvalidParams, text);
  return err;
}
