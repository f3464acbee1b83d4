/**
 * Each Kubernetes connection owns its client, against the real test bed: two contexts on the SAME
 * API server with different users (the bed's namespace-limited user and its admin) each track a
 * RayCluster the real operator reconciles, and each cluster's dashboard (a stand-in HTTP server
 * on the head pod's IP, behind the API server's service proxy) is reached with its own
 * connection's credentials only. The API server is the witness: it names the user it refused, and
 * the stand-ins record what reached them. After a disconnect nothing goes out with the old client.
 *
 * The limited user may work with RayClusters in the namespace but not use `services/proxy`; the
 * admin may. Before connections owned their dashboard routes, routes were matched by the server's
 * URL prefix, so whichever context connected last lent its credentials to both clusters.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import type { KubeClient } from '../../src/clients/kube.client.js';
import { type DashboardTarget, dashboardOwner } from '../../src/domain/dashboard.js';
import { RayMcpError } from '../../src/domain/errors.js';
import type { KubeRayClusterActor } from '../../src/machines/kuberay-cluster.machine.js';
import { callOk, type InMemoryServer, startInMemoryServer, textOf } from '../helpers/mcp.js';
import { apply, kubeRequest, LIMITED_USER, useTestbed } from '../helpers/testbed.js';

const NS = 'ownership';
const ADMIN = 'testbed-admin';
const LIMITED = 'testbed-limited';
const TOKEN = `own${Math.random().toString(16).slice(2).padEnd(30, '3')}`;

let bed: TestbedState;
let server: InMemoryServer;

/** A stand-in Ray dashboard on a head pod's IP: records every request that reaches it. */
interface StandIn {
  server: Server;
  port: number;
  seen: { path: string; headers: IncomingHttpHeaders }[];
}

async function standIn(ip: string): Promise<StandIn> {
  const seen: StandIn['seen'] = [];
  const srv = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/authentication_mode') res.end('{"authentication_mode":"token"}');
    else if (req.headers['x-ray-authorization'] !== `Bearer ${TOKEN}`) {
      res.statusCode = 401;
      res.end('{"error":"token required"}');
    } else if (req.url === '/api/jobs/') res.end('[]');
    else res.end('{}');
  });
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, ip, resolve));
  return { server: srv, port: (srv.address() as { port: number }).port, seen };
}

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

function removeLoopbackAddress(ip: string) {
  try {
    execFileSync('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo'], { stdio: 'pipe' });
  } catch {}
}

