/**
 * EKS end to end, through a real MCP client, against moto's server (the AWS emulator from PyPI,
 * started and stopped here). A small fault proxy in front of moto adds the quota error moto does
 * not model. The EKS token is checked by decoding it: moto cannot verify a presigned call.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudKubeTarget, writeKubeconfigContext } from '../../src/actors/operations/cloud.js';
import { Ops } from '../../src/actors/operations/ops.js';
import { EKS_TOKEN_PREFIX } from '../../src/clients/eks-token.js';
import { AwsFaultProxy } from '../fakes/aws-fault-proxy.js';
import {
  type InMemoryServer,
  recordedCalls,
  type StdioServer,
  scratchDir,
  startInMemoryServer,
  startStdioServer,
  textOf,
} from '../helpers/mcp.js';
import { type Moto, startMoto } from '../helpers/moto.js';

const KEY_ID = 'AKIAMOTOTEST0000001';
const SECRET = 'SECRET-aws-key-9d2e';
const REGION = 'us-east-1';
const ROLE = 'arn:aws:iam::123456789012:role/ray-mcp-eks-cluster';
const NODE_ROLE = 'arn:aws:iam::123456789012:role/ray-mcp-eks-node';
const SUBNETS = ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'];

let moto: Moto;
let proxy: AwsFaultProxy;
let proxyUrl: string;
let s: StdioServer;
const seen: string[] = [];

function awsEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  mkdirSync(join(dir, 'gcloud'), { recursive: true });
  return {
    HOME: dir,
    CLOUDSDK_CONFIG: join(dir, 'gcloud'),
    GOOGLE_APPLICATION_CREDENTIALS: '',
    AWS_ACCESS_KEY_ID: KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: '',
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws-credentials'),
    AWS_CONFIG_FILE: join(dir, 'aws-config'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_EKS: proxyUrl,
    AWS_ENDPOINT_URL_STS: moto.url,
    GCE_METADATA_HOST: '127.0.0.1:9',
    KUBECONFIG: join(dir, 'kubeconfig'),
    RAY_MCP_CLOUD_POLL_INTERVAL: '0.2',
    ...extra,
  };
}

const { ok, fails } = recordedCalls(seen);

const spec = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  region: REGION,
  role_arn: ROLE,
  node_role_arn: NODE_ROLE,
  subnet_ids: SUBNETS,
  ...extra,
});

beforeAll(async () => {
  moto = await startMoto();
  proxy = new AwsFaultProxy(moto.url);
  proxyUrl = await proxy.start();
  s = await startStdioServer({ env: awsEnv(scratchDir('eks-home')) });
}, 120_000);

afterAll(async () => {
  await s?.close();
  await proxy?.stop();
  await moto?.stop();
});

describe('EKS against moto', () => {
  it('reports status with nothing configured, and detects the AWS credentials and region', async () => {
    const st = await ok<{ providers: { state: string }[] }>(s.client, 'get_cloud_provider_status', {
      provider: 'eks',
    });
    expect(st.providers[0]!.state).toBe('unconfigured');
    const d = await ok<{ providers: { usable: boolean; region: string; sources: { kind: string }[] }[] }>(
      s.client,
      'detect_cloud_provider',
      { provider: 'aws' },
    );
    expect(d.providers[0]).toMatchObject({ usable: true, region: REGION });
    expect(d.providers[0]!.sources.map((x) => x.kind)).toContain('environment');
  });

  it('authenticates through the default chain and names the caller from STS', async () => {
    const r = await ok<{ identity: Record<string, string> }>(s.client, 'authenticate_cloud_provider', {
      provider: 'aws',
      region: REGION,
    });
    expect(r.identity).toMatchObject({ method: 'environment', account: '123456789012', region: REGION });
    expect(r.identity.principal).toMatch(/^arn:aws:/);
  });

  it('lists an empty region', async () => {
    const r = await ok<{ clusters: unknown[]; location: string }>(s.client, 'list_kubernetes_clusters', {
      provider: 'eks',
    });
    expect(r).toMatchObject({ clusters: [], location: REGION });
  });

  it('lists the region given to the call when none is configured, authenticating on the way', async () => {
    const bare = await startStdioServer({ env: awsEnv(scratchDir('eks-noregion'), { AWS_REGION: '' }) });
    try {
      const r = await ok<{ clusters: unknown[]; location: string }>(bare.client, 'list_kubernetes_clusters', {
        provider: 'eks',
        region: REGION,
      });
      expect(r).toMatchObject({ location: REGION });
    } finally {
      await bare.close();
    }
  });

  it('plans the GPU template with a dry run that creates nothing', async () => {
    const t = await ok<{ arguments: Record<string, unknown> }>(s.client, 'get_cloud_config_template', {
      provider: 'aws',
    });
    const r = await ok<{
      outcome: string;
      name_check: string;
      requests: {
        createCluster: { tags: Record<string, string> };
        createNodegroups: { instanceTypes: string[]; amiType: string }[];
      };
      cost: { gpus: number; total_per_hour: number };
    }>(s.client, 'create_kubernetes_cluster', t.arguments);
    expect(r.outcome).toBe('planned');
    expect(r.name_check).toBe('available');
    expect(r.requests.createCluster.tags).toMatchObject({ 'managed-by': 'ray-mcp' });
    expect(r.requests.createNodegroups.map((n) => n.amiType)).toEqual([
      'AL2023_x86_64_STANDARD',
      'AL2023_x86_64_NVIDIA',
    ]);
    expect(r.cost.total_per_hour).toBeGreaterThan(0.1);
    const list = await ok<{ clusters: unknown[] }>(s.client, 'list_kubernetes_clusters', { provider: 'eks' });
    expect(list.clusters).toEqual([]);
  });

  it('creates a cluster with CPU and GPU node groups and follows the operation to the end', async () => {
    const r = await ok<{ outcome: string; operation: { operation_id: string } }>(
      s.client,
      'create_kubernetes_cluster',
      {
        provider: 'eks',
        cluster_spec: spec('ray-eks', {
          node_pools: [
            { name: 'cpu', machine_type: 'm5.2xlarge', node_count: 1, min_nodes: 1, max_nodes: 3 },
            { name: 'gpu', machine_type: 'g5.xlarge', node_count: 0, min_nodes: 0, max_nodes: 2 },
          ],
        }),
      },
    );
    expect(r.outcome).toBe('started');
    expect(r.operation.operation_id).toBe(`create:eks:${REGION}/ray-eks`);
    const progress: string[] = [];
    const res = await s.client.callTool(
      {
        name: 'get_cloud_operation',
        arguments: { operation_id: r.operation.operation_id, wait_seconds: 60 },
      },
      { timeout: 120_000, onprogress: (p) => progress.push(p.message ?? '') },
    );
    seen.push(JSON.stringify(res));
    expect(res.structuredContent).toMatchObject({ status: 'done', ended: true });
    expect((res.structuredContent as { detail: string }).detail).toMatch(/cpu ACTIVE, gpu ACTIVE/);
  });

  it('describes it: version, status, endpoint, node groups with GPU types, tags', async () => {
    const r = await ok<{ cloud: Record<string, unknown> }>(s.client, 'get_kubernetes_cluster_info', {
      provider: 'eks',
      cluster_name: 'ray-eks',
      region: REGION,
    });
    expect(r.cloud).toMatchObject({
      provider: 'eks',
      name: 'ray-eks',
      location: REGION,
      status: 'ACTIVE',
      ready: true,
      endpoint: expect.stringMatching(/^https:\/\/.*eks\.amazonaws\.com/),
      managed_by_ray_mcp: true,
      labels: { 'managed-by': 'ray-mcp' },
      gpu_types: ['nvidia-a10g'],
      operation: { status: 'done' },
    });
    expect(r.cloud.node_pools).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'cpu', machine_type: 'm5.2xlarge', autoscaling: { min: 1, max: 3 } }),
        expect.objectContaining({
          name: 'gpu',
          machine_type: 'g5.xlarge',
          gpus: [{ type: 'nvidia-a10g', count: 1 }],
        }),
      ]),
    );
    const list = await ok<{ clusters: { name: string; status: string; managed_by_ray_mcp: boolean }[] }>(
      s.client,
      'list_kubernetes_clusters',
      { provider: 'eks', region: REGION },
    );
    expect(list.clusters).toEqual([
      expect.objectContaining({ name: 'ray-eks', status: 'ACTIVE', managed_by_ray_mcp: true }),
    ]);
  });

  it('is idempotent by name', async () => {
    const r = await ok<{ outcome: string; cluster: { name: string } }>(
      s.client,
      'create_kubernetes_cluster',
      {
        provider: 'eks',
        cluster_spec: spec('ray-eks'),
      },
    );
    expect(r).toMatchObject({ outcome: 'exists', cluster: { name: 'ray-eks' } });
  });

  it('finishes the node groups of its own cluster when the session that created it ended first', async () => {
    const eks = new EKSClient({
      region: REGION,
      endpoint: moto.url,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    // What a session that exited right after CreateCluster leaves: our cluster, no node groups.
    await eks.send(
      new CreateClusterCommand({
        name: 'half-made',
        roleArn: ROLE,
        resourcesVpcConfig: { subnetIds: SUBNETS },
        tags: { 'managed-by': 'ray-mcp' },
      }),
    );
    eks.destroy();
    const r = await ok<{ outcome: string; operation?: { operation_id: string; detail: string } }>(
      s.client,
      'create_kubernetes_cluster',
      {
        provider: 'eks',
        cluster_spec: spec('half-made', {
          node_pools: [{ name: 'cpu', machine_type: 'm5.large', node_count: 1, min_nodes: 1, max_nodes: 2 }],
        }),
      },
    );
    expect(r.outcome).toBe('exists');
    expect(r.operation?.detail).toMatch(/creating missing node groups cpu/);
    const done = await ok<{ status: string; detail: string }>(s.client, 'get_cloud_operation', {
      operation_id: r.operation!.operation_id,
      wait_seconds: 60,
    });
    expect(done).toMatchObject({ status: 'done' });
    expect(done.detail).toMatch(/cpu ACTIVE/);
  });

  it('refuses a name taken by a cluster ray-mcp did not create', async () => {
    const eks = new EKSClient({
      region: REGION,
      endpoint: moto.url,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    await eks.send(
      new CreateClusterCommand({ name: 'theirs', roleArn: ROLE, resourcesVpcConfig: { subnetIds: SUBNETS } }),
    );
    eks.destroy();
    await fails(
      s.client,
      'create_kubernetes_cluster',
      { provider: 'eks', cluster_spec: spec('theirs') },
      /not created by ray-mcp/,
    );
  });

  it('explains bad inputs: missing IAM roles, no GPU on the instance type, an unknown cluster or region, a quota', async () => {
    await fails(
      s.client,
      'create_kubernetes_cluster',
      { provider: 'eks', cluster_spec: { name: 'ab', region: REGION } },
      /EKS needs role_arn, node_role_arn, subnet_ids/,
    );
    await fails(
      s.client,
      'create_kubernetes_cluster',
      {
        provider: 'eks',
        cluster_spec: spec('ab', {
          node_pools: [{ name: 'np', machine_type: 'm5.xlarge', node_count: 1, gpu_count: 1 }],
        }),
      },
      /m5\.xlarge has none/,
    );
    await fails(
      s.client,
      'get_kubernetes_cluster_info',
      { provider: 'eks', cluster_name: 'nope' },
      /Not found.*nope/,
    );
    await fails(
      s.client,
      'list_kubernetes_clusters',
      { provider: 'eks', region: 'xx-nowhere-9' },
      /is the region right/,
    );
    await fails(
      s.client,
      'create_kubernetes_cluster',
      { provider: 'eks', cluster_spec: spec('quota-more') },
      /Quota exceeded[\s\S]*Fix: Ask for more quota/,
    );
  });

  it('never shows the secret key in a result or the log', () => {
    expect(seen.length).toBeGreaterThan(10);
    for (const text of seen) expect(text).not.toContain(SECRET);
    expect(s.stderr()).not.toContain(SECRET);
  });
});

describe('EKS credentials in-process', () => {
  let m: InMemoryServer;
  let dir: string;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    dir = scratchDir('eks-inproc');
    const env = awsEnv(dir, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_REGION: '' });
    // The AWS SDK reads its settings from process.env itself: set them for this in-process server.
    for (const [k, v] of Object.entries(env)) {
      if (!k.startsWith('AWS_')) continue;
      saved[k] = process.env[k];
      if (v) process.env[k] = v;
      else delete process.env[k];
    }
    writeFileSync(
      join(dir, 'aws-credentials'),
      `[ml]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`,
    );
    writeFileSync(join(dir, 'aws-config'), '[profile ml]\nregion = us-east-1\n');
    m = await startInMemoryServer({}, env);
  });
  afterAll(async () => {
    await m?.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('fails without credentials, naming the fix', async () => {
    const res = await m.client.callTool({
      name: 'authenticate_cloud_provider',
      arguments: { provider: 'eks', region: REGION },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/No usable AWS credentials[\s\S]*Fix:/);
    const st = await m.client.callTool({ name: 'get_cloud_provider_status', arguments: { provider: 'eks' } });
    expect(st.structuredContent).toMatchObject({
      providers: [{ state: 'failed', error: { problem: 'missing' } }],
    });
  });

  it('refuses a profile that does not exist', async () => {
    const res = await m.client.callTool({
      name: 'authenticate_cloud_provider',
      arguments: { provider: 'eks', profile: 'nope' },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/No AWS profile named nope[\s\S]*Use one of: ml/);
  });

  it('authenticates with a named profile (its region), mints a decodable token and writes an exec kubeconfig entry', async () => {
    const res = await m.client.callTool({
      name: 'authenticate_cloud_provider',
      arguments: { provider: 'eks', profile: 'ml' },
    });
    expect(res.isError, textOf(res)).toBeFalsy();
    expect(res.structuredContent).toMatchObject({
      identity: { method: 'profile', profile: 'ml', region: REGION },
    });
    const ops = new Ops(m.app.system.root.system, m.app.system.config, 'test', new AbortController().signal);
    const target = await cloudKubeTarget(ops, { provider: 'eks', cluster_name: 'ray-eks' });
    expect(target).toMatchObject({ kind: 'cloud', provider: 'eks', cluster: 'ray-eks', location: REGION });
    const minted = await m.app.system.cloudTokens.kubeToken(target);
    const token = minted.token;
    expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
    const url = new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString());
    expect(url.host).toBe(`sts.${REGION}.amazonaws.com`);
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(new RegExp(`^${KEY_ID}/`));
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toContain('x-k8s-aws-id');
    // The connection's client keeps it 14 minutes, while this session stands.
    expect(minted.expiresAt).toBeGreaterThan(Date.now() + 13 * 60_000);
    expect(minted.valid?.()).toBe(true);
    expect(token).not.toContain(SECRET);

    const path = join(dir, 'kubeconfig');
    const w = await writeKubeconfigContext(ops, target, { path });
    expect(w.context).toBe('arn:aws:eks:us-east-1:123456789012:cluster/ray-eks');
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('command: aws');
    expect(text).toContain('get-token');
    expect(text).toContain('AWS_PROFILE');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(EKS_TOKEN_PREFIX);
  });

  it('moves to failed when AWS rejects the keys', async () => {
    // moto checks keys against its IAM users from now on: ours are unknown.
    await fetch(`${moto.url}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    try {
      const res = await m.client.callTool({
        name: 'authenticate_cloud_provider',
        arguments: { provider: 'eks', profile: 'ml' },
      });
      expect(res.isError).toBe(true);
      expect(textOf(res)).toMatch(/AWS rejected the credentials/);
      const st = await m.client.callTool({
        name: 'get_cloud_provider_status',
        arguments: { provider: 'eks' },
      });
      expect(st.structuredContent).toMatchObject({
        providers: [{ state: 'failed', error: { problem: 'rejected' } }],
      });
      expect(JSON.stringify(st)).not.toContain(SECRET);
    } finally {
      await fetch(`${moto.url}/moto-api/reset-auth`, { method: 'POST', body: 'inf' });
    }
  });
});
