/**
 * The only code that talks to EKS and STS. The AWS SDK loads on first use. Credentials: the
 * default chain (environment, shared files with AWS_PROFILE, SSO, web identity, container and
 * instance metadata, each with a short timeout) or a named profile; checked with STS
 * GetCallerIdentity. Errors become RayMcpErrors that say what to do; no secret leaves here
 * except through `credentials()`, which only the token minting uses.
 */
import type { EKSClient } from '@aws-sdk/client-eks';
import type { CloudSettings, Config } from '../config.js';
import {
  CloudAuthError,
  type CloudClusterInfo,
  type CloudClusterSummary,
  type CloudIdentity,
  MANAGED_BY_KEY,
  MANAGED_BY_VALUE,
  type NodePool,
} from '../domain/cloud.js';
import { type EksRequests, ec2Gpus } from '../domain/cloud-create.js';
import { RayMcpError } from '../domain/errors.js';
import { untrustedText } from '../domain/redact.js';
import { detectAwsCredentials } from './cloud-credentials.js';
import type { AwsCredentialIdentity } from './eks-token.js';

const MAX_LISTED = 1000;
const REQUEST_TIMEOUT_MS = 30_000;

export interface EksAuthRequest {
  profile?: string;
  region?: string;
}

export interface EksClusterDetail extends CloudClusterInfo {
  caData?: string;
  arn?: string;
}

type CredentialProvider = () => Promise<AwsCredentialIdentity>;

export class EksClient {
  private readonly clients = new Map<string, EKSClient>();

  private constructor(
    private readonly provider: CredentialProvider,
    private readonly endpoint: string | undefined,
    readonly identity: CloudIdentity,
  ) {}

