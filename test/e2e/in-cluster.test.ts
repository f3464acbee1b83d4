/**
 * ray-mcp as a pod sees it, against the real test bed: no kubeconfig, KUBERNETES_SERVICE_HOST/PORT
 * pointing at the bed's API server, and a service-account directory holding a real ServiceAccount
 * token (from the TokenRequest API), the bed's CA and the namespace. The ServiceAccount has exactly
 * the RBAC and admission policy of deploy/ (parsed from the YAML, namespace substituted), applied
 * by the admin. Through a real MCP client over stdio: the `in-cluster` context is listed and
 * current, every KubeRay tool works in the ServiceAccount's namespace, and what the manifests do
 * not grant (another namespace, deleting a RayCluster or RayService someone else made) answers with a clear
 * permission error. A rotated token file is picked up.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';
import { apply, kubeRequest, useTestbed } from '../helpers/testbed.js';

const NS = 'in-cluster-ray';
const OTHER = 'in-cluster-other';
const SA = 'ray-mcp';
const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes manifests, read ad hoc
type Manifest = any;

let bed: TestbedState;
let server: StdioServer;
let saDir: string;
/** Cluster-scoped objects this file applied, deleted at the end. */
const clusterScoped: string[] = [];

const rc = (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayclusters/${name}`;
const rayJobPath = (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayjobs/${name}`;
const rayServicePath = (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayservices/${name}`;

/** The RBAC and admission objects of deploy/, moved to namespace `ns`. */
function deployManifests(ns: string): Manifest[] {
  const docs: Manifest[] = [];
  for (const file of ['serviceaccount.yaml', 'rbac.yaml', 'admission-policy.yaml']) {
    for (const doc of loadAll(readFileSync(join(DEPLOY, file), 'utf8')) as Manifest[]) {
      if (!doc) continue;
      if (doc.metadata.namespace) doc.metadata.namespace = ns;
      for (const s of doc.subjects ?? []) if (s.kind === 'ServiceAccount') s.namespace = ns;
      docs.push(doc);
    }
  }
  return docs;
}

function pathOf(obj: Manifest): string {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const kind = obj.kind.toLowerCase();
  const plural = kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`;
  const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : '';
  return `${base}${ns}/${plural}/${obj.metadata.name}`;
}

/** A real ServiceAccount token from the TokenRequest API, bound to a Secret (deleting it revokes it). */
async function tokenFor(boundSecret: string): Promise<string> {
  const secret = await kubeRequest(bed, 'POST', `/api/v1/namespaces/${NS}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: boundSecret },
  });
  expect(secret.status, JSON.stringify(secret.json)).toBe(201);
  const res = await kubeRequest(bed, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      expirationSeconds: 3600,
      boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: boundSecret, uid: secret.json.metadata.uid },
    },
  });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.status.token as string;
}

const foreignCluster = (ns: string, name: string) => ({
  apiVersion: 'ray.io/v1',
  kind: 'RayCluster',
  metadata: { name, namespace: ns },
  spec: {
    rayVersion: '2.60.0',
    headGroupSpec: {
      rayStartParams: {},
      template: { spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.60.0' }] } },
    },
    workerGroupSpecs: [],
  },
});

beforeAll(async () => {
  bed = await useTestbed();
  for (const ns of [NS, OTHER]) {
    await apply(bed, `/api/v1/namespaces/${ns}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
  }
  for (const obj of deployManifests(NS)) {
    const path = pathOf(obj);
    await apply(bed, path, obj);
    if (!obj.metadata.namespace) clusterScoped.push(path);
  }
  // A RayCluster someone else made, in the ServiceAccount's own namespace.
  await apply(bed, rc(NS, 'theirs'), foreignCluster(NS, 'theirs'));

  saDir = scratchDir('sa');
  mkdirSync(saDir, { recursive: true });
  writeFileSync(join(saDir, 'token'), await tokenFor('token-1'));
  copyFileSync(join(bed.dir, 'certs', 'apiserver.crt'), join(saDir, 'ca.crt'));
  writeFileSync(join(saDir, 'namespace'), NS);

  // RBAC and the admission policy take effect once the API server's caches have them: wait until a
  // dry-run delete of the foreign RayCluster, as the ServiceAccount, is refused by the policy.
  const token = readFileSync(join(saDir, 'token'), 'utf8');
  await waitFor(
    'the admission policy in force',
    async () => {
      const r = await kubeRequest(
        bed,
        'DELETE',
        `${rc(NS, 'theirs')}?dryRun=All`,
        undefined,
        undefined,
        token,
      );
      return r.status === 403 && /ray-mcp deletes only what it created/.test(JSON.stringify(r.json));
    },
    60_000,
    500,
  );

  server = await startStdioServer({
    env: {
      // No kubeconfig at all: the pod's ServiceAccount is the only way in.
      KUBECONFIG: join(saDir, 'no-kubeconfig'),
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(bed.ports.apiserver),
      RAY_MCP_SERVICEACCOUNT_DIR: saDir,
    },
  });
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (!bed) return;
  for (const path of [
    rc(NS, 'theirs'),
    rc(NS, 'ic-a'),
    rayJobPath(NS, 'ic-job'),
    rayServicePath(NS, 'ic-serve'),
    rayServicePath(NS, 'their-serve'),
  ]) {
    await kubeRequest(bed, 'DELETE', path);
  }
  for (const path of clusterScoped.reverse()) await kubeRequest(bed, 'DELETE', path);
  for (const ns of [NS, OTHER]) await kubeRequest(bed, 'DELETE', `/api/v1/namespaces/${ns}`);
}, 120_000);

