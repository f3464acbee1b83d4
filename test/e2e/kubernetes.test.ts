/**
 * Kubernetes connections against the real test bed (kube-apiserver, etcd, KubeRay operator, kwok):
 * contexts from several kubeconfig files, connect, cluster info, and the errors a user can act on.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { useTestbed } from '../helpers/testbed.js';

/** The part of get_kubernetes_cluster_info's structured output these tests read. */
interface ClusterInfo {
  kubernetes: {
    version: string;
    nodes: { total: number; ready: number; cpu: number; memory_gi: number; gpus: Record<string, number> };
    namespaces: string[];
    kuberay: {
      crds: { name: string; versions: string[] }[];
      crds_installed: boolean;
      operator?: { namespace: string; name: string; version?: string; ready: boolean };
    };
  };
}

let bed: TestbedState;
let server: StdioServer;
let extraKubeconfig: string;

beforeAll(async () => {
  bed = await useTestbed();
  // A second kubeconfig file: a context with an expired token, and one whose server is down.
  const dir = scratchDir('kc');
  extraKubeconfig = join(dir, 'extra.yaml');
  const ca = readFileSync(join(bed.dir, 'certs', 'apiserver.crt')).toString('base64');
  writeFileSync(
    extraKubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: bed',
      `  cluster: {server: "${bed.server}", certificate-authority-data: ${ca}}`,
      '- name: nowhere',
      '  cluster: {server: "https://127.0.0.1:1"}',
      'users:',
      '- name: expired',
      '  user: {token: not-a-valid-token}',
      'contexts:',
      '- name: expired-creds',
      '  context: {cluster: bed, user: expired}',
      '- name: unreachable',
      '  context: {cluster: nowhere, user: expired}',
      'current-context: expired-creds',
      '',
    ].join('\n'),
  );
  server = await startStdioServer({ env: { KUBECONFIG: `${bed.kubeconfig}:${extraKubeconfig}` } });
});

afterAll(async () => {
  await server?.close();
});

describe('Kubernetes connections', () => {
  it('lists the contexts of every KUBECONFIG file, the first current-context winning', async () => {
    const res = await callOk<{ contexts: { name: string; current: boolean }[]; current_context: string }>(
      server.client,
      'list_kubernetes_clusters',
    );
    expect(res.current_context).toBe('testbed-admin');
    expect(res.contexts.map((c) => c.name).sort()).toEqual([
      'expired-creds',
      'testbed-admin',
      'testbed-limited',
      'unreachable',
    ]);
  });

  it('connects to the current context and describes the cluster', async () => {
    const conn = await callOk<Record<string, unknown>>(server.client, 'connect_kubernetes_cluster', {});
    expect(conn).toMatchObject({
      connection: 'testbed-admin',
      status: 'connected',
      server: bed.server,
      kubernetes_version: bed.versions.kubernetes,
      cluster_wide: true,
      kuberay_crds: true,
    });
    const info = await callOk<ClusterInfo>(server.client, 'get_kubernetes_cluster_info', {});
    expect(info.kubernetes.version).toBe(bed.versions.kubernetes);
    expect(info.kubernetes.nodes).toMatchObject({ total: 1, ready: 1, cpu: 64, memory_gi: 256 });
    expect(info.kubernetes.nodes.gpus).toEqual({ 'nvidia.com/gpu': 8 });
    expect(info.kubernetes.namespaces).toEqual(
      expect.arrayContaining(['default', 'kube-system', 'ray-system']),
    );
    expect(info.kubernetes.kuberay.crds_installed).toBe(true);
    expect(info.kubernetes.kuberay.crds.map((c) => c.name)).toEqual(
      expect.arrayContaining(['rayclusters.ray.io', 'rayjobs.ray.io', 'rayservices.ray.io']),
    );
    expect(info.kubernetes.kuberay.operator).toMatchObject({
      namespace: 'ray-system',
      version: bed.versions.kuberay,
    });
  });

  it('names an unknown context and lists the known ones', async () => {
    const res = await server.client.callTool({
      name: 'connect_kubernetes_cluster',
      arguments: { context: 'nope' },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/No context named nope/);
    expect(textOf(res)).toMatch(/testbed-admin/);
  });

  it('reports rejected (expired) credentials instead of hanging', async () => {
    const started = Date.now();
    const res = await server.client.callTool({
      name: 'connect_kubernetes_cluster',
      arguments: { context: 'expired-creds' },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/rejected the credentials \(401 Unauthorized\)/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('reports an unreachable API server', async () => {
    const res = await server.client.callTool({
      name: 'connect_kubernetes_cluster',
      arguments: { context: 'unreachable' },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/Cannot reach the Kubernetes API/);
  });
});