  static async connect(
    req: EksAuthRequest,
    config: Pick<Config, 'aws'> & { cloud: CloudSettings },
    signal?: AbortSignal,
  ): Promise<EksClient> {
    const { aws, cloud } = config;
    const profile = req.profile ?? aws.profile;
    const detected = await detectAwsCredentials({ ...aws, profile });
    if (req.profile && !detected.profiles.includes(req.profile)) {
      throw new CloudAuthError(
        'missing',
        `No AWS profile named ${req.profile} in ${aws.sharedCredentialsFile} or ${aws.configFile}.`,
        detected.profiles.length
          ? `Use one of: ${detected.profiles.join(', ')}; or create it with \`aws configure --profile ${req.profile}\`.`
          : `Create it with \`aws configure --profile ${req.profile}\`.`,
      );
    }
    const region =
      req.region ?? (req.profile ? (detected.region ?? aws.region) : (aws.region ?? detected.region));
    if (!region) {
      throw new RayMcpError(
        'invalid_input',
        'No AWS region given and none configured.',
        'Pass region (e.g. us-east-1), or set AWS_REGION, or a region in your AWS profile.',
      );
    }
    const { fromIni, fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
    const files = { filepath: aws.sharedCredentialsFile, configFilepath: aws.configFile, ignoreCache: true };
    const base = req.profile
      ? fromIni({ ...files, profile: req.profile })
      : fromNodeProviderChain({
          ...files,
          // Never hang on an instance metadata server that is not there.
          timeout: Math.max(cloud.probeTimeoutMs, 250),
          maxRetries: 0,
        });
    const provider = memoize(base as CredentialProvider);
    const method = req.profile
      ? 'profile'
      : aws.accessKeyInEnv
        ? 'environment'
        : detected.credentials === 'profile'
          ? 'profile'
          : 'default_chain';
    let caller: { account?: string; arn?: string };
    try {
      await provider();
      caller = await callerIdentity(provider, region, cloud.stsEndpoint, signal);
    } catch (err) {
      throw eksError(err, 'checking the AWS credentials');
    }
    return new EksClient(provider, cloud.eksEndpoint, {
      method,
      principal: caller.arn,
      account: caller.account,
      region,
      profile: method === 'profile' ? (profile ?? 'default') : undefined,
    });
  }

  /** Secret material, for signing EKS tokens only. */
  credentials(): Promise<AwsCredentialIdentity> {
    return this.provider();
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private async eks(region: string): Promise<EKSClient> {
    let client = this.clients.get(region);
    if (!client) {
      const { EKSClient } = await import('@aws-sdk/client-eks');
      client = new EKSClient({
        region,
        credentials: this.provider,
        maxAttempts: 3,
        requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: 5000 },
        ...(this.endpoint && { endpoint: this.endpoint }),
      });
      this.clients.set(region, client);
    }
    return client;
  }

  /** Every cluster name in the region (sorted, at most 1000). */
  async listClusterNames(region: string, signal?: AbortSignal): Promise<string[]> {
    const { paginateListClusters } = await import('@aws-sdk/client-eks');
    const client = await this.eks(region);
    const names: string[] = [];
    try {
      for await (const page of paginateListClusters({ client, pageSize: 100 }, {}, {
        abortSignal: signal,
      } as never)) {
        names.push(...(page.clusters ?? []));
        if (names.length >= MAX_LISTED) break;
      }
    } catch (err) {
      throw eksError(err, `listing clusters in ${region}`);
    }
    return names.sort();
  }

  async describeCluster(region: string, name: string, signal?: AbortSignal): Promise<EksClusterDetail> {
    const sdk = await import('@aws-sdk/client-eks');
    const client = await this.eks(region);
    const what = `reading cluster ${name} in ${region}`;
    try {
      const { cluster } = await client.send(new sdk.DescribeClusterCommand({ name }), {
        abortSignal: signal,
      });
      if (!cluster)
        throw new RayMcpError(
          'not_found',
          `No EKS cluster ${name} in ${region}.`,
          'Check the name and region.',
        );
      const groups: string[] = [];
      for await (const page of sdk.paginateListNodegroups({ client, pageSize: 50 }, { clusterName: name })) {
        groups.push(...(page.nodegroups ?? []));
        if (groups.length >= 20) break;
      }
      const nodegroups = await Promise.all(
        groups.slice(0, 20).map(async (g) => {
          const res = await client.send(
            new sdk.DescribeNodegroupCommand({ clusterName: name, nodegroupName: g }),
            {
              abortSignal: signal,
            },
          );
          return res.nodegroup;
        }),
      );
      const pools: NodePool[] = nodegroups
        .filter((g): g is NonNullable<typeof g> => g !== undefined)
        .map((g) => {
          const type = g.instanceTypes?.[0];
          const gpu = type ? ec2Gpus(type) : undefined;
          return {
            name: g.nodegroupName ?? '',
            status: g.status,
            machine_type: type,
            node_count: g.scalingConfig?.desiredSize,
            autoscaling: g.scalingConfig
              ? { min: g.scalingConfig.minSize ?? 0, max: g.scalingConfig.maxSize ?? 0 }
              : undefined,
            gpus: gpu ? [gpu] : undefined,
            spot: g.capacityType === 'SPOT' || undefined,
          };
        });
      const tags = cluster.tags ?? {};
      const status = cluster.status ?? 'UNKNOWN';
      const nodeCount = pools.reduce((n, p) => n + (p.node_count ?? 0), 0);
      return {
        provider: 'eks',
        name: cluster.name ?? name,
        location: region,
        status,
        ready: status === 'ACTIVE',
        version: cluster.version,
        node_count: pools.length ? nodeCount : undefined,
        managed_by_ray_mcp: tags[MANAGED_BY_KEY] === MANAGED_BY_VALUE,
        created_at: cluster.createdAt?.toISOString(),
        status_message: cluster.health?.issues?.map((i) => `${i.code}: ${i.message}`).join('; ') || undefined,
        endpoint: cluster.endpoint,
        node_pools: pools,
        node_pools_truncated: groups.length > 20 ? true : undefined,
        gpu_types: [...new Set(pools.flatMap((p) => (p.gpus ?? []).map((g) => g.type)))],
        labels: Object.fromEntries(Object.entries(tags).slice(0, 30)),
        caData: cluster.certificateAuthority?.data,
        arn: cluster.arn,
      };
    } catch (err) {
      throw eksError(err, what);
    }
  }

  /** A compact row: DescribeCluster only (no node groups). */
  async summarize(region: string, name: string, signal?: AbortSignal): Promise<CloudClusterSummary> {
    const { DescribeClusterCommand } = await import('@aws-sdk/client-eks');
    const client = await this.eks(region);
    try {
      const { cluster } = await client.send(new DescribeClusterCommand({ name }), { abortSignal: signal });
      const status = cluster?.status ?? 'UNKNOWN';
      return {
        provider: 'eks',
        name,
        location: region,
        status,
        ready: status === 'ACTIVE',
        version: cluster?.version,
        managed_by_ray_mcp: cluster?.tags?.[MANAGED_BY_KEY] === MANAGED_BY_VALUE,
        created_at: cluster?.createdAt?.toISOString(),
      };
    } catch (err) {
      throw eksError(err, `reading cluster ${name} in ${region}`);
    }
  }

  async createCluster(region: string, req: EksRequests['cluster'], signal?: AbortSignal): Promise<void> {
    const { CreateClusterCommand } = await import('@aws-sdk/client-eks');
    const client = await this.eks(region);
    try {
      await client.send(new CreateClusterCommand(req), { abortSignal: signal });
    } catch (err) {
      throw eksError(err, `creating cluster ${req.name}`);
    }
  }

  async createNodegroup(
    region: string,
    req: EksRequests['nodegroups'][number],
    signal?: AbortSignal,
  ): Promise<void> {
    const { CreateNodegroupCommand } = await import('@aws-sdk/client-eks');
    const client = await this.eks(region);
    try {
      await client.send(new CreateNodegroupCommand(req as never), { abortSignal: signal });
    } catch (err) {
      throw eksError(err, `creating node group ${req.nodegroupName}`);
    }
  }
}

async function callerIdentity(
  credentials: CredentialProvider,
  region: string,
  endpoint: string | undefined,
  signal?: AbortSignal,
): Promise<{ account?: string; arn?: string }> {
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({
    region,
    credentials,
    maxAttempts: 2,
    requestHandler: { requestTimeout: 15_000, connectionTimeout: 5000 },
    ...(endpoint && { endpoint }),
  });
  try {
    const res = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
    return { account: res.Account, arn: res.Arn };
  } finally {
    sts.destroy();
  }
}

/** Caches credentials until 5 minutes before they expire (static ones for good). */
function memoize(provider: CredentialProvider): CredentialProvider {
  let cached: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    if (cached) {
      const c = await cached.catch(() => undefined);
      if (c && (!c.expiration || c.expiration.getTime() - Date.now() > 5 * 60_000)) return c;
    }
    cached = provider();
    return cached;
  };
}

