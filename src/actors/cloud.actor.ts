/**
 * The I/O behind the cloud connection machine, for both providers: authenticate (the session
 * goes into CloudTokens, the machine keeps only the identity), run one cluster command at a
 * time, forget credentials, detect what the machine has, and advance a creation operation.
 */
import { fromPromise } from 'xstate';
import { detectProvider } from '../clients/cloud-detect.js';
import { writeKubeconfigContext } from '../clients/cloud-kubeconfig.js';
import { EksClient } from '../clients/eks.client.js';
import { GkeClient } from '../clients/gke.client.js';
import type { Config } from '../config.js';
import type {
  CloudClusterInfo,
  CloudClusterSummary,
  CloudDetection,
  CloudIdentity,
  CloudOperation,
  CloudProvider,
  ClusterCreateSpec,
} from '../domain/cloud.js';
import { eksCreateRequests, gkeCreateRequest } from '../domain/cloud-create.js';
import { RayMcpError } from '../domain/errors.js';
import type { CloudKubeTarget } from '../domain/kube.js';
import type { Logger } from '../logger.js';
import type {
  CloudAuthenticated,
  CloudAuthOptions,
  CloudResult,
  CloudWhere,
  CloudWorkCommand,
  TrackedOperation,
} from '../machines/cloud-connection.machine.js';
import { cloudOperationWatcherLogic, type OperationStep } from '../watchers/cloud-operation.watcher.js';
import type { CloudTokens } from './cloud-tokens.js';

export interface CloudDeps {
  config: Config;
  tokens: CloudTokens;
  log: Logger;
}

type RunInput = {
  provider: CloudProvider;
  command: CloudWorkCommand;
  identity: CloudIdentity;
  operations: Record<string, TrackedOperation>;
};

export const operationIdOf = (spec: Pick<ClusterCreateSpec, 'provider' | 'project' | 'location' | 'name'>) =>
  spec.provider === 'gke'
    ? `create:gke:${spec.project}/${spec.location}/${spec.name}`
    : `create:eks:${spec.location}/${spec.name}`;

