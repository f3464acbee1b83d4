/**
 * RayServices on the test bed: the real kuberay-operator (its RayService controller) reconciles what
 * deploy_serve_app applies, through a real MCP client over stdio.
 *
 * What is real here: server-side apply and its dry run against the real API server, the operator
 * making the RayService's (pending) RayCluster, ownership and protection on delete, and the
 * RayService resource's notifications. And the whole way to Ready and through an upgrade: kwok's
 * pods run no containers, so (as in kuberay-jobs.test.ts) a real local Ray cluster stands in for
 * each head: the head pod's IP goes on lo, TCP relays listen there (dashboard, Serve's port 8000),
 * and Endpoints point the head service at them. The bed's operator runs with
 * --use-kubernetes-proxy, so it reaches them through the API server (services/proxy for the
 * dashboard, pods/proxy for Serve's proxy health): it PUTs serveConfigV2 to the real dashboard,
 * reads the real application status, switches the services and promotes the cluster. The bed runs
 * no EndpointSlice controller, so the test writes the serve service's slice (KubeRay counts its
 * ready endpoints for Ready).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, toPromise } from 'xstate';
import type { TestbedState } from '../../scripts/testbed.js';
import { KubeClients } from '../../src/actors/kube.actor.js';
import { rayServiceActors } from '../../src/actors/rayservice.actor.js';
import { KubeClient } from '../../src/clients/kube.client.js';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';
import { apply, kubeRequest, useTestbed } from '../helpers/testbed.js';

const NS = 'ray-serve';
const path = (name: string) => `/apis/ray.io/v1/namespaces/${NS}/rayservices/${name}`;

let bed: TestbedState;
let server: StdioServer;

interface View {
  name: string;
  owned: boolean;
  state: string;
  active_cluster?: string;
  pending_cluster?: string;
  upgrade_in_progress: boolean;
  uri: string;
  conditions?: { type: string; status: string }[];
  events?: unknown[];
}
interface Deploy {
  rayservice: View;
  created: boolean;
  changed: boolean;
  dry_run?: boolean;
  diff?: { path: string; before?: string; after?: string }[];
}

const svc = {
  name: 'echo',
  import_path: 'echo:app',
  cluster_type: 'kubernetes',
  namespace: NS,
  runtime_env: { working_dir: 'https://example.invalid/echo.zip' },
  worker_node_specs: [{ group_name: 'cpu', replicas: 1, num_cpus: 1 }],
};

beforeAll(async () => {
  bed = await useTestbed();
  await apply(bed, `/api/v1/namespaces/${NS}`, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  // The Serve app the stand-in Ray imports (serveConfigV2 names it by import_path; Ray's workers
  // inherit PYTHONPATH from `ray start`, which inherits the server's environment).
  const appDir = scratchDir('rs-app');
  writeFileSync(
    join(appDir, 'rs_echo.py'),
    'from ray import serve\n\n' +
      '@serve.deployment(ray_actor_options={"num_cpus": 0.1})\n' +
      'class Echo:\n' +
      '    async def __call__(self, request):\n' +
      '        return "echo from the stand-in"\n\n' +
      'app = Echo.bind()\n',
  );
  server = await startStdioServer({
    env: {
      KUBECONFIG: bed.kubeconfig,
      PYTHONPATH: appDir,
      // Ports of its own: another suite's server on this machine probes the default range too.
      RAY_MCP_PORT_RANGE: '17000-19999',
    },
  });
}, 300_000);

afterAll(async () => {
  for (const name of ['echo', 'theirs', 'live', 'again', 'cycle'])
    await kubeRequest(bed, 'DELETE', path(name)).catch(() => undefined);
  await server?.close();
});

const get = (name: string) =>
  callOk<{ rayservices: View[] }>(server.client, 'list_serve_apps', {
    cluster_type: 'kubernetes',
    namespace: NS,
    name,
  });

/** delete_serve_app of `name` in the test namespace. */
const deleteApp = (name: string, extra: Record<string, unknown> = {}) =>
  callOk<{ deleted: boolean }>(server.client, 'delete_serve_app', {
    name,
    cluster_type: 'kubernetes',
    namespace: NS,
    ...extra,
  });

/** Until the API server has no RayService `name` any more. */
const awaitGone = (name: string) =>
  waitFor(
    `${name} gone`,
    async () => (await kubeRequest(bed, 'GET', path(name))).status === 404,
    60_000,
    300,
  );

