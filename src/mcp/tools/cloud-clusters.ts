/**
 * Cloud clusters for the tools (list, describe, connect, write a kubeconfig context, create):
 * each function checks its arguments, asks the `cloud:<provider>` actor, and reads the result
 * the actor's answer names. None calls a cloud SDK.
 */
import type { RaySystem } from '../../actors/system.js';
import {
  AwsRegionSchema,
  type CloudClusterInfo,
  type CloudClusterSummary,
  type CloudProvider,
  GkeLocationSchema,
  GkeProjectSchema,
} from '../../domain/cloud.js';
import { RayMcpError } from '../../domain/errors.js';
import type { CloudKubeTarget } from '../../domain/kube.js';
import {
  type CloudActor,
  type CloudResult,
  type CloudWhere,
  type CloudWorkCommand,
  cloudStateOf,
} from '../../machines/cloud-connection.machine.js';
import type { ToolContext } from './tool.js';

export { CloudProviderSchema } from '../../domain/cloud.js';

/** Rows per page of list_kubernetes_clusters. */
export const CLOUD_PAGE_SIZE = 50;

export interface CloudWhereArgs {
  provider: CloudProvider;
  project_id?: string;
  zone?: string;
  region?: string;
  location?: string;
}

export function cloudActor(system: RaySystem, provider: CloudProvider): CloudActor {
  const actor = system.cloud(provider);
  if (actor?.getSnapshot().status !== 'active') {
    throw new RayMcpError(
      'shutting_down',
      `The ${provider.toUpperCase()} connection actor is not running.`,
      'Restart the MCP server.',
    );
  }
  return actor;
}

/** Project and location from the arguments, checked; absent parts default in the actor. */
export function whereOf(args: CloudWhereArgs): CloudWhere {
  const location = args.location ?? args.zone ?? args.region;
  if (args.provider === 'gke') {
    if (args.project_id !== undefined && !GkeProjectSchema.safeParse(args.project_id).success) {
      throw new RayMcpError(
        'invalid_input',
        `${args.project_id} is not a GCP project id.`,
        'Project ids are 6-30 lowercase letters, digits and dashes (not the project name or number).',
      );
    }
    if (location !== undefined && !GkeLocationSchema.safeParse(location).success) {
      throw new RayMcpError(
        'invalid_input',
        `${location} is not a GCP zone or region.`,
        'Use a zone like us-central1-a, a region like us-central1, or "-" for all locations.',
      );
    }
    return { project: args.project_id, location };
  }
  if (args.project_id !== undefined) {
    throw new RayMcpError(
      'invalid_input',
      'project_id is for GKE; EKS clusters live in a region.',
      'Pass region instead.',
    );
  }
  if (location !== undefined && !AwsRegionSchema.safeParse(location).success) {
    throw new RayMcpError(
      'invalid_input',
      `${location} is not an AWS region.`,
      'Use a region like us-east-1.',
    );
  }
  return { location };
}

type Work = CloudWorkCommand extends infer C
  ? C extends CloudWorkCommand
    ? Omit<C, 'requestId'>
    : never
  : never;

/** Sends a cluster command and returns the result the actor keeps for it. */
export async function askCloud<K extends CloudResult['kind']>(
  ctx: Pick<ToolContext, 'system' | 'signal'>,
  provider: CloudProvider,
  command: Work,
  kind: K,
  timeoutMs?: number,
): Promise<Extract<CloudResult, { kind: K }>> {
  const actor = cloudActor(ctx.system, provider);
  const { data } = await ctx.system.askForAnswer(actor, command as never, {
    signal: ctx.signal,
    ...(timeoutMs && { timeoutMs }),
  });
  const result = data as CloudResult | undefined;
  if (!result || result.kind !== kind) {
    throw new RayMcpError('internal', `The ${provider} actor answered without a ${kind} result.`, 'Retry.');
  }
  return result as Extract<CloudResult, { kind: K }>;
}

export async function listCloudClusters(
  ctx: ToolContext,
  args: CloudWhereArgs & { cursor?: string },
): Promise<{ clusters: CloudClusterSummary[]; next_cursor?: string; project?: string; location: string }> {
  const where = whereOf(args);
  const offset = args.cursor ? decodeCursor(args.cursor, args.provider) : 0;
  const r = await askCloud(
    ctx,
    args.provider,
    { type: 'cloud.list', where, offset, limit: CLOUD_PAGE_SIZE },
    'list',
  );
  const next = r.offset + CLOUD_PAGE_SIZE;
  return {
    clusters: r.clusters,
    next_cursor: next < r.total ? encodeCursor(next, args.provider) : undefined,
    project: r.project,
    location: r.location,
  };
}

export async function describeCloudCluster(
  ctx: ToolContext,
  args: CloudWhereArgs & { cluster_name: string },
): Promise<CloudClusterInfo> {
  const r = await askCloud(
    ctx,
    args.provider,
    { type: 'cloud.describe', where: whereOf(args), name: args.cluster_name },
    'describe',
  );
  return r.info;
}

/** What a Kubernetes connection needs; fails clearly if the cluster is not ready or has no endpoint. */
export async function cloudKubeTarget(
  ctx: ToolContext,
  args: CloudWhereArgs & { cluster_name: string },
): Promise<CloudKubeTarget> {
  const r = await askCloud(
    ctx,
    args.provider,
    { type: 'cloud.target', where: whereOf(args), name: args.cluster_name },
    'target',
  );
  return r.target;
}

/** Only when the user asked: merges an exec-auth context into a kubeconfig file (backup kept). */
export async function writeKubeconfigContext(
  ctx: ToolContext,
  target: CloudKubeTarget,
  opts: { path?: string },
): Promise<{ path: string; context: string }> {
  const r = await askCloud(
    ctx,
    target.provider,
    { type: 'cloud.writeKubeconfig', target, path: opts.path },
    'kubeconfig',
  );
  return { path: r.path, context: r.context };
}

/** Whether the provider's actor holds working credentials now. */
export function isAuthenticated(system: RaySystem, provider: CloudProvider): boolean {
  const actor = system.cloud(provider);
  return actor ? cloudStateOf(actor.getSnapshot()) === 'authenticated' : false;
}

function encodeCursor(offset: number, provider: CloudProvider): string {
  return Buffer.from(`${provider}:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string, provider: CloudProvider): number {
  const m = /^(gke|eks):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || m[1] !== provider) {
    throw new RayMcpError(
      'invalid_input',
      'That cursor does not belong to this listing.',
      'Pass the next_cursor of the previous list_kubernetes_clusters call with the same provider, or none.',
    );
  }
  return Number(m[2]);
}
