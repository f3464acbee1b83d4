import { CLOUD_PROVIDERS, type CloudClusterInfo, type CloudProvider } from '../../domain/cloud.js';
import {
  eksCreateRequests,
  estimateCost,
  gkeCreateRequest,
  toCreateSpec,
} from '../../domain/cloud-create.js';
import { RayMcpError } from '../../domain/errors.js';
import type { CloudOperations } from '../../domain/operations/cloud.js';
import type {
  CloudStatus,
  CreateClusterResult,
  JsonObject,
  OperationResult,
} from '../../domain/tools/cloud.js';
import { cloudStateOf } from '../../machines/cloud-connection.machine.js';
import { askCloud, isAuthenticated } from './cloud.js';
import type { FlowsOf } from './flow.js';
import type { Ops } from './ops.js';

// The cloud steps other families' flows take (the Kubernetes tools list, describe and connect).
export {
  CLOUD_PAGE_SIZE,
  type CloudWhereArgs,
  cloudKubeTarget,
  describeCloudCluster,
  listCloudClusters,
  writeKubeconfigContext,
} from './cloud.js';

/** How often a wait tells the caller where the creation is, even when nothing changed. */
const HEARTBEAT_MS = 5000;

/** A request body as it goes over the wire (what a dry run shows): JSON, undefined fields dropped. */
const asJson = (body: object): JsonObject => JSON.parse(JSON.stringify(body));

export const cloudFlows: FlowsOf<CloudOperations> = {
  async 'cloud.detect'(ops, { provider }) {
    const wanted = provider ? [provider] : [...CLOUD_PROVIDERS];
    const providers = await Promise.all(
      wanted.map(async (p) => {
        const snapshot = await ops.ask(ops.cloud(p), { type: 'cloud.detect' });
        return { ...snapshot.context.detection!, state: cloudStateOf(snapshot) };
      }),
    );
    return { providers, recommended: providers.find((p) => p.usable)?.provider };
  },

  async 'cloud.authenticate'(ops, args) {
    const { provider } = args;
    if (provider === 'gke' && (args.profile || args.region)) {
      throw new RayMcpError(
        'invalid_input',
        'profile and region are for EKS.',
        'For GKE pass project_id and optionally service_account_path.',
      );
    }
    if (provider === 'eks' && (args.project_id || args.service_account_path)) {
      throw new RayMcpError(
        'invalid_input',
        'project_id and service_account_path are for GKE.',
        'For EKS pass region and optionally profile.',
      );
    }
    const options = {
      projectId: args.project_id,
      serviceAccountPath: args.service_account_path,
      profile: args.profile,
      region: args.region,
    };
    const snapshot = await ops.ask(ops.cloud(provider), { type: 'cloud.authenticate', options });
    const { identity, authenticatedAt } = snapshot.context;
    return {
      provider,
      state: cloudStateOf(snapshot),
      identity: identity!,
      authenticated_at: authenticatedAt!,
    };
  },

  async 'cloud.status'(ops, { provider }) {
    const wanted = provider && provider !== 'all' ? [provider] : [...CLOUD_PROVIDERS];
    return { providers: wanted.map((p) => statusOf(ops, p)) };
  },

  async 'cloud.disconnect'(ops, { provider }) {
    const actor = ops.cloud(provider);
    const was = cloudStateOf(actor.getSnapshot());
    const snapshot = await ops.ask(actor, { type: 'cloud.disconnect' });
    return { provider, state: cloudStateOf(snapshot), was };
  },

  async 'cloud.createCluster'(ops, args) {
    const deadline = ops.now() + (args.wait_seconds ?? 0) * 1000;
    const { provider, dry_run } = args;
    const authenticated = isAuthenticated(ops, provider);
    if (!dry_run && !authenticated) {
      // The defaults (project, region) come from the credentials: authenticate first.
      await ops.ask(ops.cloud(provider), { type: 'cloud.authenticate', options: {} });
    }
    const identity = ops.cloud(provider).getSnapshot().context.identity;
    const specInput = { ...args.cluster_spec, project_id: args.cluster_spec.project_id ?? args.project_id };
    const spec = toCreateSpec(provider, specInput, {
      project: identity?.project ?? ops.config.gcp.project,
      region: identity?.region ?? ops.config.aws.region,
    });
    const base = {
      provider,
      cluster_name: spec.name,
      location: spec.location,
      project: spec.project,
      cost: estimateCost(spec),
    };
    const node_pools = spec.node_pools.length;

    if (dry_run) {
      const cluster = authenticated ? await existingManaged(ops, provider, spec) : undefined;
      const name_check = !authenticated ? 'not_checked' : cluster ? 'exists_managed' : 'available';
      const requests =
        provider === 'gke'
          ? { createCluster: asJson(gkeCreateRequest(spec)) }
          : (() => {
              const r = eksCreateRequests(spec);
              return { createCluster: asJson(r.cluster), createNodegroups: r.nodegroups.map(asJson) };
            })();
      const next_step =
        name_check === 'exists_managed'
          ? 'The cluster exists (created by ray-mcp); creating it again returns it.'
          : 'Call create_kubernetes_cluster again with dry_run: false to create it.';
      const result: CreateClusterResult = {
        ...base,
        dry_run: true,
        outcome: 'planned',
        name_check,
        requests,
        cluster,
        next_step,
      };
      return { result, node_pools };
    }

    const r = await askCloud(ops, provider, { type: 'cloud.create', spec });
    const opId = r.operation?.view.operation_id;
    // The wait counts from the call, so the caller's timeout (wait_seconds + a margin) holds.
    const waitSeconds = Math.max(0, Math.ceil((deadline - ops.now()) / 1000));
    const operation = opId ? await waitForOperation(ops, provider, opId, waitSeconds) : undefined;
    const outcome = r.outcome === 'new' ? 'started' : r.outcome === 'running' ? 'already_running' : 'exists';
    const next_step =
      operation?.status === 'running'
        ? `get_cloud_operation(operation_id="${operation.operation_id}", wait_seconds=600) follows the creation; then connect_kubernetes_cluster.`
        : operation?.status === 'failed'
          ? 'Fix the cause (see operation.error), then create it again (a failed cluster may need deleting in the console first).'
          : 'connect_kubernetes_cluster connects to it.';
    const result: CreateClusterResult = {
      ...base,
      dry_run: false,
      outcome,
      operation,
      cluster: r.info,
      next_step,
    };
    return { result, node_pools };
  },

  async 'cloud.operation'(ops, { operation_id, wait_seconds }) {
    const provider = operation_id.split(':')[1] as CloudProvider;
    return waitForOperation(ops, provider, operation_id, wait_seconds ?? 0);
  },
};

