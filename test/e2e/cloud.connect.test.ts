/**
 * A GKE cluster handed to a real Kubernetes connection: the local FAKE of the GKE API
 * (test/fakes/gke-fake.ts) describes a cluster whose endpoint and CA are the real test bed's API
 * server, so connect_kubernetes_cluster(provider="gke") builds the connection from what the cloud
 * API returns (endpoint, base64 CA, the cloud's access token) and talks to a real kube-apiserver
 * with the real KubeRay operator. The access token is a static token of the test bed
 * (GKE_TOKEN, a cluster admin), the way a GKE OAuth token is a bearer token for the API server.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GKE_TOKEN, type TestbedState } from '../../scripts/testbed.js';
import { GkeFake } from '../fakes/gke-fake.js';
import { type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { apply, kubeRequest, useTestbed } from '../helpers/testbed.js';

const PROJECT = 'ray-mcp-test';
const ZONE = 'us-central1-a';
const CLUSTER = 'bed';
const CONNECTION = `gke:${PROJECT}/${ZONE}/${CLUSTER}`;
const NAMESPACE = 'gke-conn';
const RAY_CLUSTER = 'rc-gke';
const rcPath = `/apis/ray.io/v1/namespaces/${NAMESPACE}/rayclusters/${RAY_CLUSTER}`;

/** The pods of a RayCluster, read with the test bed's admin token (not through ray-mcp). */
async function podsOf(ns: string, cluster: string): Promise<unknown[]> {
  const r = await kubeRequest(
    bed,
    'GET',
    `/api/v1/namespaces/${ns}/pods?labelSelector=ray.io/cluster%3D${cluster}`,
  );
  return r.json.items;
}

let bed: TestbedState;
let fake: GkeFake | undefined;
let server: StdioServer | undefined;
let home: string;
let rayClusterStarted = false;
/** Every result the server returned, to prove the token never shows. */
const seen: string[] = [];

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const res = await client.callTool({ name, arguments: args }, { timeout: 180_000 });
  seen.push(JSON.stringify(res));
  return res;
}

async function ok<T = Record<string, unknown>>(name: string, args: Record<string, unknown> = {}) {
  const res = await call(server!.client, name, args);
  if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
  return res.structuredContent as T;
}

beforeAll(async () => {
  bed = await useTestbed();
  await apply(bed, `/api/v1/namespaces/${NAMESPACE}`, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NAMESPACE },
  });
  const endpoint = new URL(bed.server).host; // 127.0.0.1:<port>: GKE gives an IP; here it carries a port
  const ca = readFileSync(join(bed.dir, 'certs', 'apiserver.crt'));
  fake = new GkeFake({ tokens: [GKE_TOKEN], projects: [PROJECT] });
  await fake.start();
  fake.addCluster(PROJECT, ZONE, CLUSTER, {
    endpoint,
    currentMasterVersion: '1.36.3-gke.1000',
    masterAuth: { clusterCaCertificate: ca.toString('base64') },
  });
  // Same API server, but a CA that did not sign its certificate.
  fake.addCluster(PROJECT, ZONE, 'wrong-ca', {
    endpoint,
    masterAuth: { clusterCaCertificate: Buffer.from(rootCertificates[0]!).toString('base64') },
  });

  // No kubeconfig and no cloud credentials of the machine: the only way to the bed is through GKE.
  home = scratchDir('gke-conn');
  writeFileSync(
    join(home, 'kubeconfig'),
    'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n',
  );
  server = await startStdioServer({
    env: {
      HOME: home,
      CLOUDSDK_CONFIG: join(home, 'gcloud'),
      GOOGLE_APPLICATION_CREDENTIALS: '',
      GOOGLE_CLOUD_PROJECT: PROJECT,
      CLOUDSDK_CORE_PROJECT: '',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      AWS_REGION: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      GCE_METADATA_HOST: '127.0.0.1:9',
      KUBECONFIG: join(home, 'kubeconfig'),
      RAY_MCP_GKE_ENDPOINT: fake.url,
      RAY_MCP_GKE_ACCESS_TOKEN: GKE_TOKEN,
    },
  });
});

afterAll(async () => {
  // Whatever failed above: the RayCluster, the server, the fake. The bed is the global teardown's.
  try {
    if (rayClusterStarted && server) {
      await server.client
        .callTool({ name: 'stop_ray_cluster', arguments: { cluster_id: RAY_CLUSTER } }, { timeout: 180_000 })
        .catch(() => undefined);
    }
  } finally {
    await server?.close().catch(() => undefined);
    if (bed) {
      await kubeRequest(bed, 'DELETE', rcPath).catch(() => undefined);
      await kubeRequest(bed, 'DELETE', `/api/v1/namespaces/${NAMESPACE}`).catch(() => undefined);
    }
    await fake?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  }
});

