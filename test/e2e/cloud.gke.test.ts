/**
 * GKE end to end, through a real MCP client, against the local FAKE of the GKE v1 REST API
 * (test/fakes/gke-fake.ts). The server under test points @google-cloud/container at the fake and
 * uses a fixed token, so no request leaves the machine.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloudKubeTarget,
  describeCloudCluster,
  writeKubeconfigContext,
} from '../../src/actors/operations/cloud.js';
import { Ops } from '../../src/actors/operations/ops.js';
import { GkeFake } from '../fakes/gke-fake.js';
import {
  type InMemoryServer,
  recordedCalls,
  type StdioServer,
  scratchDir,
  startInMemoryServer,
  startStdioServer,
  textOf,
} from '../helpers/mcp.js';

const TOKEN = 'SECRET-gke-token-7f3a';
const PROJECT = 'ray-mcp-test';
const ZONE = 'us-central1-a';
const CLOUD_TOOLS = [
  'detect_cloud_provider',
  'authenticate_cloud_provider',
  'get_cloud_provider_status',
  'disconnect_cloud_provider',
  'get_cloud_config_template',
  'create_kubernetes_cluster',
  'get_cloud_operation',
];

let fake: GkeFake;
let s: StdioServer;
let home: string;
/** Everything the server returned, to check no secret ever shows. */
const seen: string[] = [];

/** An env with no real cloud credentials: nothing can reach Google or AWS. */
function isolatedEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  mkdirSync(join(dir, 'gcloud'), { recursive: true });
  return {
    HOME: dir,
    CLOUDSDK_CONFIG: join(dir, 'gcloud'),
    GOOGLE_APPLICATION_CREDENTIALS: '',
    GOOGLE_CLOUD_PROJECT: '',
    CLOUDSDK_CORE_PROJECT: '',
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_PROFILE: '',
    AWS_REGION: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    GCE_METADATA_HOST: '127.0.0.1:9',
    KUBECONFIG: join(dir, 'kubeconfig'),
    RAY_MCP_CLOUD_POLL_INTERVAL: '0.2',
    ...extra,
  };
}

const { ok, fails } = recordedCalls(seen);

beforeAll(async () => {
  fake = new GkeFake({ tokens: [TOKEN], projects: [PROJECT, 'other-project'], operationPolls: 3 });
  await fake.start();
  home = scratchDir('gke-home');
  writeFileSync(
    join(home, 'kubeconfig'),
    `apiVersion: v1
kind: Config
current-context: gke_${PROJECT}_${ZONE}_old
clusters: [{name: gke_${PROJECT}_${ZONE}_old, cluster: {server: "https://10.0.0.1"}}]
users: [{name: u, user: {token: SECRET-kube-user}}]
contexts: [{name: gke_${PROJECT}_${ZONE}_old, context: {cluster: gke_${PROJECT}_${ZONE}_old, user: u}}]
`,
  );
  s = await startStdioServer({
    env: isolatedEnv(home, { RAY_MCP_GKE_ENDPOINT: fake.url, RAY_MCP_GKE_ACCESS_TOKEN: TOKEN }),
  });
});

afterAll(async () => {
  await s?.close();
  await fake?.stop();
});

