/**
 * Steps on cloud clusters for the flows of every family (list, describe, connection target,
 * kubeconfig context): each checks its arguments and asks the `cloud:<provider>` actor, whose
 * answer carries the result. None calls a cloud SDK.
 */
import {
  AwsRegionSchema,
  type CloudClusterInfo,
  type CloudClusterSummary,
  type CloudProvider,
  GkeLocationSchema,
  GkeProjectSchema,
} from '../../domain/cloud.js';
import type { AnswerData } from '../../domain/commands.js';
import { RayMcpError } from '../../domain/errors.js';
import type { CloudKubeTarget } from '../../domain/kube.js';
import {
  type CloudWhere,
  type CloudWorkCommand,
  cloudStateOf,
} from '../../machines/cloud-connection.machine.js';
import type { Ops } from './ops.js';

/** Rows per page of list_kubernetes_clusters. */
export const CLOUD_PAGE_SIZE = 50;

export interface CloudWhereArgs {
  provider: CloudProvider;
  project_id?: string;
  zone?: string;
  region?: string;
  location?: string;
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

/** Sends a cluster command to the provider's actor and returns the result its answer carries. */
export async function askCloud<K extends Work['type']>(
  ops: Ops,
  provider: CloudProvider,
  command: Extract<Work, { type: K }>,
): Promise<NonNullable<AnswerData<K>>> {
  const { data } = await ops.askForAnswer(ops.cloud(provider), command as Work);
  if (!data) {
    throw new RayMcpError(
      'internal',
      `The ${provider} actor answered ${command.type} without a result.`,
      'Retry.',
    );
  }
  return data as NonNullable<AnswerData<K>>;
}

/** Whether the provider's actor holds working credentials now. */
export function isAuthenticated(ops: Ops, provider: CloudProvider): boolean {
  return cloudStateOf(ops.cloud(provider).getSnapshot()) === 'authenticated';
}

/** One page of a project/location's (GKE) or region's (EKS) clusters. */
export async function listCloudClusters(
  ops: Ops,
  args: CloudWhereArgs & { cursor?: string },
): Promise<{ clusters: CloudClusterSummary[]; next_cursor?: string; project?: string; location: string }> {
  const where = whereOf(args);
  const offset = args.cursor ? decodeCursor(args.cursor, args.provider) : 0;
  const r = await askCloud(ops, args.provider, { type: 'cloud.list', where, offset, limit: CLOUD_PAGE_SIZE });
  const next = r.offset + CLOUD_PAGE_SIZE;
  return {
    clusters: r.clusters,
    next_cursor: next < r.total ? encodeCursor(next, args.provider) : undefined,
    project: r.project,
    location: r.location,
  };
}

export async function describeCloudCluster(
  ops: Ops,
  args: CloudWhereArgs & { cluster_name: string },
): Promise<CloudClusterInfo> {
  const where = whereOf(args);
  return (await askCloud(ops, args.provider, { type: 'cloud.describe', where, name: args.cluster_name }))
    .info;
}

/** What a Kubernetes connection needs; fails clearly if the cluster is not ready or has no endpoint. */
export async function cloudKubeTarget(
  ops: Ops,
  args: CloudWhereArgs & { cluster_name: string },
): Promise<CloudKubeTarget> {
  const where = whereOf(args);
  return (await askCloud(ops, args.provider, { type: 'cloud.target', where, name: args.cluster_name }))
    .target;
}

/** Only when the user asked: merges an exec-auth context into a kubeconfig file (backup kept). */
export async function writeKubeconfigContext(
  ops: Ops,
  target: CloudKubeTarget,
  opts: { path?: string },
): Promise<{ path: string; context: string }> {
  const r = await askCloud(ops, target.provider, { type: 'cloud.writeKubeconfig', target, path: opts.path });
  return { path: r.path, context: r.context };
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