export function cloudActors(deps: CloudDeps) {
  const { config, tokens, log } = deps;

  async function authenticate(provider: CloudProvider, options: CloudAuthOptions, signal: AbortSignal) {
    if (provider === 'gke') {
      const client = await GkeClient.connect(
        { projectId: options.projectId, serviceAccountPath: options.serviceAccountPath },
        config,
        signal,
      );
      tokens.setSession('gke', client);
      log.info(
        { provider, method: client.identity.method, project: client.identity.project },
        'authenticated',
      );
      return client.identity;
    }
    const client = await EksClient.connect(
      { profile: options.profile, region: options.region },
      config,
      signal,
    );
    tokens.setSession('eks', client);
    log.info({ provider, method: client.identity.method, region: client.identity.region }, 'authenticated');
    return client.identity;
  }

  async function run(input: RunInput, signal: AbortSignal): Promise<CloudResult> {
    const { command, identity, provider } = input;
    switch (command.type) {
      case 'cloud.list':
        return provider === 'gke' ? listGke(identity, command, signal) : listEks(identity, command, signal);
      case 'cloud.describe': {
        const info = await describe(provider, identity, command.where, command.name, signal);
        return { kind: 'describe', info: withOperation(info.info, input.operations) };
      }
      case 'cloud.target': {
        const { info, caData } = await describe(provider, identity, command.where, command.name, signal);
        return {
          kind: 'target',
          info: withOperation(info, input.operations),
          target: targetOf(info, caData),
        };
      }
      case 'cloud.create':
        return create(command.spec, identity, input.operations, signal);
      case 'cloud.writeKubeconfig': {
        const path = command.path ?? config.kubeconfigPaths[0];
        if (!path) {
          throw new RayMcpError(
            'invalid_input',
            'No kubeconfig file to write to.',
            'Set KUBECONFIG to the file to write, or leave write_kubeconfig off (the connection works without it).',
          );
        }
        const res = await writeKubeconfigContext(command.target, {
          path,
          account: identity.account,
          profile: identity.profile,
        });
        log.info({ path: res.path, context: res.context, backup: res.backup }, 'kubeconfig context written');
        return { kind: 'kubeconfig', path: res.path, context: res.context };
      }
    }
  }

  async function listGke(
    identity: CloudIdentity,
    command: Extract<CloudWorkCommand, { type: 'cloud.list' }>,
    signal: AbortSignal,
  ): Promise<CloudResult> {
    const project = command.where.project ?? identity.project!;
    const location = command.where.location ?? '-';
    const all = (await tokens.gkeClient().listClusters(project, location, signal)).sort(byNameAndLocation);
    return {
      kind: 'list',
      clusters: all.slice(command.offset, command.offset + command.limit),
      total: all.length,
      offset: command.offset,
      project,
      location,
    };
  }

  async function listEks(
    identity: CloudIdentity,
    command: Extract<CloudWorkCommand, { type: 'cloud.list' }>,
    signal: AbortSignal,
  ): Promise<CloudResult> {
    const region = command.where.location ?? identity.region!;
    const eks = tokens.eksClient();
    const names = await eks.listClusterNames(region, signal);
    const page = names.slice(command.offset, command.offset + command.limit);
    // Only the page is described, a few at a time (ListClusters gives names only).
    const clusters: CloudClusterSummary[] = [];
    for (let i = 0; i < page.length; i += 8) {
      const batch = await Promise.all(
        page.slice(i, i + 8).map((n) =>
          eks.summarize(region, n, signal).catch((err: unknown) => {
            if (err instanceof RayMcpError && err.code === 'not_found') return undefined; // deleted meanwhile
            throw err;
          }),
        ),
      );
      clusters.push(...batch.filter((c): c is CloudClusterSummary => c !== undefined));
    }
    return { kind: 'list', clusters, total: names.length, offset: command.offset, location: region };
  }

  async function describe(
    provider: CloudProvider,
    identity: CloudIdentity,
    where: CloudWhere,
    name: string,
    signal: AbortSignal,
  ): Promise<{ info: CloudClusterInfo; caData?: string }> {
    if (provider === 'eks') {
      const region = where.location ?? identity.region!;
      const { caData, arn: _arn, ...info } = await tokens.eksClient().describeCluster(region, name, signal);
      return { info, caData };
    }
    const gke = tokens.gkeClient();
    const project = where.project ?? identity.project!;
    let location = where.location;
    if (!location || location === '-') {
      // Python-era calls name only the cluster: find its location.
      const found = (await gke.listClusters(project, '-', signal)).filter((c) => c.name === name);
      if (!found.length) {
        throw new RayMcpError(
          'not_found',
          `No GKE cluster named ${name} in project ${project}.`,
          'list_kubernetes_clusters(provider="gke") lists the clusters; check the name and project_id.',
        );
      }
      if (found.length > 1) {
        throw new RayMcpError(
          'invalid_input',
          `${found.length} GKE clusters are named ${name} (in ${found.map((c) => c.location).join(', ')}).`,
          'Pass zone or region to pick one.',
        );
      }
      location = found[0]!.location;
    }
    const { caData, ...info } = await gke.getCluster(project, location, name, signal);
    return { info, caData };
  }

  async function create(
    spec: ClusterCreateSpec,
    identity: CloudIdentity,
    operations: Record<string, TrackedOperation>,
    signal: AbortSignal,
  ): Promise<CloudResult> {
    const id = operationIdOf(spec);
    const running = operations[id];
    if (running && running.view.status === 'running')
      return { kind: 'create', outcome: 'running', operation: running };
    const existing = await describe(spec.provider, identity, where(spec), spec.name, signal)
      .then((d) => d.info)
      .catch((err: unknown) => {
        if (err instanceof RayMcpError && err.code === 'not_found') return undefined;
        throw err;
      });
    if (existing) {
      if (!existing.managed_by_ray_mcp) {
        throw new RayMcpError(
          'conflict',
          `A cluster named ${spec.name} already exists in ${where(spec).project ? `${spec.project}/` : ''}${spec.location} and was not created by ray-mcp (no managed-by: ray-mcp label).`,
          'Pick another name. To use that cluster, connect to it with connect_kubernetes_cluster instead.',
        );
      }
      const broken = ['ERROR', 'FAILED', 'DEGRADED'].includes(existing.status);
      // EKS node groups come after the cluster, from the session that created it: if that session
      // ended first, this call finishes the job instead of leaving a billed cluster without nodes.
      // Only a cluster with no node group at all: one with groups is what someone made it, not ours to add to.
      const missing =
        spec.provider === 'eks' && !broken && existing.node_pools.length === 0
          ? eksCreateRequests(spec).nodegroups
          : [];
      const settled = broken || (existing.ready && !missing.length);
      return {
        kind: 'create',
        outcome: 'exists',
        info: withOperation(existing, operations),
        // One ray-mcp started earlier (another session) and still coming up: follow it.
        operation: settled
          ? undefined
          : {
              ...newOperation(
                spec,
                missing.length
                  ? `creating missing node groups ${missing.map((n) => n.nodegroupName).join(', ')}`
                  : `cluster ${existing.status}`,
              ),
              ...(missing.length && { eksNodegroups: missing }),
            },
      };
    }
    if (spec.provider === 'gke') {
      const gkeOperation = await tokens.gkeClient().createCluster(gkeCreateRequest(spec), signal);
      log.info({ provider: 'gke', cluster: spec.name, operation: gkeOperation }, 'cluster creation started');
      return {
        kind: 'create',
        outcome: 'new',
        operation: { ...newOperation(spec, 'creation requested'), gkeOperation },
      };
    }
    const requests = eksCreateRequests(spec);
    await tokens.eksClient().createCluster(spec.location, requests.cluster, signal);
    log.info(
      { provider: 'eks', cluster: spec.name, nodegroups: requests.nodegroups.length },
      'cluster creation started',
    );
    return {
      kind: 'create',
      outcome: 'new',
      operation: { ...newOperation(spec, 'creation requested'), eksNodegroups: requests.nodegroups },
    };
  }

  async function advance(
    provider: CloudProvider,
    op: TrackedOperation,
    signal: AbortSignal,
  ): Promise<OperationStep> {
    const v = op.view;
    if (provider === 'gke') {
      const gke = tokens.gkeClient();
      if (op.gkeOperation) {
        const state = await gke.getOperation(v.project!, v.location, op.gkeOperation, signal);
        if (!state.done) return { done: false, detail: state.detail };
        if (state.error) return { done: true, ok: false, detail: state.detail, error: state.error };
      }
      const c = await gke.getCluster(v.project!, v.location, v.cluster_name, signal);
      if (c.status === 'RUNNING')
        return { done: true, ok: true, detail: `cluster RUNNING at ${c.endpoint ?? '?'}` };
      if (c.status === 'ERROR' || c.status === 'DEGRADED')
        return {
          done: true,
          ok: false,
          detail: `cluster ${c.status}`,
          error: c.status_message ?? `cluster ${c.status}`,
        };
      return { done: false, detail: `cluster ${c.status}` };
    }
    const eks = tokens.eksClient();
    const c = await eks.describeCluster(v.location, v.cluster_name, signal);
    if (c.status === 'FAILED')
      return {
        done: true,
        ok: false,
        detail: 'cluster FAILED',
        error: c.status_message ?? 'EKS reports the cluster FAILED',
      };
    if (c.status !== 'ACTIVE') return { done: false, detail: `cluster ${c.status}` };
    const wanted = op.eksNodegroups ?? [];
    const have = new Map(c.node_pools.map((p) => [p.name, p.status ?? 'UNKNOWN']));
    for (const ng of wanted) {
      if (have.has(ng.nodegroupName)) continue;
      await eks.createNodegroup(v.location, ng, signal).catch((err: unknown) => {
        if (!(err instanceof RayMcpError && err.code === 'conflict')) throw err;
      });
      have.set(ng.nodegroupName, 'CREATING');
    }
    const names = wanted.length ? wanted.map((n) => n.nodegroupName) : [...have.keys()];
    const states = names.map((n) => `${n} ${have.get(n)}`).join(', ');
    const failed = names.filter((n) => /FAILED/.test(have.get(n) ?? ''));
    if (failed.length)
      return {
        done: true,
        ok: false,
        detail: `node groups: ${states}`,
        error: `node group(s) ${failed.join(', ')} failed to create; see the EKS console (node group health).`,
      };
    if (names.every((n) => have.get(n) === 'ACTIVE'))
      return {
        done: true,
        ok: true,
        detail: `cluster ACTIVE${names.length ? `, node groups: ${states}` : ''}`,
      };
    return { done: false, detail: `cluster ACTIVE, node groups: ${states}` };
  }

  return {
    authenticate: fromPromise<CloudAuthenticated, { provider: CloudProvider; options: CloudAuthOptions }>(
      async ({ input, signal }) => ({
        identity: await authenticate(input.provider, input.options, signal),
        authenticatedAt: new Date().toISOString(),
      }),
    ),
    runCloudCommand: fromPromise<CloudResult, RunInput>(({ input, signal }) => run(input, signal)),
    forgetCredentials: fromPromise<void, { provider: CloudProvider }>(async ({ input }) => {
      await tokens.forget(input.provider);
      log.info({ provider: input.provider }, 'credentials forgotten');
    }),
    detect: fromPromise<CloudDetection, { provider: CloudProvider }>(({ input, signal }) =>
      detectProvider(input.provider, config, signal),
    ),
    operationWatcher: cloudOperationWatcherLogic(advance, config.cloud.pollIntervalMs),
  };
}