/** A RayService made by someone else (no ray-mcp label), as the admin applies it. */
const foreignRayService = (name: string, annotations?: Record<string, string>) => ({
  apiVersion: 'ray.io/v1',
  kind: 'RayService',
  metadata: { name, namespace: NS, ...(annotations && { annotations }) },
  spec: {
    serveConfigV2: 'applications: []',
    rayClusterConfig: {
      headGroupSpec: {
        rayStartParams: {},
        template: { spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.60.0-py311' }] } },
      },
    },
  },
});

describe('RayService on the real operator', () => {
  it('applies, the operator makes its cluster, the same spec again is no change, a dry run changes nothing', async () => {
    const first = await callOk<Deploy>(server.client, 'deploy_serve_app', svc);
    expect(first).toMatchObject({ created: true, changed: true, rayservice: { name: 'echo', owned: true } });
    const obj = (await kubeRequest(bed, 'GET', path('echo'))).json;
    expect(obj.metadata.labels['app.kubernetes.io/managed-by']).toBe('ray-mcp');
    expect(JSON.parse(obj.spec.serveConfigV2).applications[0]).toMatchObject({
      name: 'echo',
      import_path: 'echo:app',
      route_prefix: '/echo',
    });

    // KubeRay makes the first cluster as the pending one (it becomes active once Serve is ready).
    const seen = await waitFor(
      'the operator to make the pending cluster',
      async () => {
        const v = (await get('echo')).rayservices[0]!;
        return v.pending_cluster || v.active_cluster ? v : undefined;
      },
      90_000,
      500,
    );
    const cluster = seen.pending_cluster ?? seen.active_cluster!;
    expect(cluster).toMatch(/^echo-/);
    const rc = await waitFor(
      'its RayCluster',
      async () => {
        const r = await kubeRequest(bed, 'GET', `/apis/ray.io/v1/namespaces/${NS}/rayclusters/${cluster}`);
        return r.status === 200 ? r.json : undefined;
      },
      60_000,
      500,
    );
    expect(rc.metadata.ownerReferences[0]).toMatchObject({ kind: 'RayService', name: 'echo' });
    expect(seen.conditions?.length).toBeGreaterThan(0);

    const generation = obj.metadata.generation;
    const again = await callOk<Deploy>(server.client, 'deploy_serve_app', svc);
    expect(again).toMatchObject({ created: false, changed: false });
    expect(again.diff).toBeUndefined();

    const dry = await callOk<Deploy>(server.client, 'deploy_serve_app', {
      ...svc,
      import_path: 'echo:app2',
      dry_run: true,
    });
    expect(dry).toMatchObject({ dry_run: true, changed: true, created: false });
    expect(dry.diff).toContainEqual({
      path: 'spec.serveConfigV2.applications[0].import_path',
      before: 'echo:app',
      after: 'echo:app2',
    });
    const after = (await kubeRequest(bed, 'GET', path('echo'))).json;
    expect(after.metadata.generation).toBe(generation);
    expect(JSON.parse(after.spec.serveConfigV2).applications[0].import_path).toBe('echo:app');
  }, 240_000);

  it('notifies its subscriber when the spec changes though KubeRay writes no status for it (replicas only)', async () => {
    const before = (await get('echo')).rayservices[0]!;
    const uri = before.uri;
    expect(uri).toBe(`ray://kubernetes/testbed-admin/namespaces/${NS}/rayservices/echo`);
    const read = async () =>
      JSON.parse(((await server.client.readResource({ uri })).contents[0] as { text: string }).text) as View;
    expect(await read()).toMatchObject({ name: 'echo', owned: true });
    const updates: string[] = [];
    server.client.setNotificationHandler(
      'notifications/resources/updated',
      (n) => void updates.push(n.params.uri),
    );
    await server.client.subscribeResource({ uri });
    const generation = (await kubeRequest(bed, 'GET', path('echo'))).json.metadata.generation;

    const changed = await callOk<Deploy>(server.client, 'deploy_serve_app', {
      ...svc,
      worker_node_specs: [{ group_name: 'cpu', replicas: 2, num_cpus: 1 }],
    });
    expect(changed).toMatchObject({ created: false, changed: true });
    expect(changed.diff).toContainEqual({
      path: 'spec.rayClusterConfig.workerGroupSpecs[0].replicas',
      before: '1',
      after: '2',
    });
    // Replicas are outside KubeRay's cluster hash: same cluster, and (no condition or cluster name
    // moving) the operator writes no status, so the notification comes from the spec's generation.
    await waitFor('a resource update', async () => updates.includes(uri), 30_000, 200);
    const obj = (await kubeRequest(bed, 'GET', path('echo'))).json;
    expect(obj.metadata.generation).toBe(generation + 1);
    const after = await read();
    expect(after.pending_cluster ?? after.active_cluster).toBe(
      before.pending_cluster ?? before.active_cluster,
    );
    await server.client.unsubscribeResource({ uri });
    server.client.removeNotificationHandler('notifications/resources/updated');
  }, 120_000);

  it('a subscriber keeps hearing of a RayService deleted and deployed again under its name', async () => {
    const cycle = { ...svc, name: 'cycle', wait_seconds: 0 };
    const first = await callOk<Deploy>(server.client, 'deploy_serve_app', cycle);
    const uri = first.rayservice.uri;
    const updates: string[] = [];
    server.client.setNotificationHandler(
      'notifications/resources/updated',
      (n) => void updates.push(n.params.uri),
    );
    await server.client.subscribeResource({ uri });
    expect((await deleteApp('cycle')).deleted).toBe(true);
    await awaitGone('cycle');
    await waitFor('an update for the delete', async () => updates.includes(uri), 30_000, 200);
    updates.length = 0;
    // Deployed again: the watch (its actor held by the subscription, not let go with the object) hears it.
    const again = await callOk<Deploy>(server.client, 'deploy_serve_app', cycle);
    expect(again.created).toBe(true);
    await waitFor('an update for the new object', async () => updates.includes(uri), 30_000, 200);
    const read = JSON.parse(
      ((await server.client.readResource({ uri })).contents[0] as { text: string }).text,
    );
    expect(read).toMatchObject({ name: 'cycle', owned: true });
    await server.client.unsubscribeResource({ uri });
    server.client.removeNotificationHandler('notifications/resources/updated');
  }, 180_000);

  it('deletes its own RayService; a foreign one only when cluster_id names it', async () => {
    await apply(bed, path('theirs'), foreignRayService('theirs'));
    await waitFor(
      'theirs listed',
      async () =>
        (
          await callOk<{ rayservices: View[] }>(server.client, 'list_serve_apps', {
            cluster_type: 'kubernetes',
            namespace: NS,
          })
        ).rayservices.some((r) => r.name === 'theirs' && !r.owned),
      30_000,
      300,
    );
    const refused = await server.client.callTool({
      name: 'delete_serve_app',
      arguments: { name: 'theirs', cluster_type: 'kubernetes', namespace: NS },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/did not create[\s\S]*cluster_id="theirs"/);
    expect((await kubeRequest(bed, 'GET', path('theirs'))).status).toBe(200);

    expect((await deleteApp('echo')).deleted).toBe(true);
    await awaitGone('echo');

    expect((await deleteApp('theirs', { cluster_id: 'theirs' })).deleted).toBe(true);
    await awaitGone('theirs');
    expect((await deleteApp('echo')).deleted).toBe(false);
  }, 240_000);
});

describe('deleting only what was looked at', () => {
  it('a RayService made again under the name since is not deleted (a uid precondition)', async () => {
    const clients = new KubeClients();
    await clients.set(
      'testbed-admin',
      await KubeClient.forTarget(
        { kind: 'kubeconfig', context: 'testbed-admin' },
        { kubeconfigPaths: [bed.kubeconfig] },
      ),
    );
    const obj = (note: string) => foreignRayService('again', { note });
    const first = await apply(bed, path('again'), obj('first'));
    // What a stale cache would hold: the first object's uid. The name now holds a second object.
    expect((await kubeRequest(bed, 'DELETE', path('again'))).status).toBeLessThan(300);
    await awaitGone('again');
    const second = await apply(bed, path('again'), obj('second'));
    expect(second.metadata.uid).not.toBe(first.metadata.uid);

    const del = (uid: string) =>
      toPromise(
        createActor(rayServiceActors({ clients }).deleteRayService, {
          input: { connectionId: 'testbed-admin', namespace: NS, name: 'again', uid },
        }).start(),
      );
    await expect(del(first.metadata.uid)).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/replaced by another object[\s\S]*nothing was deleted/),
    });
    expect((await kubeRequest(bed, 'GET', path('again'))).json.metadata.uid).toBe(second.metadata.uid);
    await del(second.metadata.uid);
    await awaitGone('again');
    await clients.delete('testbed-admin');
  });
});