/** Calls the list tool `tool` until its `field` holds an entry whose `idKey` is `id`; that list. */
async function listedOnce(
  tool: string,
  args: Record<string, unknown>,
  field: string,
  idKey: string,
  id: string,
): Promise<Record<string, unknown>[]> {
  return waitFor(
    `${id} listed by ${tool}`,
    async () => {
      const items = (await callOk<Record<string, Record<string, unknown>[]>>(server.client, tool, args))[
        field
      ]!;
      return items.some((x) => x[idKey] === id) && items;
    },
    30_000,
    300,
  );
}

interface View {
  cluster_id: string;
  status: string;
  owned: boolean;
  kubernetes: {
    context: string;
    namespace: string;
    name: string;
    worker_groups: { group_name: string; replicas: number; ready: number }[];
  };
}

describe('ray-mcp in a pod: the in-cluster connection', () => {
  it('lists the in-cluster context as current, with the ServiceAccount namespace, and connects to it by default', async () => {
    const list = await callOk<{
      current_context?: string;
      contexts: { name: string; namespace?: string; current: boolean }[];
    }>(server.client, 'list_kubernetes_clusters');
    expect(list.current_context).toBe('in-cluster');
    expect(list.contexts).toEqual([
      expect.objectContaining({ name: 'in-cluster', namespace: NS, current: true }),
    ]);

    const conn = await callOk<{
      connection: string;
      status: string;
      namespace: string;
      cluster_wide?: boolean;
      watch_errors?: string[];
    }>(server.client, 'connect_kubernetes_cluster', {});
    expect(conn).toMatchObject({ connection: 'in-cluster', status: 'connected', namespace: NS });
    // The Role is namespaced: no RayClusters of other namespaces, and its own namespace fully readable.
    expect(conn.cluster_wide).toBeFalsy();
    expect(conn.watch_errors).toBeUndefined();
    const again = await callOk<{ status: string }>(server.client, 'connect_kubernetes_cluster', {
      context: 'in-cluster',
    });
    expect(again.status).toBe('connected');

    // The read-only ClusterRole covers nodes and namespaces; nothing grants the operator's Deployment.
    const info = await callOk<{
      kubernetes: {
        nodes: { total: number };
        namespaces: string[];
        kuberay: { crds?: unknown[] };
        unreadable?: string[];
      };
    }>(server.client, 'get_kubernetes_cluster_info');
    expect(info.kubernetes.nodes.total).toBeGreaterThan(0);
    expect(info.kubernetes.namespaces).toContain(NS);
    expect(JSON.stringify(info.kubernetes.kuberay)).toMatch(/rayclusters\.ray\.io/);
  });

  it('runs the KubeRay cluster tools in its namespace: init, inspect, list, scale, the dashboard through the API server', async () => {
    const view = await callOk<View>(server.client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'ic-a',
      worker_node_specs: [{ group_name: 'cpu', replicas: 1, max_replicas: 3, num_cpus: 1, memory: '1Gi' }],
      timeout_seconds: 120,
    });
    expect(view).toMatchObject({ cluster_id: 'ic-a', status: 'running', owned: true });
    expect(view.kubernetes).toMatchObject({ context: 'in-cluster', namespace: NS, name: 'ic-a' });
    const obj = (await kubeRequest(bed, 'GET', rc(NS, 'ic-a'))).json;
    expect(obj.metadata.labels['app.kubernetes.io/managed-by']).toBe('ray-mcp');

    const inspected = await callOk<View>(server.client, 'inspect_ray_cluster', { cluster_id: 'ic-a' });
    expect(inspected.kubernetes.worker_groups).toEqual([
      expect.objectContaining({ group_name: 'cpu', replicas: 1, ready: 1 }),
    ]);
    const clusters = await listedOnce('list_ray_clusters', {}, 'clusters', 'cluster_id', 'theirs');
    expect(clusters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ cluster_id: 'ic-a', owned: true }),
        expect.objectContaining({ cluster_id: 'theirs', owned: false }),
      ]),
    );
    const up = await callOk<View>(server.client, 'scale_ray_cluster', {
      cluster_id: 'ic-a',
      worker_group: 'cpu',
      workers: 2,
    });
    expect(up.kubernetes.worker_groups[0]).toMatchObject({ replicas: 2, ready: 2 });

    // The dashboard goes through the API server's service proxy: RBAC lets it pass (services/proxy),
    // and the fake pods have no endpoint, so the answer is "not reachable yet", never "forbidden".
    const jobs = await server.client.callTool({ name: 'list_ray_jobs', arguments: { cluster_id: 'ic-a' } });
    expect(jobs.isError).toBe(true);
    expect(textOf(jobs)).toMatch(/not reachable yet: no ready endpoint/);
    expect(textOf(jobs)).not.toMatch(/forbidden|RBAC/i);
  });

  it('submits, lists, inspects and cancels a RayJob in its namespace', async () => {
    const sub = await callOk<{
      rayjob?: { name: string; namespace: string; context: string; owned: boolean };
    }>(server.client, 'submit_ray_job', {
      job_type: 'rayjob',
      rayjob: 'ic-job',
      entrypoint: 'python train.py',
      rayjob_cluster: { worker_node_specs: [{ group_name: 'cpu', replicas: 1, num_cpus: 1 }] },
    });
    expect(sub.rayjob).toMatchObject({ name: 'ic-job', namespace: NS, context: 'in-cluster', owned: true });
    const listed = await callOk<{ context: string; rayjobs: { name: string; owned: boolean }[] }>(
      server.client,
      'list_kuberay_jobs',
      {},
    );
    expect(listed.context).toBe('in-cluster');
    expect(listed.rayjobs).toEqual([expect.objectContaining({ name: 'ic-job', owned: true })]);
    const seen = await waitFor(
      'the RayJob reconciled',
      async () => {
        const r = await callOk<{ rayjob?: { ray_cluster?: string; deployment_status?: string } }>(
          server.client,
          'inspect_ray_job',
          { rayjob: 'ic-job' },
        );
        return r.rayjob?.ray_cluster && r.rayjob.deployment_status ? r : undefined;
      },
      90_000,
      500,
    );
    expect(seen.rayjob!.ray_cluster).toMatch(/^ic-job-/);
    const deleted = await callOk<{ mode?: string }>(server.client, 'cancel_ray_job', {
      rayjob: 'ic-job',
      mode: 'delete',
    });
    expect(deleted.mode).toBe('delete');
    await waitFor(
      'the RayJob deleted',
      async () => (await kubeRequest(bed, 'GET', rayJobPath(NS, 'ic-job'))).status === 404,
      60_000,
      500,
    );
  });

  it('deploys, lists and deletes its own RayService; a RayService someone else made is not deleted, even when named', async () => {
    const dry = await callOk<{ dry_run?: boolean; created: boolean; changed: boolean }>(
      server.client,
      'deploy_serve_app',
      {
        name: 'ic-serve',
        import_path: 'echo:app',
        cluster_type: 'kubernetes',
        runtime_env: { working_dir: 'https://example.invalid/echo.zip' },
        dry_run: true,
      },
    );
    expect(dry).toMatchObject({ dry_run: true, changed: true });
    const deployed = await callOk<{ created: boolean; rayservice: { namespace: string; owned: boolean } }>(
      server.client,
      'deploy_serve_app',
      {
        name: 'ic-serve',
        import_path: 'echo:app',
        cluster_type: 'kubernetes',
        runtime_env: { working_dir: 'https://example.invalid/echo.zip' },
        wait_seconds: 0,
      },
    );
    expect(deployed).toMatchObject({ created: true, rayservice: { namespace: NS, owned: true } });

    await apply(bed, rayServicePath(NS, 'their-serve'), {
      apiVersion: 'ray.io/v1',
      kind: 'RayService',
      metadata: { name: 'their-serve', namespace: NS },
      spec: {
        serveConfigV2: 'applications: []\n',
        rayClusterConfig: foreignCluster(NS, 'x').spec,
      },
    });
    const services = await listedOnce(
      'list_serve_apps',
      { cluster_type: 'kubernetes' },
      'rayservices',
      'name',
      'their-serve',
    );
    expect(services).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'ic-serve', owned: true }),
        expect.objectContaining({ name: 'their-serve', owned: false }),
      ]),
    );
    // Named explicitly, ray-mcp itself would delete it; in the pod the admission policy refuses.
    const refused = await server.client.callTool({
      name: 'delete_serve_app',
      arguments: { name: 'their-serve', cluster_id: 'their-serve', cluster_type: 'kubernetes' },
    });
    expect(refused.isError, textOf(refused)).toBe(true);
    expect(textOf(refused)).toMatch(/ray-mcp deletes only what it created/);
    expect((await kubeRequest(bed, 'GET', rayServicePath(NS, 'their-serve'))).status).toBe(200);

    const mine = await callOk<{ deleted: boolean }>(server.client, 'delete_serve_app', {
      name: 'ic-serve',
      cluster_type: 'kubernetes',
    });
    expect(mine.deleted).toBe(true);
    await waitFor(
      'ic-serve deleted',
      async () => (await kubeRequest(bed, 'GET', rayServicePath(NS, 'ic-serve'))).status === 404,
      60_000,
      500,
    );
  });

  it('says clearly what the ServiceAccount may not do in another namespace', async () => {
    const denied = await server.client.callTool({
      name: 'init_ray_cluster',
      arguments: {
        cluster_type: 'kubernetes',
        cluster_name: 'ic-denied',
        namespace: OTHER,
        timeout_seconds: 30,
      },
    });
    expect(denied.isError).toBe(true);
    const text = textOf(denied);
    expect(text).toMatch(
      new RegExp(
        `ServiceAccount ${NS}/${SA} \\w+ rayclusters\\.ray\\.io in namespace ${OTHER}[\\s\\S]*not a ray-mcp error`,
      ),
    );
    expect(text).toMatch(/Role and RoleBinding/);
    expect((await kubeRequest(bed, 'GET', rc(OTHER, 'ic-denied'))).status).toBe(404);

    const jobs = await server.client.callTool({ name: 'list_kuberay_jobs', arguments: { namespace: OTHER } });
    expect(jobs.isError).toBe(true);
    expect(textOf(jobs)).toMatch(
      new RegExp(`ServiceAccount ${NS}/${SA} list rayjobs\\.ray\\.io in namespace ${OTHER}`),
    );
  });

  it('may not delete a RayCluster it did not create, even when named: the admission policy refuses', async () => {
    const r = await server.client.callTool({ name: 'stop_ray_cluster', arguments: { cluster_id: 'theirs' } });
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).toMatch(/Not allowed on in-cluster[\s\S]*ray-mcp deletes only what it created/);
    expect((await kubeRequest(bed, 'GET', rc(NS, 'theirs'))).status).toBe(200);
  });

  it('stops its own RayCluster: the RayCluster is gone', async () => {
    const stopped = await callOk<View>(server.client, 'stop_ray_cluster', { cluster_id: 'ic-a' });
    expect(stopped.status).toBe('stopped');
    expect((await kubeRequest(bed, 'GET', rc(NS, 'ic-a'))).status).toBe(404);
  });

  it('picks up a rotated token: after the old one is revoked it still works', async () => {
    const old = readFileSync(join(saDir, 'token'), 'utf8');
    writeFileSync(join(saDir, 'token'), await tokenFor('token-2'));
    // client-node rereads the token file when its copy is a minute old (as client-go does).
    await new Promise((r) => setTimeout(r, 65_000));
    expect((await kubeRequest(bed, 'DELETE', `/api/v1/namespaces/${NS}/secrets/token-1`)).status).toBe(200);
    // The old token is dead now: only the reread one can work.
    await waitFor(
      'the old token revoked',
      async () =>
        (await kubeRequest(bed, 'GET', `/api/v1/namespaces/${NS}/pods`, undefined, undefined, old)).status ===
        401,
      30_000,
      300,
    );
    const list = await callOk<{ context: string }>(server.client, 'list_kuberay_jobs', {});
    expect(list.context).toBe('in-cluster');
    const info = await callOk<{ connection: { status: string } }>(
      server.client,
      'get_kubernetes_cluster_info',
    );
    expect(info.connection.status).toBe('connected');
  }, 120_000);
});
