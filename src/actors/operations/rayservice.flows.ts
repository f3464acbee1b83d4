/**
 * The KubeRay side of the Serve tools: a RayService per application. Deploy applies it (a dry run
 * first: the same spec again sends nothing, `dry_run` returns the diff), list reads the connection's
 * informer cache (one by name: in full, with its events), delete removes only what ray-mcp created
 * or what `cluster_id` names. Every step asks a connection or a `rayservice:` actor.
 */
import { RayMcpError } from '../../domain/errors.js';
import { K8sNameSchema, toKubeRaySpec } from '../../domain/kuberay.js';
import { type RayServiceSummary, rayServiceManifest, rayServiceState } from '../../domain/rayservice.js';
import type { ServeAppConfig } from '../../domain/serve.js';
import {
  type DeleteServeInput,
  type DeleteServeOutput,
  type DeployServeInput,
  type DeployServeOutput,
  type ListServeInput,
  type ListServeOutput,
  type RayServiceView,
  rayServiceSignature,
  rayServiceView,
  type ServeTargetArgs,
} from '../../domain/tools/serve.js';

export { isKubeServe } from '../../domain/tools/serve.js';

import type { KubeConnectionActor } from '../../machines/kube-connection.machine.js';
import type { RayServiceActor } from '../../machines/rayservice.machine.js';
import { kubeEventsOf } from './kube-events.js';
import type { Ops } from './ops.js';
import { requireKubeRay, resolveConnection } from './resolve.js';

const SYNC_TIMEOUT_MS = 30_000;
const APPLY_TIMEOUT_MS = 60_000;
/** How long a deploy waits (without wait_seconds) for the operator to take up a change. */
const RECONCILE_WAIT_MS = 10_000;
const DELETE_WAIT_MS = 30_000;

const key = (ns: string, name: string) => `${ns}/${name}`;

/** The connection and namespace, with the namespace's RayServices listed. */
async function scope(
  ops: Ops,
  args: ServeTargetArgs,
): Promise<{ conn: KubeConnectionActor; namespace: string }> {
  const conn = await resolveConnection(ops, args.kubernetes_context);
  requireKubeRay(conn, 'RayService');
  const namespace = args.namespace ?? conn.getSnapshot().context.session!.namespace;
  await ops.ask(conn, { type: 'kube.watchNamespace', namespace });
  await ops.ask(
    conn,
    { type: 'kube.awaitSynced', namespace, resource: 'rayservices' },
    { timeoutMs: SYNC_TIMEOUT_MS },
  );
  return { conn, namespace };
}

async function follow(ops: Ops, conn: KubeConnectionActor, namespace: string, name: string) {
  const { data } = await ops.askForAnswer(conn, { type: 'kube.rayService', namespace, name });
  const actor = ops.get<RayServiceActor>(data.systemId);
  if (!actor)
    throw new RayMcpError('unavailable', `RayService ${namespace}/${name} is not followed.`, 'Try again.');
  return { actor, systemId: data.systemId };
}

function rayServiceName(name: string): string {
  if (!K8sNameSchema.safeParse(name).success) {
    throw new RayMcpError(
      'invalid_input',
      `${name} cannot name a RayService: 1-47 lowercase letters, digits and dashes, starting with a letter.`,
      'Pick such a name (KubeRay names its clusters and services after it).',
    );
  }
  return name;
}

const view = (s: RayServiceSummary, context: string, full = false) =>
  rayServiceView(s, context, rayServiceState(s), full);

const FAILED_APPS = ['DEPLOY_FAILED', 'UNHEALTHY'];
const failedOf = (s?: RayServiceSummary) =>
  !!s && [...s.active.apps, ...s.pending.apps].some((a) => FAILED_APPS.includes(a.status));

/** Until `done` holds for the actor's summary, the time is up, or the call is cancelled. */
function until(ops: Ops, actor: RayServiceActor, ms: number, done: (s?: RayServiceSummary) => boolean) {
  return new Promise<void>((resolve) => {
    let ended = false;
    let sub: { unsubscribe(): void } | undefined;
    const finish = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      sub?.unsubscribe();
      ops.signal.removeEventListener('abort', finish);
      resolve();
    };
    const check = () => {
      if (done(actor.getSnapshot().context.summary)) finish();
    };
    const timer = setTimeout(finish, ms);
    ops.signal.addEventListener('abort', finish, { once: true });
    // A stopped actor completes the subscription at once: `finish` then runs before `sub` is set.
    sub = actor.subscribe({ next: check, error: finish, complete: finish });
    if (ended) sub.unsubscribe();
    else check();
  });
}

