/**
 * The only code that talks to GKE. @google-cloud/container (REST fallback, no gRPC) and
 * google-auth-library load on first use. Credentials: application default credentials, a
 * service-account file, or a fixed token (tests); the access token google-auth-library keeps is
 * refreshed when under 5 minutes are left. Errors become RayMcpErrors that say what to do.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { protos, v1 } from '@google-cloud/container';
import type { AuthClient, GoogleAuth } from 'google-auth-library';
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
import { gkeBuiltInGpus } from '../domain/cloud-create.js';
import { RayMcpError } from '../domain/errors.js';
import { untrustedText } from '../domain/redact.js';
import { gcloudConfigProject } from './cloud-detect.js';
import { probeHttp } from './deadline.js';

type Cluster = protos.google.container.v1.ICluster;
type Operation = protos.google.container.v1.IOperation;

const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];
const CALL_TIMEOUT_MS = 30_000;
const AUTH_TIMEOUT_MS = 20_000;
const FIVE_MINUTES = 5 * 60 * 1000;

export interface GkeAuthRequest {
  projectId?: string;
  serviceAccountPath?: string;
}

/** A cluster as ray-mcp reads it, plus what a kubeconfig needs. */
export interface GkeClusterDetail extends CloudClusterInfo {
  caData?: string;
}

export interface GkeOperationState {
  done: boolean;
  status: string;
  detail: string;
  error?: string;
}

const CLUSTER_STATUS = [
  'STATUS_UNSPECIFIED',
  'PROVISIONING',
  'RUNNING',
  'RECONCILING',
  'STOPPING',
  'ERROR',
  'DEGRADED',
];
const POOL_STATUS = [
  'STATUS_UNSPECIFIED',
  'PROVISIONING',
  'RUNNING',
  'RUNNING_WITH_ERROR',
  'RECONCILING',
  'STOPPING',
  'ERROR',
];
const OPERATION_STATUS = ['STATUS_UNSPECIFIED', 'PENDING', 'RUNNING', 'DONE', 'ABORTING'];
/** The REST API may send enums as names or numbers. */
const enumName = (table: string[], v: unknown) =>
  typeof v === 'number' ? (table[v] ?? String(v)) : typeof v === 'string' && v ? v : 'STATUS_UNSPECIFIED';

export class GkeClient {
  private constructor(
    private readonly api: v1.ClusterManagerClient,
    private readonly token: () => Promise<string>,
    readonly identity: CloudIdentity,
  ) {}

  /** Loads credentials, checks them by getting an access token, and builds the API client. */
  static async connect(
    req: GkeAuthRequest,
    config: Pick<Config, 'gcp'> & { cloud: CloudSettings },
    signal?: AbortSignal,
  ): Promise<GkeClient> {
    const { cloud, gcp } = config;
    const [{ v1 }, gal] = await Promise.all([
      import('@google-cloud/container'),
      import('google-auth-library'),
    ]);
    let authClient: AuthClient;
    let token: () => Promise<string>;
    let identity: CloudIdentity;
    if (cloud.gkeAccessToken) {
      const project = req.projectId ?? gcp.project;
      if (!project) throw noProject();
      const fixed = cloud.gkeAccessToken;
      const client = new gal.OAuth2Client();
      client.setCredentials({ access_token: fixed, expiry_date: Date.now() + 365 * 24 * 3600_000 });
      authClient = client;
      token = async () => fixed;
      identity = { method: 'access_token', principal: 'RAY_MCP_GKE_ACCESS_TOKEN', project };
    } else {
      const file = req.serviceAccountPath ?? gcp.credentialsFile;
      const adcFile = join(gcp.gcloudConfigDir, 'application_default_credentials.json');
      const facts = await readCredentialFacts(file ?? adcFile, Boolean(file));
      if (!facts && !(await gceMetadataAvailable(cloud, signal))) throw noGcpCredentials();
      const project =
        req.projectId ?? gcp.project ?? facts?.project ?? (await gcloudConfigProject(gcp.gcloudConfigDir));
      if (!project) throw noProject();
      const auth: GoogleAuth = new gal.GoogleAuth({
        scopes: SCOPES,
        projectId: project,
        ...(facts && { keyFilename: facts.file }),
        clientOptions: {
          eagerRefreshThresholdMillis: FIVE_MINUTES,
          ...(cloud.gcpOAuthTokenUrl && { endpoints: { oauth2TokenUrl: cloud.gcpOAuthTokenUrl } }),
        },
      });
      authClient = await withTimeout(auth.getClient(), AUTH_TIMEOUT_MS, signal, 'loading Google credentials');
      token = async () => {
        const res = await authClient.getAccessToken();
        if (!res.token) throw noGcpCredentials();
        return res.token;
      };
      identity = {
        method: facts ? (file ? facts.type : 'application_default') : 'gce_metadata',
        principal: facts?.principal,
        project,
      };
    }
    // Credentials that cannot mint a token fail here, not on the first cluster call.
    try {
      await withTimeout(token(), AUTH_TIMEOUT_MS, signal, 'getting a Google access token');
    } catch (err) {
      throw gkeError(err, 'checking the credentials');
    }
    const endpoint = cloud.gkeEndpoint;
    const api = new v1.ClusterManagerClient({
      fallback: true,
      // google-gax bundles its own google-auth-library; the client works across the two versions.
      authClient: authClient as never,
      projectId: identity.project,
      ...(endpoint && { apiEndpoint: endpoint.host, port: endpoint.port, protocol: endpoint.protocol }),
    });
    return new GkeClient(api, token, identity);
  }