describe('GKE through the fake GKE API', () => {
  it('lists every cloud tool with annotations and output schemas', async () => {
    const { tools } = await s.client.listTools();
    for (const name of CLOUD_TOOLS) {
      const t = tools.find((x) => x.name === name);
      expect(t, name).toBeDefined();
      expect(t!.outputSchema, name).toBeDefined();
      expect(t!.annotations).toMatchObject({ destructiveHint: false });
      expect(typeof t!.annotations!.readOnlyHint).toBe('boolean');
    }
    expect(tools.find((t) => t.name === 'create_kubernetes_cluster')!.annotations).toMatchObject({
      readOnlyHint: false,
      idempotentHint: true,
      openWorldHint: true,
    });
  });

  it('reports status with no provider configured instead of failing', async () => {
    const r = await ok<{ providers: { provider: string; state: string; authenticated: boolean }[] }>(
      s.client,
      'get_cloud_provider_status',
    );
    expect(r.providers).toEqual([
      expect.objectContaining({ provider: 'gke', state: 'unconfigured', authenticated: false }),
      expect.objectContaining({ provider: 'eks', state: 'unconfigured', authenticated: false }),
    ]);
  });

  it('detects GKE from the token and the kubeconfig contexts', async () => {
    const r = await ok<{
      providers: { usable: boolean; sources: { kind: string }[]; kube_contexts: string[] }[];
    }>(s.client, 'detect_cloud_provider', { provider: 'gcp' });
    expect(r.providers).toHaveLength(1);
    expect(r.providers[0]!.usable).toBe(true);
    expect(r.providers[0]!.sources.map((x) => x.kind)).toContain('access_token');
    expect(r.providers[0]!.kube_contexts).toEqual([`gke_${PROJECT}_${ZONE}_old`]);
  });

  it('authenticates (Python-era call with project_id) and reports who, never the token', async () => {
    const r = await ok<{ state: string; identity: { method: string; project: string } }>(
      s.client,
      'authenticate_cloud_provider',
      { provider: 'gke', project_id: PROJECT },
    );
    expect(r.state).toBe('authenticated');
    expect(r.identity).toMatchObject({ method: 'access_token', project: PROJECT });
  });

  it('plans a creation from the template with a dry run that changes nothing', async () => {
    const t = await ok<{ tool: string; arguments: Record<string, unknown> }>(
      s.client,
      'get_cloud_config_template',
      { provider: 'gke', template_type: 'gpu' },
    );
    expect(t.tool).toBe('create_kubernetes_cluster');
    const before = fake.requests.filter((r) => r.method === 'POST').length;
    const args = { ...t.arguments, project_id: PROJECT };
    const r = await ok<{
      outcome: string;
      name_check: string;
      requests: { createCluster: { parent: string; cluster: Record<string, unknown> } };
      cost: { control_plane_per_hour: number; gpus: number; total_per_hour?: number };
    }>(s.client, 'create_kubernetes_cluster', args);
    expect(r.outcome).toBe('planned');
    expect(r.name_check).toBe('available');
    expect(r.requests.createCluster.parent).toBe(`projects/${PROJECT}/locations/${ZONE}`);
    expect(r.requests.createCluster.cluster.resourceLabels).toMatchObject({ 'managed-by': 'ray-mcp' });
    expect(r.cost.control_plane_per_hour).toBe(0.1);
    expect(fake.requests.filter((x) => x.method === 'POST').length).toBe(before);
    expect(fake.clusterCount()).toBe(0);
  });

  it('creates a cluster, returns at once with an operation, and follows it to the end with progress', async () => {
    const started = Date.now();
    const r = await ok<{
      outcome: string;
      operation: { operation_id: string; status: string };
      cost: { note: string };
    }>(s.client, 'create_kubernetes_cluster', {
      provider: 'gke',
      project_id: PROJECT,
      cluster_spec: {
        name: 'ray-gpu',
        zone: ZONE,
        node_pools: [
          { name: 'cpu', machine_type: 'e2-standard-8', node_count: 1, min_nodes: 1, max_nodes: 3 },
          {
            name: 'gpu',
            machine_type: 'n1-standard-8',
            node_count: 1,
            gpu_type: 'nvidia-tesla-t4',
            gpu_count: 2,
          },
        ],
      },
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.outcome).toBe('started');
    expect(r.operation.status).toBe('running');
    expect(r.operation.operation_id).toBe(`create:gke:${PROJECT}/${ZONE}/ray-gpu`);
    expect(r.cost.note).toMatch(/\$0\.10\/h/);
    const post = fake.requests.find((x) => x.method === 'POST' && x.path.endsWith('/clusters'));
    expect(post?.auth).toBe(`Bearer ${TOKEN}`);

    const progress: string[] = [];
    const res = await s.client.callTool(
      {
        name: 'get_cloud_operation',
        arguments: { operation_id: r.operation.operation_id, wait_seconds: 60 },
      },
      { timeout: 120_000, onprogress: (p) => progress.push(p.message ?? '') },
    );
    seen.push(JSON.stringify(res));
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ status: 'done', ended: true });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((m) => /running/.test(m))).toBe(true);
  });

  it('describes the cluster: version, status, endpoint, node pools with GPUs, the managed-by label and the operation', async () => {
    const r = await ok<{ cloud: Record<string, unknown> }>(s.client, 'get_kubernetes_cluster_info', {
      provider: 'gke',
      cluster_name: 'ray-gpu',
      zone: ZONE,
      project_id: PROJECT,
    });
    expect(r.cloud).toMatchObject({
      provider: 'gke',
      name: 'ray-gpu',
      status: 'RUNNING',
      ready: true,
      version: expect.stringMatching(/^1\.\d+/),
      endpoint: expect.stringMatching(/^https:\/\//),
      managed_by_ray_mcp: true,
      labels: { 'managed-by': 'ray-mcp' },
      gpu_types: ['nvidia-tesla-t4'],
      operation: { status: 'done' },
    });
    expect(r.cloud.node_pools).toEqual([
      expect.objectContaining({
        name: 'cpu',
        machine_type: 'e2-standard-8',
        autoscaling: { min: 1, max: 3 },
      }),
      expect.objectContaining({ name: 'gpu', gpus: [{ type: 'nvidia-tesla-t4', count: 2 }] }),
    ]);
  });

  it('is idempotent by name: creating it again returns the existing cluster', async () => {
    const posts = fake.requests.filter((x) => x.method === 'POST').length;
    const r = await ok<{ outcome: string; cluster: { status: string } }>(
      s.client,
      'create_kubernetes_cluster',
      {
        provider: 'gke',
        project_id: PROJECT,
        cluster_spec: { name: 'ray-gpu', zone: ZONE, machine_type: 'e2-standard-4', initial_node_count: 1 },
      },
    );
    expect(r.outcome).toBe('exists');
    expect(r.cluster.status).toBe('RUNNING');
    expect(fake.requests.filter((x) => x.method === 'POST').length).toBe(posts);
  });

  it('takes the Python-era create and list calls', async () => {
    const r = await ok<{ outcome: string }>(s.client, 'create_kubernetes_cluster', {
      provider: 'gke',
      cluster_spec: { name: 'py-style', zone: ZONE, machine_type: 'e2-medium', initial_node_count: 2 },
    });
    expect(r.outcome).toBe('started');
    const list = await ok<{ clusters: { name: string; managed_by_ray_mcp: boolean }[]; location: string }>(
      s.client,
      'list_kubernetes_clusters',
      { provider: 'gke' },
    );
    expect(list.location).toBe('-');
    expect(list.clusters.map((c) => c.name)).toEqual(['py-style', 'ray-gpu']);
    expect(list.clusters.every((c) => c.managed_by_ray_mcp)).toBe(true);
  });

  it('refuses a name taken by a cluster ray-mcp did not create, and a connection to a cluster not ready', async () => {
    fake.addCluster(PROJECT, ZONE, 'not-ours');
    await fails(
      s.client,
      'create_kubernetes_cluster',
      { provider: 'gke', project_id: PROJECT, cluster_spec: { name: 'not-ours', zone: ZONE } },
      /already exists .*not created by ray-mcp/,
    );
    await ok(s.client, 'create_kubernetes_cluster', {
      provider: 'gke',
      project_id: PROJECT,
      cluster_spec: { name: 'slow-one', zone: ZONE },
    });
    await fails(
      s.client,
      'connect_kubernetes_cluster',
      { provider: 'gke', cluster_name: 'slow-one', zone: ZONE },
      /PROVISIONING, not ready/,
    );
  });

  it('explains an unknown project, an unknown location and bad input', async () => {
    await fails(
      s.client,
      'list_kubernetes_clusters',
      { provider: 'gke', project_id: 'no-such-project' },
      /Permission denied.*no-such-project/,
    );
    await fails(
      s.client,
      'list_kubernetes_clusters',
      { provider: 'gke', zone: 'mars-east1-a' },
      /GKE refused the request/,
    );
    await fails(
      s.client,
      'get_kubernetes_cluster_info',
      { provider: 'gke', cluster_name: 'nope', zone: ZONE },
      /Not found/,
    );
    await fails(
      s.client,
      'create_kubernetes_cluster',
      {
        provider: 'gke',
        cluster_spec: {
          name: 'x-y',
          zone: ZONE,
          node_pools: [{ name: 'ab', machine_type: 'g5.xlarge', node_count: 1 }],
        },
      },
      /AWS instance type/,
    );
    await fails(
      s.client,
      'create_kubernetes_cluster',
      {
        provider: 'gke',
        cluster_spec: {
          name: 'x-y',
          zone: ZONE,
          node_pools: [{ name: 'pool', machine_type: 'n1-standard-4', node_count: 60, max_nodes: 200 }],
        },
      },
      /at most 100/,
    );
  });

  it('reports quota errors: refused at once, or failing the operation', async () => {
    await fails(
      s.client,
      'create_kubernetes_cluster',
      { provider: 'gke', project_id: PROJECT, cluster_spec: { name: 'quota-big', zone: ZONE } },
      /Quota exceeded/,
    );
    const r = await ok<{ operation: { operation_id: string } }>(s.client, 'create_kubernetes_cluster', {
      provider: 'gke',
      project_id: PROJECT,
      cluster_spec: { name: 'fail-gpu', zone: ZONE },
    });
    const op = await ok<{ status: string; error: string }>(s.client, 'get_cloud_operation', {
      operation_id: r.operation.operation_id,
      wait_seconds: 60,
    });
    expect(op.status).toBe('failed');
    expect(op.error).toMatch(/quota/i);
  });

  it('moves to failed when the token is revoked, keeps the reason, and recovers on authenticate', async () => {
    fake.revokeTokens();
    await fails(s.client, 'list_kubernetes_clusters', { provider: 'gke' }, /rejected the credentials/);
    const st = await ok<{ providers: { state: string; error: { problem: string; message: string } }[] }>(
      s.client,
      'get_cloud_provider_status',
      { provider: 'gke' },
    );
    expect(st.providers[0]).toMatchObject({ state: 'failed', error: { problem: 'rejected' } });
    await fails(s.client, 'list_kubernetes_clusters', { provider: 'gke' }, /rejected the credentials/);
    fake.acceptToken(TOKEN);
    await ok(s.client, 'authenticate_cloud_provider', { provider: 'gke', project_id: PROJECT });
    const list = await ok<{ clusters: unknown[] }>(s.client, 'list_kubernetes_clusters', { provider: 'gke' });
    expect(list.clusters.length).toBeGreaterThan(0);
  });

  it('disconnects: forgets credentials and operations, refuses cluster calls until authenticated again', async () => {
    const r = await ok<{ state: string; was: string }>(s.client, 'disconnect_cloud_provider', {
      provider: 'gcp',
    });
    expect(r).toMatchObject({ state: 'disconnected', was: 'authenticated' });
    await fails(
      s.client,
      'list_kubernetes_clusters',
      { provider: 'gke' },
      /Disconnected from GKE|Not connected to GKE/,
    );
    const st = await ok<{ providers: { state: string; operations: unknown[] }[] }>(
      s.client,
      'get_cloud_provider_status',
      {
        provider: 'gke',
      },
    );
    expect(st.providers[0]).toMatchObject({ state: 'disconnected', operations: [] });
    const again = await ok<{ state: string; was: string }>(s.client, 'disconnect_cloud_provider', {
      provider: 'gke',
    });
    expect(again).toMatchObject({ state: 'disconnected', was: 'disconnected' });
  });

  it('never shows the token or kubeconfig secrets in a result or the log', () => {
    expect(seen.length).toBeGreaterThan(20);
    for (const text of seen) expect(text).not.toMatch(/SECRET-/);
    expect(s.stderr()).not.toMatch(/SECRET-/);
  });
});