/**
 * Gives back the hold `follow` took: the connection drops the actor once nobody holds it and its
 * RayService is not there (after a dry run or a failed apply of a new name, a delete that went
 * through). Every follow but a resource's (which holds its actor while watched) is released.
 */
function release(conn: KubeConnectionActor, namespace: string, name: string): void {
  conn.send({ type: 'kube.releaseRayService', namespace, name });
}

function refuseForRayService(args: DeployServeInput): void {
  const dir = args.runtime_env?.working_dir;
  if (dir && !/^[a-z][a-z0-9+.-]*:\/\//i.test(dir)) {
    throw new RayMcpError(
      'invalid_input',
      `A RayService cannot take the local folder ${dir} as working_dir: KubeRay deploys from inside the cluster.`,
      'Use a remote URI (gcs://, s3://, https://...zip), or bake the code into the image.',
    );
  }
  if (args.runtime_env?.excludes) {
    throw new RayMcpError(
      'invalid_input',
      'excludes apply to a local working_dir only.',
      'Leave excludes out.',
    );
  }
  if (args.cluster_id) {
    throw new RayMcpError(
      'invalid_input',
      'A RayService runs on a cluster of its own; cluster_id does not apply.',
      'Drop cluster_id; shape its cluster with head_node_spec and worker_node_specs.',
    );
  }
}

export async function deployRayService(
  ops: Ops,
  args: DeployServeInput,
  app: ServeAppConfig,
): Promise<DeployServeOutput> {
  refuseForRayService(args);
  const name = rayServiceName(args.name);
  const { conn, namespace } = await scope(ops, args);
  const context = conn.getSnapshot().context.id;
  const manifest = rayServiceManifest({
    name,
    namespace,
    apps: [app],
    cluster: toKubeRaySpec({
      name,
      namespace,
      ray_version: args.ray_version,
      image: args.image,
      head: args.head_node_spec,
      workers: args.worker_node_specs,
    }),
  });
  const { actor } = await follow(ops, conn, namespace, name);
  const dryRun = args.dry_run === true;
  const { data } = await ops
    .askForAnswer(actor, { type: 'rayservice.apply', manifest, dryRun }, { timeoutMs: APPLY_TIMEOUT_MS })
    .finally(() => release(conn, namespace, name));
  const started = ops.now();
  if (!dryRun && data.changed) {
    const generation = data.summary?.generation ?? 0;
    const waitMs = args.wait_seconds !== undefined ? args.wait_seconds * 1000 : RECONCILE_WAIT_MS;
    ops.progress(0, waitMs / 1000, `RayService ${namespace}/${name} applied; waiting for KubeRay`);
    // Taken up: KubeRay has seen this generation and named a cluster for it. With wait_seconds: ready or failed.
    await until(ops, actor, ops.budget(waitMs), (s) =>
      args.wait_seconds !== undefined && args.wait_seconds > 0
        ? !!s && (s.ready || failedOf(s)) && (s.observedGeneration ?? 0) >= generation
        : !!s && (s.observedGeneration ?? 0) >= generation && !!(s.pending.cluster || s.active.cluster),
    );
  }
  const s = dryRun ? data.summary : (actor.getSnapshot().context.summary ?? data.summary);
  if (!s)
    throw new RayMcpError(
      'unavailable',
      `RayService ${namespace}/${name} was not read back.`,
      'Check it with list_serve_apps.',
    );
  return {
    cluster_id: s.active.cluster,
    ready: s.ready,
    failed: failedOf(s),
    waited_seconds: Math.round((ops.now() - started) / 100) / 10,
    rayservice: view(s, context),
    created: data.created,
    changed: data.changed,
    dry_run: dryRun || undefined,
    diff: data.diff.length ? data.diff : undefined,
  };
}