const where = (spec: ClusterCreateSpec): CloudWhere => ({ project: spec.project, location: spec.location });

function newOperation(spec: ClusterCreateSpec, detail: string): TrackedOperation {
  const view: CloudOperation = {
    operation_id: operationIdOf(spec),
    provider: spec.provider,
    kind: 'create_cluster',
    cluster_name: spec.name,
    location: spec.location,
    project: spec.project,
    status: 'running',
    detail,
    started_at: new Date().toISOString(),
    polls: 0,
  };
  return { view };
}

/** The ray-mcp creation of this cluster, if this session started or followed one. */
function withOperation(
  info: CloudClusterInfo,
  operations: Record<string, TrackedOperation>,
): CloudClusterInfo {
  const op = Object.values(operations).find(
    (o) =>
      o.view.provider === info.provider &&
      o.view.cluster_name === info.name &&
      o.view.location === info.location &&
      o.view.project === info.project,
  );
  return op ? { ...info, operation: op.view } : info;
}

function targetOf(info: CloudClusterInfo, caData: string | undefined): CloudKubeTarget {
  if (!info.ready) {
    throw new RayMcpError(
      'conflict',
      `${info.provider.toUpperCase()} cluster ${info.name} is ${info.status}, not ready to connect.`,
      info.operation?.status === 'running'
        ? `Its creation is under way: get_cloud_operation(operation_id="${info.operation.operation_id}", wait_seconds=600) waits for it.`
        : 'Wait until it is RUNNING (GKE) or ACTIVE (EKS); get_kubernetes_cluster_info shows its status.',
    );
  }
  if (!info.endpoint || !caData) {
    throw new RayMcpError(
      'unavailable',
      `${info.provider.toUpperCase()} cluster ${info.name} has no ${info.endpoint ? 'CA certificate' : 'endpoint'} yet.`,
      'Retry in a minute; a private-only cluster endpoint is not reachable from here.',
    );
  }
  return {
    kind: 'cloud',
    provider: info.provider,
    cluster: info.name,
    location: info.location,
    project: info.project,
    server: info.endpoint,
    caData,
  };
}

function byNameAndLocation(a: CloudClusterSummary, b: CloudClusterSummary): number {
  return a.name.localeCompare(b.name) || a.location.localeCompare(b.location);
}