describe('connect_kubernetes_cluster(provider="gke") to a real API server', () => {
  it('connects to the GKE cluster with the endpoint, CA and token from the cloud API', async () => {
    const r = await ok<{
      connection: string;
      status: string;
      server: string;
      kubernetes_version: string;
      cluster_wide: boolean;
      kuberay_crds: boolean;
      kubeconfig_written?: string;
    }>('connect_kubernetes_cluster', { provider: 'gke', cluster_name: CLUSTER, zone: ZONE });
    expect(r).toMatchObject({
      connection: CONNECTION,
      status: 'connected',
      server: bed.server,
      kubernetes_version: expect.stringMatching(/^v1\.36\./),
      cluster_wide: true,
      kuberay_crds: true,
    });
    expect(r.kubeconfig_written).toBeUndefined();
    // The fake saw the token on its own calls (describe), and the kubeconfig was not touched.
    expect(
      fake!.requests.some((q) => q.path.endsWith(`/clusters/${CLUSTER}`) && q.auth === `Bearer ${GKE_TOKEN}`),
    ).toBe(true);
    expect(readFileSync(join(home, 'kubeconfig'), 'utf8')).not.toContain(CLUSTER);
  });

  it('describes it from both sides: the cloud API and the real API server with KubeRay', async () => {
    const r = await ok<{
      connection: { connection: string; status: string };
      cloud: { name: string; status: string; endpoint: string; version: string };
      kubernetes: {
        version: string;
        nodes: { total: number; ready: number };
        namespaces: string[];
        kuberay: {
          crds_installed: boolean;
          crds: { name: string }[];
          operator?: { namespace: string; name: string; version?: string };
        };
        problems: string[];
      };
    }>('get_kubernetes_cluster_info', { provider: 'gke', cluster_name: CLUSTER, zone: ZONE });
    expect(r.cloud).toMatchObject({
      name: CLUSTER,
      status: 'RUNNING',
      endpoint: bed.server,
      version: '1.36.3-gke.1000',
    });
    expect(r.connection).toMatchObject({ connection: CONNECTION, status: 'connected' });
    expect(r.kubernetes.version).toMatch(/^v1\.36\./);
    expect(r.kubernetes.version).toBe(bed.versions.kubernetes);
    expect(r.kubernetes.nodes).toMatchObject({ total: 1, ready: 1 });
    expect(r.kubernetes.namespaces).toContain(NAMESPACE);
    expect(r.kubernetes.kuberay.crds_installed).toBe(true);
    expect(r.kubernetes.kuberay.crds.map((c) => c.name)).toEqual(
      expect.arrayContaining(['rayclusters.ray.io', 'rayjobs.ray.io']),
    );
    expect(r.kubernetes.kuberay.operator).toMatchObject({
      namespace: 'ray-system',
      name: 'kuberay-operator',
      version: bed.versions.kuberay,
    });
    expect(r.kubernetes.problems).toEqual([]);
  });

  it('starts a RayCluster on that connection, lists it and stops it', async () => {
    rayClusterStarted = true;
    const view = await ok<{
      cluster_id: string;
      status: string;
      nodes: { node_type: string; alive: boolean }[];
      kubernetes: { context: string; namespace: string; name: string };
    }>('init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: RAY_CLUSTER,
      kubernetes_context: CONNECTION,
      namespace: NAMESPACE,
      head_node_spec: { num_cpus: 1, memory: '2Gi' },
      worker_node_specs: [{ group_name: 'cpu', replicas: 1, num_cpus: 1, memory: '2Gi' }],
      timeout_seconds: 120,
    });
    expect(view).toMatchObject({
      cluster_id: RAY_CLUSTER,
      status: 'running',
      // Results name the connection as kubernetes_context takes it back.
      kubernetes: { namespace: NAMESPACE, name: RAY_CLUSTER, context: CONNECTION },
    });
    expect(view.nodes.filter((n) => n.alive)).toHaveLength(2);
    expect(await podsOf(NAMESPACE, RAY_CLUSTER)).toHaveLength(2);
    const obj = await kubeRequest(bed, 'GET', rcPath);
    expect(obj.status).toBe(200);
    expect(obj.json.metadata.labels['app.kubernetes.io/managed-by']).toBe('ray-mcp');

    const list = await ok<{ clusters: { cluster_id: string; status: string }[] }>('list_ray_clusters', {
      namespace: NAMESPACE,
    });
    expect(list.clusters).toEqual([expect.objectContaining({ cluster_id: RAY_CLUSTER, status: 'running' })]);

    const stopped = await ok<{ status: string }>('stop_ray_cluster', { cluster_id: RAY_CLUSTER });
    expect(stopped.status).toBe('stopped');
    rayClusterStarted = false;
    expect((await kubeRequest(bed, 'GET', rcPath)).status).toBe(404);
    expect(await podsOf(NAMESPACE, RAY_CLUSTER)).toHaveLength(0);
  });

  it('refuses a cluster whose CA did not sign the API server certificate', async () => {
    const res = await call(server!.client, 'connect_kubernetes_cluster', {
      provider: 'gke',
      cluster_name: 'wrong-ca',
      zone: ZONE,
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/TLS with https:\/\/127\.0\.0\.1:\d+ failed/);
  });

  it('never shows the access token in a result or the log', () => {
    expect(seen.length).toBeGreaterThanOrEqual(6);
    for (const text of seen) expect(text).not.toContain(GKE_TOKEN);
    expect(server!.stderr()).not.toContain(GKE_TOKEN);
  });
});
