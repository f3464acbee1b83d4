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
import type { Redactor } from '../domain/redact.js';
import {
  jobListSignature,
  jobSignature,
  jobsUri,
  MAX_RESOURCE_JOBS,
  rayJobSignature,
  rayServiceSignature,
} from '../domain/signatures.js';
import type { Logger } from '../logger.js';

const JOB_URI = /^ray:\/\/clusters\/([a-z0-9-]+)\/jobs\/([A-Za-z0-9_.-]+)$/;
const LIST_URI = /^ray:\/\/clusters\/([a-z0-9-]+)\/jobs$/;
const RAYJOB_URI = /^ray:\/\/kubernetes\/([^/]+)\/namespaces\/([a-z0-9-]+)\/rayjobs\/([a-z0-9-]+)$/;
const RAYSERVICE_URI = /^ray:\/\/kubernetes\/([^/]+)\/namespaces\/([a-z0-9-]+)\/rayservices\/([a-z0-9-]+)$/;

/**
 * The resources being watched, and where their updates go. By default each server has its own and
 * notifies its own client; the HTTP front shares one among the per-request servers of its
 * 2026-07-28 leg (updates go to its `subscriptions/listen` bus) and gives each 2025 session its own.
 * At most `limit` URIs are watched at once: the oldest watch stops when a new one would pass it.
 */
export class ResourceWatches {
  /** uri → stop watching it. */
  private readonly stops = new Map<string, () => void>();
  constructor(
    readonly notify: (uri: string) => void,
    private readonly limit = 1000,
  ) {}
  has(uri: string): boolean {
    return this.stops.has(uri);
  }
  add(uri: string, stop: () => void): void {
    // Two reads at once both start a watch: keep the first.
    if (this.stops.has(uri)) {
      stop();
      return;
    }
    this.stops.set(uri, stop);
    for (const [oldest, stopOldest] of this.stops) {
      if (this.stops.size <= this.limit) break;
      stopOldest();
      this.stops.delete(oldest);
    }
  }
  remove(uri: string): void {
    this.stops.get(uri)?.();
    this.stops.delete(uri);
  }
  /** Stops every watch (the session or the server is gone). */
  close(): void {
    for (const stop of this.stops.values()) stop();
    this.stops.clear();
  }
}

export interface ResourceDeps {
  port: ToolPort;
  log: Logger;
  /** Shared watches (HTTP); default: this server's own, notifying its client. */
  watches?: ResourceWatches;
  /** Scrubs what a resource read returns of the secrets this server holds. */
  redactor?: Redactor;
}

/**
 * Starts notifying on changes of `uri` (idempotent): for the HTTP front, which watches the URIs a
 * 2026-07-28 `subscriptions/listen` names before any server instance exists.
 */
export async function watchResource(
  deps: ResourceDeps & { watches: ResourceWatches },
  uri: string,
): Promise<void> {
  await readers(deps.port, deps.watches).watch(uri);
}

function readers(port: ToolPort, watches: ResourceWatches) {
  const notify = (uri: string) => watches.notify(uri);

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
      let ended = false;
      const stop = port.observe(
        followed.systemId,
        (snapshot) => {
          const now = signature(snapshot as S);
          if (now === last) return;
          last = now;
          notify(uri);
        },
        () => {
          // The actor behind it ended (its connection closed, say): follow anew (a new actor, or
          // none if the thing is gone), and tell the subscriber to read again.
          ended = true;
          if (!watches.has(uri)) return;
          watches.remove(uri);
          notify(uri);
          void watch(uri).catch(() => {});
        },
      );
      if (stop && !ended) watches.add(uri, stop);
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

  const rayService = (uri: string, context: string, namespace: string, name: string, subscribe: boolean) =>
    follow(
      uri,
      port.run('rayservice.follow', { context: decodeURIComponent(context), namespace, name }),
      rayServiceSignature,
      subscribe,
    );

  /** Starts notifying on changes of `uri`. */
  async function watch(uri: string): Promise<void> {
    if (watches.has(uri)) return;
    const rj = RAYJOB_URI.exec(uri);
    if (rj) return void (await rayJob(uri, rj[1]!, rj[2]!, rj[3]!, true));
    const rs = RAYSERVICE_URI.exec(uri);
    if (rs) return void (await rayService(uri, rs[1]!, rs[2]!, rs[3]!, true));
    const one = JOB_URI.exec(uri);
    if (one) return void (await job(uri, one[1]!, one[2]!, true));
    const list = LIST_URI.exec(uri);
    if (list) return void (await jobList(uri, list[1]!, true));
    throw asProtocolError(
      uri,
      new RayMcpError(
        'not_found',
        `${uri} is not a ray-mcp resource.`,
        'Use ray://clusters/{cluster_id}/jobs, ray://clusters/{cluster_id}/jobs/{submission_id} or ray://kubernetes/{context}/namespaces/{namespace}/rayjobs/{name} (or rayservices/{name}).',
      ),
    );
  }
  return { job, jobList, rayJob, rayService, watch };
}

export function registerResources(server: McpServer, deps: ResourceDeps): void {
  const { port, log } = deps;
  const watches =
    deps.watches ??
    new ResourceWatches((uri) => {
      server.server
        .sendResourceUpdated({ uri })
        .catch((err) => log.debug({ err, uri }, 'resource update not sent'));
    });
  const { job, jobList, rayJob, rayService, watch } = readers(port, watches);

  /** On a 2026-07-28 connection the SDK routes updates to listeners; reading a resource starts its watch. */
  const modern = () => (server.server.getNegotiatedProtocolVersion() ?? '') >= '2026';
  const json = (uri: URL, body: unknown) => ({
    contents: [
      {
        uri: uri.href,
        mimeType: 'application/json',
        text: JSON.stringify(deps.redactor ? deps.redactor.value(body) : body),
      },
    ],
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

  server.registerResource(
    'kuberay-rayservice',
    new ResourceTemplate('ray://kubernetes/{context}/namespaces/{namespace}/rayservices/{name}', {
      list: undefined,
    }),
    {
      title: 'KubeRay RayService',
      description:
        'One RayService: its state, active and pending cluster, Serve application statuses. The context is ' +
        'URI-encoded. Subscribe to hear when any of them changes.',
      mimeType: 'application/json',
    },
    async (uri, vars) =>
      json(
        uri,
        await rayService(uri.href, String(vars.context), String(vars.namespace), String(vars.name), modern()),
      ),
  );

  server.server.setRequestHandler('resources/subscribe', async (request) => {
    await watch(request.params.uri);
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (request) => {
    watches.remove(request.params.uri);
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