/** Puts an address on lo for the test: 'added', 'present' (someone else's), or false (not root). */
function addLoopbackAddress(ip: string): 'added' | 'present' | false {
  try {
    execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo'], { stdio: 'pipe' });
    return 'added';
  } catch (err) {
    if (/File exists/.test(String((err as { stderr?: Buffer }).stderr ?? ''))) return 'present';
    return false;
  }
}

interface Relay {
  server: Server;
  sockets: Set<Socket>;
  port: number;
}

/** A TCP relay on ip:port (0: any free one): every byte to 127.0.0.1:target and back. */
async function relay(ip: string, port: number, target: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  const srv = createServer((inbound) => {
    const outbound = createConnection({ host: '127.0.0.1', port: target });
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close).on('close', close);
    outbound.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, ip, resolve));
  return { server: srv, sockets, port: (srv.address() as { port: number }).port };
}

function putJson(url: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'PUT', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res
          .on('data', (c: Buffer) => (text += c.toString()))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject).end(JSON.stringify(body));
  });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function closeRelay(r: Relay) {
  for (const s of r.sockets) s.destroy();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
}

interface AppView {
  name: string;
  cluster: 'active' | 'pending';
  status: string;
  deployments: Record<string, string>;
}

describe('RayService to Ready and through an upgrade, a real Ray standing in for the heads', () => {
  // Short: Ray's dashboard puts AF_UNIX sockets (at most 107 bytes) under the cluster's temp dir,
  // <test root>/t-XXXXXX/<name>-XXXXXX/session_<date>_<pid>/sockets/dash_MetricsHead; with
  // 'rs-stand-in' that was 108 bytes for a 5-digit pid and the dashboard never came up.
  const STAND_IN = 'rs';
  let dashPort = 0;
  let servePort = 0;
  let canBind = false;
  const added: string[] = [];
  const relays: Relay[] = [];
  const live = {
    name: 'live',
    import_path: 'rs_echo:app',
    cluster_type: 'kubernetes',
    namespace: NS,
    worker_node_specs: [{ group_name: 'cpu', replicas: 1, num_cpus: 1 }],
  };
  const getLive = async () => (await get('live')).rayservices[0] as View & { apps: AppView[] };

  const startStandIn = () =>
    server.client.callTool(
      {
        name: 'init_ray_cluster',
        arguments: { cluster_name: STAND_IN, num_cpus: 2, timeout_seconds: 240 },
      },
      { timeout: 300_000 },
    );
  /** What the head said, while its logs are still there (stopping the cluster removes them). */
  const standInFailure = (res: Awaited<ReturnType<typeof startStandIn>>) => {
    const dir = /logs are kept in (\S+)/.exec(textOf(res))?.[1];
    const logs = dir ? join(dir, 'session_latest', 'logs') : '';
    const files = [
      'dashboard.err',
      'dashboard_MetricsHead.log',
      'dashboard_MetricsHead.err',
      'gcs_server.err',
      'raylet.err',
    ];
    const tails = files.map((f) => {
      try {
        return `--- ${f}\n${readFileSync(join(logs, f), 'utf8').split('\n').slice(-15).join('\n')}`;
      } catch {
        return '';
      }
    });
    return `init_ray_cluster failed: ${textOf(res)}\n${tails.join('\n')}`;
  };

  beforeAll(async () => {
    const started = await startStandIn();
    if (started.isError) throw new Error(standInFailure(started));
    const local = started.structuredContent as { dashboard_url: string };
    dashPort = Number(new URL(local.dashboard_url).port);
    // Serve started with no application, its proxy on a free port of ours (not 8000, which a
    // neighbour may hold): KubeRay's PUT then keeps the port (Serve only warns on other
    // http_options) and, until its own application runs, reads "no application" (not ready).
    servePort = await freePort();
    // Not fetch(): its sec-fetch-mode header reads as a browser, and the dashboard refuses a PUT from one.
    const put = await putJson(`http://127.0.0.1:${dashPort}/api/serve/applications/`, {
      http_options: { host: '127.0.0.1', port: servePort },
      applications: [],
    });
    expect(put.status, put.body).toBe(200);
    canBind = addLoopbackAddress('10.213.255.254') !== false;
    if (canBind) execFileSync('ip', ['addr', 'del', '10.213.255.254/32', 'dev', 'lo'], { stdio: 'pipe' });
  }, 600_000);

  afterAll(async () => {
    await kubeRequest(bed, 'DELETE', path('live')).catch(() => undefined);
    for (const r of relays) await closeRelay(r);
    for (const ip of added) {
      try {
        execFileSync('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo'], { stdio: 'pipe' });
      } catch {}
    }
    await server.client.callTool(
      { name: 'stop_ray_cluster', arguments: { cluster_id: STAND_IN } },
      { timeout: 120_000 },
    );
  }, 300_000);

  /**
   * The cluster's head pod, relayed to the stand-in: its IP on lo, the dashboard and Serve's port
   * relayed there, the head service's Endpoints at the dashboard relay, and the RayService's serve
   * service (once KubeRay points it at this cluster) with an EndpointSlice and Endpoints at it.
   */
  async function relayHead(cluster: string) {
    const pod = await waitFor(
      `the head pod of ${cluster} with an IP`,
      async () => {
        const r = await kubeRequest(
          bed,
          'GET',
          `/api/v1/namespaces/${NS}/pods?labelSelector=ray.io/cluster=${cluster},ray.io/node-type=head`,
        );
        const p = r.json.items?.[0];
        return p?.status?.podIP ? p : undefined;
      },
      90_000,
      500,
    );
    const ip = String(pod.status.podIP);
    expect(ip).toMatch(/^10\.213\.\d+\.\d+$/);
    if (addLoopbackAddress(ip) === 'added') added.push(ip);
    const dash = await relay(ip, 0, dashPort);
    relays.push(dash);
    relays.push(await relay(ip, 8000, servePort));
    const rc = await waitFor(
      `${cluster}'s head service`,
      async () => {
        const r = await kubeRequest(bed, 'GET', `/apis/ray.io/v1/namespaces/${NS}/rayclusters/${cluster}`);
        return r.json?.status?.head?.serviceName ? r.json : undefined;
      },
      60_000,
      500,
    );
    const headSvc = String(rc.status.head.serviceName);
    const target = { kind: 'Pod', namespace: NS, name: pod.metadata.name, uid: pod.metadata.uid };
    await apply(bed, `/api/v1/namespaces/${NS}/endpoints/${headSvc}`, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: headSvc, namespace: NS },
      subsets: [
        {
          addresses: [{ ip, targetRef: target }],
          ports: [{ name: 'dashboard', port: dash.port, protocol: 'TCP' }],
        },
      ],
    });
    return { ip, target };
  }

  /** What an EndpointSlice controller would write for live-serve-svc, pointing at this head. */
  async function serveEndpoints(head: { ip: string; target: Record<string, string> }) {
    await apply(bed, `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/live-serve-svc-bed`, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'live-serve-svc-bed',
        namespace: NS,
        labels: { 'kubernetes.io/service-name': 'live-serve-svc' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [head.ip], conditions: { ready: true }, targetRef: head.target }],
      ports: [{ name: 'serve', port: 8000, protocol: 'TCP' }],
    });
    await apply(bed, `/api/v1/namespaces/${NS}/endpoints/live-serve-svc`, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'live-serve-svc', namespace: NS },
      subsets: [
        {
          addresses: [{ ip: head.ip, targetRef: head.target }],
          ports: [{ name: 'serve', port: 8000, protocol: 'TCP' }],
        },
      ],
    });
  }

  it('reaches Ready with the app RUNNING, answers through the serve service, upgrades to a new cluster and notifies', async (ctx) => {
    if (!canBind) ctx.skip('putting a pod IP on lo needs root (CAP_NET_ADMIN)');
    const first = await callOk<Deploy>(server.client, 'deploy_serve_app', live);
    expect(first).toMatchObject({ created: true, changed: true, rayservice: { name: 'live', owned: true } });
    const c1 = await waitFor(
      'the first (pending) cluster',
      async () => (await getLive())?.pending_cluster,
      90_000,
      500,
    );
    const head1 = await relayHead(c1);
    await serveEndpoints(head1);

    // KubeRay PUTs serveConfigV2 to the real dashboard, reads RUNNING, points the services at the
    // cluster, promotes it to active and, with a ready serve endpoint, says Ready.
    const ready = await waitFor(
      'the RayService Ready with its app RUNNING',
      async () => {
        const v = await getLive();
        return v.state === 'Ready' && v.apps.some((a) => a.name === 'live' && a.status === 'RUNNING')
          ? v
          : undefined;
      },
      180_000,
      1000,
    );
    expect(ready).toMatchObject({
      ready: true,
      upgrade_in_progress: false,
      active_cluster: c1,
      apps: [{ name: 'live', cluster: 'active', status: 'RUNNING', deployments: { Echo: 'HEALTHY' } }],
    });
    expect(ready.pending_cluster).toBeUndefined();
    // The real Serve runs it.
    const serve = await callOk<{ apps: { name: string; status: string }[] }>(
      server.client,
      'list_serve_apps',
      {
        cluster_id: STAND_IN,
      },
    );
    expect(serve.apps.map((a) => `${a.name}=${a.status}`)).toEqual(['live=RUNNING']);
    // Serve's proxy healthy through pods/proxy: KubeRay labels the head as a serve endpoint.
    const podLabel = async (name: string) =>
      (await kubeRequest(bed, 'GET', `/api/v1/namespaces/${NS}/pods/${name}`)).json.metadata.labels[
        'ray.io/serve'
      ];
    await waitFor(
      'the head labelled ray.io/serve=true',
      async () => (await podLabel(head1.target.name!)) === 'true',
      60_000,
      500,
    );
    // And the app answers through the RayService's serve service.
    const answer = await kubeRequest(
      bed,
      'GET',
      `/api/v1/namespaces/${NS}/services/live-serve-svc:serve/proxy/live`,
    );
    expect(answer.status).toBe(200);
    expect(String(answer.json)).toContain('echo from the stand-in');

    // Upgrade: a changed worker spec is a new cluster hash, so KubeRay prepares a new cluster while
    // the active one keeps serving; the subscriber hears of it.
    const uri = ready.uri;
    const updates: string[] = [];
    server.client.setNotificationHandler(
      'notifications/resources/updated',
      (n) => void updates.push(n.params.uri),
    );
    await server.client.subscribeResource({ uri });
    const changed = await callOk<Deploy>(server.client, 'deploy_serve_app', {
      ...live,
      worker_node_specs: [{ group_name: 'cpu', replicas: 1, num_cpus: 2 }],
    });
    expect(changed).toMatchObject({ created: false, changed: true });
    expect(changed.diff?.some((d) => d.path.startsWith('spec.rayClusterConfig.workerGroupSpecs[0]'))).toBe(
      true,
    );
    await waitFor('a resource update', async () => updates.includes(uri), 30_000, 200);
    const upgrading = await waitFor(
      'an upgrade in progress with a pending cluster',
      async () => {
        const v = await getLive();
        return v.upgrade_in_progress && v.pending_cluster ? v : undefined;
      },
      90_000,
      500,
    );
    expect(upgrading).toMatchObject({ state: 'Upgrading', active_cluster: c1 });
    const c2 = upgrading.pending_cluster!;
    expect(c2).not.toBe(c1);
    const seen = updates.length;
    const head2 = await relayHead(c2);

    // The new cluster's Serve (the same real Ray) reports RUNNING: KubeRay switches the services
    // to it and promotes it; the subscriber hears of the switch.
    const switched = await waitFor(
      'the new cluster active, no upgrade in progress',
      async () => {
        const v = await getLive();
        return v.active_cluster === c2 && !v.upgrade_in_progress && !v.pending_cluster ? v : undefined;
      },
      180_000,
      1000,
    );
    await serveEndpoints(head2);
    await waitFor('an update for the switch', async () => updates.length > seen, 30_000, 200);
    // The same Ray stands in for both heads: KubeRay's PUT to the "new" one redeploys the app, so
    // Ready can come while the app still reads DEPLOYING; wait for both, as for the first cluster.
    const after = await waitFor(
      'Ready on the new cluster with its app RUNNING',
      async () => {
        const v = await getLive();
        return v.state === 'Ready' && v.apps.some((a) => a.name === 'live' && a.status === 'RUNNING')
          ? v
          : undefined;
      },
      60_000,
      500,
    );
    expect(after.apps).toContainEqual(
      expect.objectContaining({ name: 'live', cluster: 'active', status: 'RUNNING' }),
    );
    expect(switched.active_cluster).toBe(c2);
    const svcSel = (await kubeRequest(bed, 'GET', `/api/v1/namespaces/${NS}/services/live-serve-svc`)).json
      .spec.selector;
    expect(svcSel['ray.io/cluster']).toBe(c2);
    await server.client.unsubscribeResource({ uri });
    server.client.removeNotificationHandler('notifications/resources/updated');

    const gone = await callOk<{ deleted: boolean }>(server.client, 'delete_serve_app', {
      name: 'live',
      cluster_type: 'kubernetes',
      namespace: NS,
    });
    expect(gone.deleted).toBe(true);
  }, 600_000);
});