  /** An OAuth access token for the Kubernetes API (cached; refreshed when under 5 min are left). */
  accessToken(): Promise<string> {
    return this.token();
  }

  async close(): Promise<void> {
    await this.api.close().catch(() => {});
  }

  async listClusters(
    project: string,
    location: string,
    signal?: AbortSignal,
  ): Promise<CloudClusterSummary[]> {
    const [res] = await this.call(
      () => this.api.listClusters({ parent: `projects/${project}/locations/${location}` }, opts()),
      `listing clusters in ${project}/${location}`,
      signal,
    );
    return (res.clusters ?? []).map((c) => summaryOf(c, project));
  }

  async getCluster(
    project: string,
    location: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<GkeClusterDetail> {
    const [c] = await this.call(
      () =>
        this.api.getCluster({ name: `projects/${project}/locations/${location}/clusters/${name}` }, opts()),
      `reading cluster ${name} in ${project}/${location}`,
      signal,
    );
    return detailOf(c, project);
  }

  /** Returns the GKE operation id to poll. */
  async createCluster(
    request: { parent: string; cluster: Record<string, unknown> },
    signal?: AbortSignal,
  ): Promise<string> {
    const [op] = await this.call(
      () => this.api.createCluster(request as protos.google.container.v1.ICreateClusterRequest, opts()),
      `creating cluster ${String(request.cluster.name)}`,
      signal,
    );
    if (!op.name) throw new RayMcpError('internal', 'GKE returned no operation for the creation.', 'Retry.');
    return op.name;
  }

  async getOperation(
    project: string,
    location: string,
    id: string,
    signal?: AbortSignal,
  ): Promise<GkeOperationState> {
    const [op] = await this.call(
      () =>
        this.api.getOperation({ name: `projects/${project}/locations/${location}/operations/${id}` }, opts()),
      `reading operation ${id}`,
      signal,
    );
    return operationState(op);
  }

  private async call<T>(fn: () => Promise<T>, what: string, signal?: AbortSignal): Promise<T> {
    try {
      return await withTimeout(fn(), CALL_TIMEOUT_MS + 5000, signal, what);
    } catch (err) {
      throw gkeError(err, what);
    }
  }
}

const opts = () => ({ timeout: CALL_TIMEOUT_MS, maxRetries: 2 });

function managed(labels: Record<string, string> | null | undefined): boolean {
  return labels?.[MANAGED_BY_KEY] === MANAGED_BY_VALUE;
}

function summaryOf(c: Cluster, project: string): CloudClusterSummary {
  const status = enumName(CLUSTER_STATUS, c.status);
  const pools = c.nodePools ?? [];
  const nodes = c.currentNodeCount || pools.reduce((n, p) => n + (p.initialNodeCount ?? 0), 0) || undefined;
  return {
    provider: 'gke',
    name: c.name ?? '',
    location: c.location || c.zone || '',
    project,
    status,
    ready: status === 'RUNNING',
    version: c.currentMasterVersion || c.initialClusterVersion || undefined,
    node_count: nodes,
    managed_by_ray_mcp: managed(c.resourceLabels),
    created_at: c.createTime || undefined,
  };
}

function detailOf(c: Cluster, project: string): GkeClusterDetail {
  const pools: NodePool[] = (c.nodePools ?? []).map((p) => {
    const machine = p.config?.machineType || undefined;
    const accel = (p.config?.accelerators ?? [])
      .filter((a) => a.acceleratorType)
      .map((a) => ({ type: a.acceleratorType!, count: Number(a.acceleratorCount ?? 0) }));
    const builtIn = machine ? gkeBuiltInGpus(machine) : undefined;
    const gpus = accel.length ? accel : builtIn ? [builtIn] : undefined;
    return {
      name: p.name ?? '',
      status: enumName(POOL_STATUS, p.status),
      machine_type: machine,
      node_count: p.initialNodeCount ?? undefined,
      autoscaling: p.autoscaling?.enabled
        ? { min: p.autoscaling.minNodeCount ?? 0, max: p.autoscaling.maxNodeCount ?? 0 }
        : undefined,
      gpus,
      spot: p.config?.spot || p.config?.preemptible || undefined,
    };
  });
  const labels = Object.fromEntries(Object.entries(c.resourceLabels ?? {}).slice(0, 30));
  return {
    ...summaryOf(c, project),
    status_message: c.statusMessage || undefined,
    endpoint: c.endpoint ? `https://${c.endpoint}` : undefined,
    node_pools: pools.slice(0, 20),
    node_pools_truncated: pools.length > 20 ? true : undefined,
    gpu_types: [...new Set(pools.flatMap((p) => (p.gpus ?? []).map((g) => g.type)))],
    labels,
    caData: c.masterAuth?.clusterCaCertificate || undefined,
  };
}

function operationState(op: Operation): GkeOperationState {
  const status = enumName(OPERATION_STATUS, op.status);
  const metrics = (op.progress?.metrics ?? [])
    .map((m) => `${m.name}=${m.intValue ?? m.doubleValue ?? m.stringValue ?? ''}`)
    .join(', ');
  const error = op.error?.message || (status === 'DONE' && op.statusMessage ? op.statusMessage : undefined);
  return {
    done: status === 'DONE',
    status,
    detail: `GKE operation ${op.operationType ?? ''} ${status}${metrics ? ` (${metrics})` : ''}`.replace(
      /\s+/g,
      ' ',
    ),
    error: error || undefined,
  };
}

interface CredentialFacts {
  file: string;
  type: string;
  principal?: string;
  project?: string;
}

/** Kind, principal and project of a credentials file; nothing secret leaves this function. */
async function readCredentialFacts(file: string, required: boolean): Promise<CredentialFacts | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    if (!required) return undefined;
    throw new RayMcpError(
      'invalid_input',
      `The Google credentials file ${file} cannot be read.`,
      'Pass service_account_path as the path of a service-account key JSON file, or fix GOOGLE_APPLICATION_CREDENTIALS.',
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new RayMcpError(
      'invalid_input',
      `${file} is not a JSON credentials file.`,
      'Download a service-account key (JSON) or run `gcloud auth application-default login`.',
    );
  }
  const str = (k: string) => (typeof json[k] === 'string' ? (json[k] as string) : undefined);
  const type = str('type') ?? 'unknown';
  if (
    !['service_account', 'authorized_user', 'external_account', 'impersonated_service_account'].includes(type)
  ) {
    throw new RayMcpError(
      'invalid_input',
      `${file} is not a Google credentials file (type ${type}).`,
      'Use a service-account key JSON file or application default credentials.',
    );
  }
  return {
    file,
    type,
    principal: str('client_email') ?? (type === 'authorized_user' ? 'user credentials' : undefined),
    project: str('project_id') ?? str('quota_project_id'),
  };
}

