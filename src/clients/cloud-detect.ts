/**
 * Which clouds this machine can use, from the environment, credential files, kubeconfig
 * contexts and (only when nothing else is found) the cloud's metadata server, which gets one
 * short request with a hard timeout. No token is requested; only kinds, names and regions leave.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { CloudDetection, CloudProvider } from '../domain/cloud.js';
import { detectAwsCredentials, detectGcpCredentials } from './cloud-credentials.js';
import { probeHttp } from './deadline.js';
import { gceMetadataAvailable } from './gke.client.js';
import { readKubeconfigs } from './kubeconfig.client.js';

const MAX_CONTEXTS = 20;

export async function detectProvider(
  provider: CloudProvider,
  config: Config,
  signal?: AbortSignal,
): Promise<CloudDetection> {
  const started = Date.now();
  const contexts = await kubeContexts(config, provider).catch(() => []);
  const partial = provider === 'gke' ? await detectGke(config, signal) : await detectEks(config, signal);
  return {
    provider,
    ...partial,
    kube_contexts: contexts.slice(0, MAX_CONTEXTS),
    checked_at: new Date().toISOString(),
    took_ms: Date.now() - started,
  };
}

type Partial = Omit<CloudDetection, 'provider' | 'kube_contexts' | 'checked_at' | 'took_ms'>;

async function detectGke(config: Config, signal?: AbortSignal): Promise<Partial> {
  const sources: Partial['sources'] = [];
  if (config.cloud.gkeAccessToken)
    sources.push({ kind: 'access_token', detail: 'RAY_MCP_GKE_ACCESS_TOKEN is set' });
  const gcp = await detectGcpCredentials(config.gcp);
  if (gcp.credentials !== 'none') {
    sources.push({
      kind: gcp.credentials,
      detail: `${gcp.credentialType ?? 'credentials'} in ${gcp.file}`,
    });
  }
  const gcloudProject = await gcloudConfigProject(config.gcp.gcloudConfigDir);
  if (gcloudProject) sources.push({ kind: 'gcloud_config', detail: `gcloud project ${gcloudProject}` });
  if (
    !sources.some((s) => s.kind !== 'gcloud_config') &&
    (await gceMetadataAvailable(config.cloud, signal))
  ) {
    sources.push({ kind: 'gce_metadata', detail: `metadata server at ${config.cloud.gceMetadataHost}` });
  }
  const usable = sources.some((s) => s.kind !== 'gcloud_config');
  return {
    usable,
    sources,
    project: gcp.project ?? gcloudProject,
    fix:
      gcp.error ??
      (usable
        ? undefined
        : 'Run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file (or pass service_account_path to authenticate_cloud_provider).'),
  };
}

async function detectEks(config: Config, signal?: AbortSignal): Promise<Partial> {
  const sources: Partial['sources'] = [];
  const aws = await detectAwsCredentials(config.aws);
  if (aws.credentials === 'environment')
    sources.push({ kind: 'environment', detail: 'AWS_ACCESS_KEY_ID is set' });
  if (aws.credentials === 'profile' || (aws.credentials === 'environment' && aws.profiles.length))
    sources.push({ kind: 'profile', detail: `profiles in ~/.aws: ${aws.profiles.slice(0, 10).join(', ')}` });
  if (config.cloud.awsWorkloadIdentity)
    sources.push({
      kind: 'workload_identity',
      detail: 'web identity token or container credentials configured',
    });
  if (!sources.length && !config.cloud.ec2MetadataDisabled && (await ec2MetadataAvailable(config, signal)))
    sources.push({
      kind: 'ec2_metadata',
      detail: `instance metadata at ${config.cloud.ec2MetadataEndpoint}`,
    });
  const usable = sources.length > 0;
  return {
    usable,
    sources,
    region: aws.region,
    profiles: aws.profiles.length ? aws.profiles.slice(0, 20) : undefined,
    fix: !usable
      ? 'Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or configure a profile with `aws configure` (or `aws sso login`) and pass profile.'
      : !aws.region
        ? 'No region: pass region to authenticate_cloud_provider, or set AWS_REGION.'
        : undefined,
  };
}

/** The project of gcloud's active configuration (`gcloud config set project`). */
export async function gcloudConfigProject(dir: string): Promise<string | undefined> {
  try {
    const active =
      (await readFile(join(dir, 'active_config'), 'utf8').catch(() => 'default')).trim() || 'default';
    const text = await readFile(join(dir, 'configurations', `config_${active}`), 'utf8');
    let section = '';
    for (const line of text.split(/\r?\n/)) {
      const s = /^\s*\[([^\]]+)\]/.exec(line);
      if (s) section = s[1]!.trim();
      const kv = /^\s*project\s*=\s*(\S+)/.exec(line);
      if (section === 'core' && kv) return kv[1];
    }
  } catch {}
  return undefined;
}

/** IMDSv2: a token PUT answers on EC2 within the probe timeout, and fails fast elsewhere. */
async function ec2MetadataAvailable(config: Config, signal?: AbortSignal): Promise<boolean> {
  const res = await probeHttp(`${config.cloud.ec2MetadataEndpoint.replace(/\/$/, '')}/latest/api/token`, {
    method: 'PUT',
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
    timeoutMs: config.cloud.probeTimeoutMs,
    signal,
  });
  return res !== undefined && res.status >= 200 && res.status < 300;
}

/** Context names of the user's kubeconfig that point at this provider's clusters. */
async function kubeContexts(config: Config, provider: CloudProvider): Promise<string[]> {
  const kube = await readKubeconfigs(config.kubeconfigPaths, config.inCluster);
  const match =
    provider === 'gke'
      ? (c: { name: string; cluster: string }) => /^gke_/.test(c.cluster) || /^gke_/.test(c.name)
      : (c: { name: string; cluster: string }) =>
          /^arn:aws[a-z-]*:eks:/.test(c.cluster) ||
          /^arn:aws[a-z-]*:eks:/.test(c.name) ||
          /\.eksctl\.io$/.test(c.cluster);
  return kube.contexts.filter(match).map((c) => c.name);
}