/** Who the API server takes a connection's client for (SelfSubjectReview needs no rights). */
async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.request<{ status?: { userInfo?: { username?: string } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status?.userInfo?.username ?? '';
}

const clusters = { admin: 'own-admin', limited: 'own-limited' } as const;
type Who = keyof typeof clusters;

describe('two contexts on the same API server', () => {
  const stands: Partial<Record<Who, StandIn>> = {};
  const ips: string[] = [];
  let canBind = true;

  beforeAll(async () => {
    bed = await useTestbed();
    await apply(bed, `/api/v1/namespaces/${NS}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
    // The limited user may run Ray here, but may not go through the service proxy.
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
    server = await startInMemoryServer(
      {},
      { KUBECONFIG: bed.kubeconfig, RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: TOKEN },
    );

    // The limited context connects first, the admin last: a route keyed by the server would be admin's.
    await callOk(server.client, 'connect_kubernetes_cluster', { context: LIMITED });
    await callOk(server.client, 'connect_kubernetes_cluster', { context: ADMIN });
    for (const who of ['admin', 'limited'] as const) {
      const kr = await callOk<{ nodes: { node_type: string; name: string; address?: string }[] }>(
        server.client,
        'init_ray_cluster',
        {
          cluster_type: 'kubernetes',
          cluster_name: clusters[who],
          namespace: NS,
          kubernetes_context: who === 'admin' ? ADMIN : LIMITED,
          timeout_seconds: 120,
        },
      );
      const head = kr.nodes.find((n) => n.node_type === 'head')!;
      expect(head.address).toMatch(/^10\.213\.0\.\d+$/);
      const lo = addLoopbackAddress(head.address!);
      if (lo === false) {
        canBind = false;
        return;
      }
      if (lo === 'added') ips.push(head.address!);
      const s = await standIn(head.address!);
      stands[who] = s;
      await apply(bed, `/api/v1/namespaces/${NS}/endpoints/${clusters[who]}-head-svc`, {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: `${clusters[who]}-head-svc`, namespace: NS },
        subsets: [
          {
            addresses: [{ ip: head.address, targetRef: { kind: 'Pod', namespace: NS, name: head.name } }],
            ports: [{ name: 'dashboard', port: s.port, protocol: 'TCP' }],
          },
        ],
      });
    }
  }, 300_000);

  afterAll(async () => {
    for (const s of Object.values(stands)) {
      s.server.closeAllConnections();
      await new Promise<void>((r) => s.server.close(() => r()));
    }
    for (const ip of ips) removeLoopbackAddress(ip);
    for (const name of Object.values(clusters))
      await kubeRequest(bed, 'DELETE', `/apis/ray.io/v1/namespaces/${NS}/rayclusters/${name}`).catch(
        () => {},
      );
    await server?.close();
  }, 120_000);

  const jobsPaths = (who: Who) => (stands[who]?.seen ?? []).filter((s) => s.path === '/api/jobs/');

  it("sends each cluster's dashboard requests with its own connection's user, never the other's", async (ctx) => {
    if (!canBind) ctx.skip('putting a pod IP on lo needs root (CAP_NET_ADMIN)');
    const system = server.app.system;
    // The two connections really are two users of one API server.
    const admin = system.kubeClients.require(ADMIN);
    const limited = system.kubeClients.require(LIMITED);
    expect(admin.server).toBe(limited.server);
    expect(await whoAmI(admin)).toBe('admin');
    expect(await whoAmI(limited)).toBe(LIMITED_USER);

    // The admin's cluster: through admin's credentials, the proxy lets the request reach the head.
    await callOk(server.client, 'list_ray_jobs', { cluster_id: clusters.admin });
    expect(jobsPaths('admin')).toHaveLength(1);
    // Kubernetes' Authorization stays with the API server; the Ray token passes in its own header.
    expect(jobsPaths('admin')[0]!.headers.authorization).toBeUndefined();
    expect(jobsPaths('admin')[0]!.headers['x-ray-authorization']).toBe(`Bearer ${TOKEN}`);

    // The limited user's cluster: the API server saw the limited user (admin connected last) and refused.
    const refused = await server.client.callTool({
      name: 'list_ray_jobs',
      arguments: { cluster_id: clusters.limited },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(
      new RegExp(`User "${LIMITED_USER}" cannot get resource "services/proxy"[\\s\\S]*namespace "${NS}"`),
    );
    expect(stands.limited!.seen).toEqual([]);
    expect(jobsPaths('admin')).toHaveLength(1);
  });

  it('keeps the admin cluster on admin credentials when the limited context connects again, last', async (ctx) => {
    if (!canBind) ctx.skip('putting a pod IP on lo needs root (CAP_NET_ADMIN)');
    const system = server.app.system;
    await system.ask(system.kube(LIMITED)!, { type: 'kube.disconnect' });
    await callOk(server.client, 'connect_kubernetes_cluster', { context: LIMITED });
    expect(await whoAmI(system.kubeClients.require(LIMITED))).toBe(LIMITED_USER);

    const before = jobsPaths('admin').length;
    await callOk(server.client, 'list_ray_jobs', { cluster_id: clusters.admin });
    expect(jobsPaths('admin')).toHaveLength(before + 1);
    const refused = await server.client.callTool({
      name: 'list_ray_jobs',
      arguments: { cluster_id: clusters.limited },
    });
    expect(textOf(refused)).toMatch(
      new RegExp(`User "${LIMITED_USER}" cannot get resource "services/proxy"`),
    );
    expect(stands.limited!.seen).toEqual([]);
  });

  it('sends nothing more with a connection once it is disconnected', async (ctx) => {
    if (!canBind) ctx.skip('putting a pod IP on lo needs root (CAP_NET_ADMIN)');
    const system = server.app.system;
    const old = system.kubeClients.require(ADMIN);
    const actor = system.cluster(clusters.admin) as KubeRayClusterActor;
    const c = actor.getSnapshot().context;
    const target: DashboardTarget = {
      url: `${old.server}/api/v1/namespaces/${NS}/services/${clusters.admin}-head-svc:dashboard/proxy`,
      connectionId: c.connectionId,
      owner: dashboardOwner(c.id, c.createdAt),
    };
    expect(c.connectionId).toBe(ADMIN);
    // Still connected: the target reaches the head.
    await system.dashboards.client(target).listJobs();
    const reached = jobsPaths('admin').length;

    await system.ask(system.kube(ADMIN)!, { type: 'kube.disconnect' });
    // The registry drops the client once the connection's close has run.
    await expect.poll(() => system.kubeClients.get(ADMIN), { timeout: 10_000 }).toBeUndefined();

    // Through the dashboards, through the jobs actor, through a reference to the old client: nothing goes out.
    const err = await system.dashboards
      .client(target)
      .listJobs()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RayMcpError);
    expect(err).toMatchObject({
      code: 'unavailable',
      message: `Kubernetes connection ${ADMIN} is not connected.`,
      fix: expect.stringContaining('connect_kubernetes_cluster'),
    });
    const jobs = system.jobs(clusters.admin)!;
    await expect(system.ask(jobs, { type: 'jobs.refresh', dashboard: target })).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining(`Kubernetes connection ${ADMIN} is not connected`),
    });
    await expect(old.get('/version')).rejects.toMatchObject({ code: 'unavailable' });
    await expect(old.transport()).rejects.toBeInstanceOf(RayMcpError);
    const tool = await server.client.callTool({
      name: 'list_ray_jobs',
      arguments: { cluster_id: clusters.admin },
    });
    expect(tool.isError).toBe(true);
    expect(jobsPaths('admin')).toHaveLength(reached);

    // The limited connection on the same server is untouched.
    expect(await whoAmI(system.kubeClients.require(LIMITED))).toBe(LIMITED_USER);
  });
});