const AUTH_ERRORS: ReadonlySet<string> = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'AuthFailure',
]);

/** What AWS said, as an error the user can act on. Never includes a key. */
export function eksError(err: unknown, what: string): Error {
  if (err instanceof RayMcpError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  // AWS's answer (or an endpoint's) is untrusted: quoted, bounded, credential shapes removed.
  const message = untrustedText(e.message ?? String(err), 300);
  if (name === 'CredentialsProviderError' || /Could not load credentials|credential/i.test(name)) {
    return new CloudAuthError(
      'missing',
      `No usable AWS credentials while ${what}: ${message}`,
      'Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or configure a profile (`aws configure`, `aws sso login`) and pass profile.',
    );
  }
  if (AUTH_ERRORS.has(name) || e.$metadata?.httpStatusCode === 401) {
    return new CloudAuthError(
      'rejected',
      `AWS rejected the credentials while ${what} (${name}): ${message}`,
      'The keys are wrong, expired or revoked: refresh them (`aws sso login`, new keys) and run authenticate_cloud_provider(provider="eks") again.',
    );
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) {
    return new RayMcpError(
      'forbidden',
      `Access denied while ${what}: ${message}`,
      'Grant the principal eks:ListClusters/eks:DescribeCluster to read, or eks:CreateCluster, eks:CreateNodegroup and iam:PassRole to create (see docs/CLOUD.md).',
    );
  }
  if (name === 'ResourceNotFoundException' || name === 'NotFoundException') {
    return new RayMcpError(
      'not_found',
      `Not found while ${what}: ${message}`,
      'Check the cluster name and region (list_kubernetes_clusters lists them).',
    );
  }
  if (name === 'ResourceInUseException') {
    return new RayMcpError(
      'conflict',
      `In use while ${what}: ${message}`,
      'Pick another name, or wait for the operation under way.',
    );
  }
  if (
    name === 'ResourceLimitExceededException' ||
    name === 'ServiceQuotaExceededException' ||
    /quota|limit exceeded/i.test(message)
  ) {
    return new RayMcpError(
      'unavailable',
      `Quota exceeded while ${what}: ${message}`,
      'Ask for more quota (Service Quotas console), delete unused clusters, or use fewer/smaller nodes or another region.',
    );
  }
  if (name === 'ThrottlingException' || name === 'TooManyRequestsException') {
    return new RayMcpError('unavailable', `AWS throttled the request while ${what}.`, 'Retry in a minute.');
  }
  if (
    [
      'InvalidParameterException',
      'InvalidRequestException',
      'BadRequestException',
      'UnsupportedAvailabilityZoneException',
      'ValidationError',
      'ValidationException',
    ].includes(name)
  ) {
    return new RayMcpError(
      'invalid_input',
      `EKS refused the request while ${what}: ${message}`,
      'Fix the argument it names and retry.',
    );
  }
  const code = (err as { code?: string }).code;
  if (code === 'ENOTFOUND' || /Deserialization error|Unexpected token '<'/.test(message)) {
    // A region that does not exist has no endpoint (or, on an emulator, answers with a page).
    return new RayMcpError(
      'invalid_input',
      `No EKS endpoint answered while ${what}: is the region right?`,
      'Use a region where EKS runs, e.g. us-east-1 or eu-west-1 (`aws ec2 describe-regions` lists them).',
    );
  }
  if (name === 'AbortError')
    return new RayMcpError('timeout', `Cancelled while ${what}.`, 'Send the request again.');
  return new RayMcpError(
    'unavailable',
    `AWS failed while ${what} (${name}): ${message}`,
    'Retry in a moment; check the region and https://health.aws.amazon.com if it persists.',
  );
}