describe('GKE credentials in-process', () => {
  let m: InMemoryServer;
  let dir: string;
  let ops: Ops;

  beforeAll(async () => {
    dir = scratchDir('gke-adc');
    const env = isolatedEnv(dir, {
      RAY_MCP_GKE_ENDPOINT: fake.url,
      RAY_MCP_GCP_OAUTH_TOKEN_URL: `${fake.url}/token`,
      GOOGLE_CLOUD_PROJECT: PROJECT,
    });
    // gcloud's application default credentials for a user: refreshed through the fake's /token.
    writeFileSync(
      join(dir, 'gcloud', 'application_default_credentials.json'),
      JSON.stringify({
        type: 'authorized_user',
        client_id: 'ray-mcp-test.apps.googleusercontent.com',
        client_secret: 'SECRET-client',
        refresh_token: 'SECRET-refresh',
      }),
    );
    m = await startInMemoryServer({}, env);
    ops = new Ops(m.app.system.root.system, m.app.system.config, 'test', new AbortController().signal);
  });
  afterAll(async () => {
    await m?.close();
  });

  it('authenticates with application default credentials and refreshes the token when under 5 minutes are left', async () => {
    fake.tokenLifetimeSeconds = 120;
    const res = await m.client.callTool({
      name: 'authenticate_cloud_provider',
      arguments: { provider: 'gke' },
    });
    expect(res.isError, textOf(res)).toBeFalsy();
    expect(res.structuredContent).toMatchObject({
      identity: { method: 'application_default', principal: 'user credentials', project: PROJECT },
    });
    const info = await describeCloudCluster(ops, { provider: 'gke', cluster_name: 'ray-gpu' });
    expect(info.location).toBe(ZONE);
    const target = await cloudKubeTarget(ops, { provider: 'gke', cluster_name: 'ray-gpu' });
    const t1 = (await m.app.system.cloudTokens.kubeToken(target)).token;
    const t2 = (await m.app.system.cloudTokens.kubeToken(target)).token;
    expect(t1).toMatch(/^fake-issued-\d+$/);
    // Each lives 2 minutes: under the 5-minute margin, so every call refreshes.
    expect(t2).not.toBe(t1);
    fake.tokenLifetimeSeconds = 3600;
    const t3 = (await m.app.system.cloudTokens.kubeToken(target)).token;
    const t4 = (await m.app.system.cloudTokens.kubeToken(target)).token;
    expect(t4).toBe(t3);
    expect(JSON.stringify(res)).not.toMatch(/SECRET-/);
  });

  it('builds a connection target and writes a kubeconfig context with an exec plugin, never a token, keeping a backup', async () => {
    const target = await cloudKubeTarget(ops, {
      provider: 'gke',
      cluster_name: 'ray-gpu',
      zone: ZONE,
    });
    expect(target).toMatchObject({
      kind: 'cloud',
      provider: 'gke',
      cluster: 'ray-gpu',
      location: ZONE,
      project: PROJECT,
      server: expect.stringMatching(/^https:\/\/10\./),
    });
    expect(Buffer.from(target.caData, 'base64').toString()).toContain('BEGIN CERTIFICATE');
    const path = join(dir, 'kubeconfig');
    writeFileSync(
      path,
      'apiVersion: v1\nkind: Config\ncurrent-context: other\ncontexts: [{name: other, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://1.2.3.4"}}]\nusers: [{name: u, user: {token: keep-me}}]\npreferences: {colors: true}\n',
    );
    const res = await writeKubeconfigContext(ops, target, { path });
    expect(res.context).toBe(`gke_${PROJECT}_${ZONE}_ray-gpu`);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('gke-gcloud-auth-plugin');
    expect(text).toContain('current-context: other');
    expect(text).toContain('keep-me');
    expect(text).toContain('colors: true');
    expect(text).not.toMatch(/fake-issued|SECRET-/);
    expect(readFileSync(`${path}.ray-mcp.bak`, 'utf8')).toContain('keep-me');
    // Twice: merged by name, not duplicated.
    await writeKubeconfigContext(ops, target, { path });
    expect(readFileSync(path, 'utf8').split(`name: gke_${PROJECT}_${ZONE}_ray-gpu`).length - 1).toBe(3);
  });
});

