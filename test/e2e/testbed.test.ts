/**
 * A second, plain test bed (no KubeRay CRDs, no operator) of this file's own: the tools say the
 * CRDs are missing and how to install them, and stopping the bed leaves no process behind.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestbed, stopTestbed, type TestbedState } from '../../scripts/testbed.js';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { listProcesses } from '../helpers/processes.js';

let dir: string;
let bed: TestbedState;
let server: StdioServer | undefined;

beforeAll(async () => {
  dir = join(scratchDir('plainbed'), 'bed');
  mkdirSync(dir, { recursive: true });
  bed = await startTestbed(dir, { kuberay: false });
  server = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig } });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await stopTestbed(dir);
});

describe('a Kubernetes cluster without KubeRay', () => {
  it('connects, and reports the missing CRDs and operator', async () => {
    const conn = await callOk<{ kuberay_crds: boolean; status: string }>(
      server!.client,
      'connect_kubernetes_cluster',
      {},
    );
    expect(conn).toMatchObject({ status: 'connected', kuberay_crds: false });
    const res = await server!.client.callTool({ name: 'get_kubernetes_cluster_info', arguments: {} });
    expect(res.isError, textOf(res)).toBeFalsy();
    const info = res.structuredContent as {
      kubernetes: { kuberay: { crds_installed: boolean; operator?: unknown } };
    };
    expect(info.kubernetes.kuberay.crds_installed).toBe(false);
    expect(info.kubernetes.kuberay.operator).toBeUndefined();
    expect(textOf(res)).toMatch(/KubeRay CRDs not installed[\s\S]*helm install kuberay-operator/);
  });

  it('refuses KubeRay clusters and RayJobs with the fix', async () => {
    for (const [name, args] of [
      ['init_ray_cluster', { cluster_type: 'kubernetes', cluster_name: 'nope', timeout_seconds: 30 }],
      ['list_kuberay_jobs', {}],
      ['submit_ray_job', { job_type: 'rayjob', entrypoint: 'python x.py' }],
    ] as const) {
      const r = await server!.client.callTool({ name, arguments: args });
      expect(r.isError, name).toBe(true);
      expect(textOf(r)).toMatch(/KubeRay CRDs are not installed[\s\S]*helm install/);
    }
  });

  it('leaves no process behind when the bed stops', async () => {
    await server!.close();
    server = undefined;
    const before = listProcesses().filter((p) => p.cmdline.includes(dir));
    expect(before.map((p) => p.cmdline.split(' ')[0]!.split('/').pop())).toEqual(
      expect.arrayContaining(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']),
    );
    await stopTestbed(dir);
    expect(listProcesses().filter((p) => p.cmdline.includes(dir))).toEqual([]);
  });
});