/** Is a GCE metadata server there? Answers within the probe timeout whatever the network does. */
export async function gceMetadataAvailable(cloud: CloudSettings, signal?: AbortSignal): Promise<boolean> {
  const host = cloud.gceMetadataHost.replace(/^https?:\/\//, '');
  const res = await probeHttp(`http://${host}/computeMetadata/v1/instance/id`, {
    headers: { 'Metadata-Flavor': 'Google' },
    timeoutMs: cloud.probeTimeoutMs,
    signal,
  });
  return res?.headers['metadata-flavor'] === 'Google';
}

function noProject(): RayMcpError {
  return new RayMcpError(
    'invalid_input',
    'No GCP project given and none found in the credentials or environment.',
    'Pass project_id, set GOOGLE_CLOUD_PROJECT, or run `gcloud config set project <id>`.',
  );
}

function noGcpCredentials(): RayMcpError {
  return new CloudAuthError(
    'missing',
    'No Google credentials found (no GOOGLE_APPLICATION_CREDENTIALS, no gcloud application default credentials, no metadata server).',
    'Run `gcloud auth application-default login`, or pass service_account_path (a service-account key JSON file).',
  );
}

async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new RayMcpError('timeout', `GKE did not answer ${what} within ${ms / 1000} s.`, 'Retry later.'),
            ),
          ms,
        );
        onAbort = () =>
          reject(new RayMcpError('timeout', `Cancelled while ${what}.`, 'Send the request again.'));
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** What GKE said, as an error the user can act on. Never includes a token. */
export function gkeError(err: unknown, what: string): Error {
  if (err instanceof RayMcpError) return err;
  const e = err as { code?: unknown; status?: unknown; message?: string; response?: { data?: unknown } };
  let message = e.message ?? String(err);
  let status = typeof e.status === 'string' ? e.status : undefined;
  const data = (e.response?.data ?? safeJson(message)) as
    | { error?: { message?: string; status?: string } }
    | undefined;
  if (data?.error?.message) {
    message = data.error.message;
    status = data.error.status ?? status;
  }
  // Google's answer (or an endpoint's) is untrusted: quoted, bounded, credential shapes removed.
  message = untrustedText(message, 300);
  const code = typeof e.code === 'number' ? e.code : undefined;
  const is = (http: number, grpc: number, name: string) => code === http || code === grpc || status === name;
  if (is(401, 16, 'UNAUTHENTICATED') || /invalid_grant|invalid_client|unauthorized_client/i.test(message)) {
    return new CloudAuthError(
      'rejected',
      `Google rejected the credentials while ${what}: ${message}`,
      'The credentials expired or were revoked: run authenticate_cloud_provider(provider="gke") again ' +
        '(after `gcloud auth application-default login` if you use user credentials).',
    );
  }
  if (is(403, 7, 'PERMISSION_DENIED')) {
    return new RayMcpError(
      'forbidden',
      `Permission denied while ${what}: ${message}`,
      'Check the project id (a project that does not exist is reported this way too) and that the credentials ' +
        'have roles/container.clusterViewer to read, or roles/container.admin to create (see docs/CLOUD.md).',
    );
  }
  if (is(404, 5, 'NOT_FOUND'))
    return new RayMcpError(
      'not_found',
      `Not found while ${what}: ${message}`,
      'Check the name, project and location (list_kubernetes_clusters lists them; location "-" means all).',
    );
  if (is(409, 6, 'ALREADY_EXISTS'))
    return new RayMcpError('conflict', `Already exists while ${what}: ${message}`, 'Pick another name.');
  if (is(429, 8, 'RESOURCE_EXHAUSTED') || /quota/i.test(message)) {
    return new RayMcpError(
      'unavailable',
      `Quota exceeded while ${what}: ${message}`,
      'Ask for more quota (console: IAM & Admin > Quotas), or use fewer/smaller nodes, fewer GPUs, or another region.',
    );
  }
  if (is(400, 3, 'INVALID_ARGUMENT') || is(400, 9, 'FAILED_PRECONDITION')) {
    return new RayMcpError(
      'invalid_input',
      `GKE refused the request while ${what}: ${message}`,
      'Fix the argument it names and retry.',
    );
  }
  return new RayMcpError(
    'unavailable',
    `GKE failed while ${what}: ${message.slice(0, 500)}`,
    'Retry in a moment; if it persists check https://status.cloud.google.com.',
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
