/**
 * Kubernetes events in inspect results, from the real test bed: a RayCluster whose GPU worker
 * asks for more GPUs than the (kwok) node has is left Pending by the real kube-scheduler, which
 * emits FailedScheduling; inspect_ray_cluster shows that event with its hint. A user who may not
 * list events gets a note, not an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import type { KubeEventView } from '../../src/domain/kube-events.js';
import { callOk, type StdioServer, startStdioServer } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';
import { apply, kubeRequest, LIMITED_USER, useTestbed } from '../helpers/testbed.js';

let bed: TestbedState;
let server: StdioServer;
const NS = 'events-a';
const rc = (name: string) => `/apis/ray.io/v1/namespaces/${NS}/rayclusters/${name}`;

interface Inspected {
  cluster_id: string;
  status: string;
  note?: string;
  events?: KubeEventView[];
}

function gpuHungryCluster(name: string) {
  const container = (n: string, limits: Record<string, string>) => ({
    name: n,
    image: 'rayproject/ray:2.60.0',
    resources: { limits, requests: limits },
  });
  return {
    apiVersion: 'ray.io/v1',
    kind: 'RayCluster',
    metadata: { name, namespace: NS },
    spec: {
      rayVersion: '2.60.0',
      headGroupSpec: {
        rayStartParams: {},
        template: { spec: { containers: [container('ray-head', { cpu: '1', memory: '1Gi' })] } },
      },
      workerGroupSpecs: [
        {
          groupName: 'gpu',
          replicas: 1,
          minReplicas: 0,
          maxReplicas: 1,
          rayStartParams: {},
          template: {
            spec: {
              // The test bed's node has 8 GPUs: 64 fit nowhere.
              containers: [container('ray-worker', { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '64' })],
              tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            },
          },
        },
      ],
    },
  };
}

beforeAll(async () => {
  bed = await useTestbed();
  await apply(bed, `/api/v1/namespaces/${NS}`, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  // The limited user may read Ray objects and pods here, but not events.
  await apply(bed, `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/ray`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'ray', namespace: NS },
    rules: [
      { apiGroups: ['ray.io'], resources: ['rayclusters', 'rayjobs'], verbs: ['*'] },
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  await apply(bed, `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings/ray`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'ray', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ray' },
    subjects: [{ kind: 'User', name: LIMITED_USER, apiGroup: 'rbac.authorization.k8s.io' }],
  });
  server = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig } });
  await callOk(server.client, 'connect_kubernetes_cluster', { context: 'testbed-admin' });
  await apply(bed, rc('rc-gpu64'), gpuHungryCluster('rc-gpu64'));
});

afterAll(async () => {
  await server?.close();
  if (bed) await kubeRequest(bed, 'DELETE', rc('rc-gpu64'));
});

describe('Kubernetes events in inspect results', () => {
  it('shows the scheduler’s FailedScheduling of a worker asking for a GPU no node has, with the hint', async () => {
    const inspected = await waitFor(
      'FailedScheduling in inspect_ray_cluster',
      async () => {
        // Unknown until the connection's informer has listed the RayCluster.
        const r = await server.client.callTool({
          name: 'inspect_ray_cluster',
          arguments: { cluster_id: 'rc-gpu64' },
        });
        const view = r.structuredContent as unknown as Inspected | undefined;
        return !r.isError && view?.events?.some((e) => e.reason === 'FailedScheduling') && view;
      },
      90_000,
      1000,
    );
    const failed = inspected.events!.find((e) => e.reason === 'FailedScheduling')!;
    expect(failed).toMatchObject({
      type: 'Warning',
      object: expect.stringMatching(/^Pod\/rc-gpu64-gpu-worker-/),
      message: expect.stringMatching(/^«.*Insufficient nvidia\.com\/gpu.*»$/),
      hint: 'no node has the requested GPU: lower the GPU request or add a GPU node pool',
    });
    expect(failed.count).toBeGreaterThanOrEqual(1);
    expect(inspected.events![0]!.type).toBe('Warning');
    expect(inspected.events!.length).toBeLessThanOrEqual(10);
    // Deduplicated: one entry per reason and object.
    const keys = inspected.events!.map((e) => `${e.reason} ${e.object}`);
    expect(new Set(keys).size).toBe(keys.length);

    const res = await server.client.callTool({
      name: 'inspect_ray_cluster',
      arguments: { cluster_id: 'rc-gpu64' },
    });
    const text = (res.content as { type: string; text: string }[])[0]!.text;
    expect(text).toMatch(
      /Event: FailedScheduling on Pod\/rc-gpu64-gpu-worker-\S+ .*no node has the requested GPU/,
    );
    console.log(`inspect_ray_cluster rc-gpu64: ${text}\n${JSON.stringify(failed)}`);
  });

  it('shows the events of a RayJob’s cluster pods in inspect_ray_job', async () => {
    const cluster = gpuHungryCluster('unused').spec;
    await apply(bed, `/apis/ray.io/v1/namespaces/${NS}/rayjobs/rj-gpu64`, {
      apiVersion: 'ray.io/v1',
      kind: 'RayJob',
      metadata: { name: 'rj-gpu64', namespace: NS },
      spec: { entrypoint: 'python -c "print(1)"', shutdownAfterJobFinishes: true, rayClusterSpec: cluster },
    });
    try {
      const job = await waitFor(
        'FailedScheduling in inspect_ray_job',
        async () => {
          const r = await server.client.callTool({
            name: 'inspect_ray_job',
            arguments: { rayjob: 'rj-gpu64', namespace: NS },
          });
          const v = r.structuredContent as unknown as { events?: KubeEventView[] } | undefined;
          return !r.isError && v?.events?.some((e) => e.reason === 'FailedScheduling') && v;
        },
        90_000,
        1000,
      );
      expect(job.events!.find((e) => e.reason === 'FailedScheduling')).toMatchObject({
        object: expect.stringMatching(/^Pod\/rj-gpu64-.*gpu-worker-/),
        hint: expect.stringMatching(/no node has the requested GPU/),
      });
    } finally {
      await kubeRequest(bed, 'DELETE', `/apis/ray.io/v1/namespaces/${NS}/rayjobs/rj-gpu64`);
    }
  });

  it('says the events are not readable when RBAC does not allow listing them, and still inspects', async () => {
    const limited = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig } });
    try {
      await callOk(limited.client, 'connect_kubernetes_cluster', { context: 'testbed-limited' });
      await callOk(limited.client, 'init_ray_cluster', {
        cluster_type: 'kubernetes',
        cluster_name: 'rc-limited',
        namespace: NS,
        timeout_seconds: 90,
      });
      const view = await callOk<Inspected>(limited.client, 'inspect_ray_cluster', {
        cluster_id: 'rc-limited',
      });
      expect(view).toMatchObject({ cluster_id: 'rc-limited', status: 'running' });
      expect(view.events).toBeUndefined();
      expect(view.note).toMatch(/events not readable \(RBAC: list events\)/);
      await callOk(limited.client, 'stop_ray_cluster', { cluster_id: 'rc-limited' });
    } finally {
      await limited.close();
    }
  });
});