function statusOf(ops: Ops, provider: CloudProvider): CloudStatus {
  const snapshot = ops.cloud(provider).getSnapshot();
  const c = snapshot.context;
  const state = cloudStateOf(snapshot);
  return {
    provider,
    state,
    authenticated: state === 'authenticated',
    identity: c.identity,
    authenticated_at: c.authenticatedAt,
    error:
      state === 'failed' && c.error
        ? { message: c.error.message, fix: c.error.fix, problem: c.error.problem }
        : undefined,
    operations: Object.values(c.operations)
      .map((o) => o.view)
      .sort((a, b) => b.started_at.localeCompare(a.started_at))
      .slice(0, 10),
  };
}

/** The cluster a dry run would meet under that name: undefined if the name is free; refused if not ours. */
async function existingManaged(
  ops: Ops,
  provider: CloudProvider,
  spec: { name: string; project?: string; location: string },
): Promise<CloudClusterInfo | undefined> {
  let cluster: CloudClusterInfo;
  try {
    const where = { project: spec.project, location: spec.location };
    cluster = (await askCloud(ops, provider, { type: 'cloud.describe', where, name: spec.name })).info;
  } catch (err) {
    if (err instanceof RayMcpError && err.code === 'not_found') return undefined;
    throw err;
  }
  if (!cluster.managed_by_ray_mcp) {
    throw new RayMcpError(
      'conflict',
      `A cluster named ${spec.name} already exists in ${spec.project ? `${spec.project}/` : ''}${spec.location} and was not created by ray-mcp.`,
      'Pick another name. To use that cluster, connect to it with connect_kubernetes_cluster instead.',
    );
  }
  return cluster;
}

/**
 * Waits for an operation to end or `seconds` to pass (a timeout is not an error), telling the
 * caller on every change and every 5 s.
 */
async function waitForOperation(
  ops: Ops,
  provider: CloudProvider,
  operationId: string,
  seconds: number,
): Promise<OperationResult> {
  const actor = ops.cloud(provider);
  const view = () => actor.getSnapshot().context.operations[operationId]?.view;
  const started = ops.now();
  const running = view() === undefined || view()!.status === 'running';
  // Without a progressToken the call answers within its budget; the operation goes on.
  const waitMs = ops.budget(seconds * 1000);
  if (running && waitMs > 0) {
    const tell = () => {
      const v = view();
      const s = Math.round((ops.now() - started) / 1000);
      if (v) ops.progress(s, seconds, `${v.status}: ${v.detail ?? ''} (waited ${s} s)`);
    };
    tell();
    const heartbeat = setInterval(tell, HEARTBEAT_MS);
    try {
      await ops.ask(
        actor,
        { type: 'cloud.awaitOperation', operationId },
        { timeoutMs: waitMs, onSnapshot: tell },
      );
    } catch (err) {
      if (!(err instanceof RayMcpError && err.code === 'timeout') || ops.signal.aborted) throw err;
    } finally {
      clearInterval(heartbeat);
    }
  }
  const v = view();
  if (!v) {
    throw new RayMcpError(
      'not_found',
      `No operation ${operationId} in this ray-mcp session.`,
      'Operations are kept until disconnect or restart; get_kubernetes_cluster_info shows the cluster status.',
    );
  }
  return {
    ...v,
    ended: v.status !== 'running',
    waited_seconds: Math.round((ops.now() - started) / 100) / 10,
  };
}