export async function listRayServices(ops: Ops, args: ListServeInput): Promise<ListServeOutput> {
  const { conn, namespace } = await scope(ops, args);
  const c = conn.getSnapshot().context;
  const all = Object.values(c.rayServices)
    .filter((s) => s.namespace === namespace)
    .sort((a, b) => a.name.localeCompare(b.name));
  if (args.name) {
    const s = c.rayServices[key(namespace, args.name)];
    if (!s) {
      throw new RayMcpError(
        'not_found',
        `No RayService ${args.name} in namespace ${namespace} of ${c.id}.`,
        all.length
          ? `RayServices there: ${all
              .map((x) => x.name)
              .slice(0, 20)
              .join(', ')}.`
          : 'Deploy one with deploy_serve_app (cluster_type "kubernetes").',
      );
    }
    const { actor } = await follow(ops, conn, namespace, args.name);
    release(conn, namespace, args.name); // only its snapshot is read, now
    const latest = actor.getSnapshot().context.summary ?? s;
    const clusters = [latest.active.cluster, latest.pending.cluster].filter((x): x is string => !!x);
    const read = await kubeEventsOf(ops, c.id, { namespace, names: [latest.name, ...clusters], clusters });
    const full: RayServiceView = {
      ...view(latest, c.id, true),
      events: read.events.length ? read.events : undefined,
      events_note: read.note,
    };
    return { running: latest.ready, apps: [], context: c.id, namespace, rayservices: [full] };
  }
  const rayservices = all.slice(0, 50).map((s) => view(s, c.id));
  return { running: rayservices.some((r) => r.ready), apps: [], context: c.id, namespace, rayservices };
}

export async function deleteRayService(ops: Ops, args: DeleteServeInput): Promise<DeleteServeOutput> {
  const { conn, namespace } = await scope(ops, args);
  const c = conn.getSnapshot().context;
  const s = c.rayServices[key(namespace, args.name)];
  const base = { name: args.name, serve_stopped: false, remaining: [] as string[] };
  if (!s) return { ...base, deleted: false };
  if (s.protected) {
    throw new RayMcpError(
      'forbidden',
      `RayService ${namespace}/${args.name} is protected (ray-mcp/protected=true); ray-mcp does not delete it.`,
      'Remove the ray-mcp/protected label or annotation first if it really should go.',
    );
  }
  if (!s.managedByUs && args.cluster_id !== args.name) {
    throw new RayMcpError(
      'forbidden',
      `ray-mcp did not create RayService ${namespace}/${args.name}, so it does not delete it on a name alone.`,
      `To delete it anyway, name it twice: cluster_id="${args.name}" too.`,
    );
  }
  const { actor } = await follow(ops, conn, namespace, args.name);
  try {
    await ops.ask(actor, { type: 'rayservice.delete', uid: s.uid }, { timeoutMs: APPLY_TIMEOUT_MS });
    await ops
      .ask(actor, { type: 'rayservice.awaitGone' }, { timeoutMs: ops.budget(DELETE_WAIT_MS) })
      .catch(() => undefined);
  } finally {
    release(conn, namespace, args.name);
  }
  const after = actor.getSnapshot().context.summary;
  return { ...base, deleted: true, rayservice: view(after ?? { ...s, deleting: true }, c.id) };
}

export async function followRayService(ops: Ops, args: { context: string; namespace: string; name: string }) {
  const { conn, namespace } = await scope(ops, {
    kubernetes_context: args.context,
    namespace: args.namespace,
  });
  const c = conn.getSnapshot().context;
  // No actor for a name that is not there (a read of a typo would otherwise leave one behind). The
  // follow is not released: a resource's watch holds its actor (and one read holds it as a watch would).
  if (!c.rayServices[key(namespace, args.name)]) {
    throw new RayMcpError(
      'not_found',
      `No RayService ${args.name} in namespace ${namespace} of ${c.id}.`,
      'list_serve_apps (cluster_type "kubernetes") shows the RayServices.',
    );
  }
  const { actor, systemId } = await follow(ops, conn, namespace, args.name);
  const s = actor.getSnapshot().context.summary ?? c.rayServices[key(namespace, args.name)];
  if (!s) {
    throw new RayMcpError(
      'not_found',
      `No RayService ${args.name} in namespace ${namespace} of ${c.id}.`,
      'list_serve_apps (cluster_type "kubernetes") shows the RayServices.',
    );
  }
  return { body: view(s, c.id, true), systemId, signature: rayServiceSignature(actor.getSnapshot()) };
}