describe('GKE without credentials', () => {
  let hang: Server;
  const sockets: Socket[] = [];
  let m: InMemoryServer;

  beforeAll(async () => {
    // A metadata server that accepts connections and never answers.
    hang = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const port = (hang.address() as { port: number }).port;
    const dir = scratchDir('gke-none');
    m = await startInMemoryServer(
      {},
      isolatedEnv(dir, {
        GCE_METADATA_HOST: `127.0.0.1:${port}`,
        AWS_EC2_METADATA_DISABLED: '',
        AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}`,
        RAY_MCP_CLOUD_PROBE_TIMEOUT: '0.5',
        RAY_MCP_GKE_ENDPOINT: fake.url,
      }),
    );
  });
  afterAll(async () => {
    await m?.close();
    for (const sock of sockets) sock.destroy();
    await new Promise<void>((r) => hang.close(() => r()));
  });

  it('detects nothing without hanging on a metadata server that never answers', async () => {
    const started = Date.now();
    const res = await m.client.callTool({ name: 'detect_cloud_provider', arguments: {} });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.isError).toBeFalsy();
    const providers = (res.structuredContent as { providers: { usable: boolean; fix?: string }[] }).providers;
    expect(providers.map((p) => p.usable)).toEqual([false, false]);
    expect(providers.every((p) => p.fix)).toBe(true);
  });

  it('fails authentication with the fix, and status keeps the reason', async () => {
    const started = Date.now();
    const res = await m.client.callTool({
      name: 'authenticate_cloud_provider',
      arguments: { provider: 'gke', project_id: PROJECT },
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(
      /No Google credentials found[\s\S]*Fix: Run `gcloud auth application-default login`/,
    );
    const st = await m.client.callTool({ name: 'get_cloud_provider_status', arguments: { provider: 'gke' } });
    expect(st.structuredContent).toMatchObject({
      providers: [{ state: 'failed', error: { problem: 'missing' } }],
    });
    // A cluster call says the same, without trying again on its own.
    const list = await m.client.callTool({
      name: 'list_kubernetes_clusters',
      arguments: { provider: 'gke' },
    });
    expect(list.isError).toBe(true);
    expect(textOf(list)).toMatch(/No Google credentials/);
  });

  it('authenticates a cluster call with the defaults when nothing was configured', async () => {
    const res = await m.client.callTool({ name: 'list_kubernetes_clusters', arguments: { provider: 'eks' } });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/AWS credentials|No AWS region/);
  });
});
