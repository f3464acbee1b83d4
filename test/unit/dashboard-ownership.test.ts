/**
 * Who owns what a dashboard request needs, against local node:http servers (no Ray, no
 * Kubernetes): a cluster's auth mode is learnt per owner (never per URL) and learnt again after a
 * 401; a dashboard behind a Kubernetes connection goes out with that connection's client only, and
 * with none once it is disconnected; a connection's cloud token lives and dies with its client;
 * one kubeconfig merge serves both readers; no module-level Map holds state.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeClients } from '../../src/actors/kube.actor.js';
import { Dashboards, type DashboardTransport, dashboardError } from '../../src/clients/dashboard.client.js';
import { KubeClient } from '../../src/clients/kube.client.js';
import { mergeKubeconfigFiles, readKubeconfigs } from '../../src/clients/kubeconfig.client.js';
import { RayMcpError } from '../../src/domain/errors.js';
import type { CloudKubeTarget, KubeToken } from '../../src/domain/kube.js';

const TOKEN = 'ray-secret-token';

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
}

/** A stand-in Ray dashboard: its auth mode can change (a new cluster on the same port). */
class FakeDashboard {
  mode: 'token' | 'disabled' = 'disabled';
  /** Answer 401 to a request without the token (a dashboard with token auth on). */
  requireToken = false;
  /** Answer every request as an API server refusing it (a Kubernetes Status 403). */
  kubeRefuses = false;
  seen: Seen[] = [];
  private server?: Server;
  url = '';

  probes(): number {
    return this.seen.filter((s) => s.path === '/api/authentication_mode').length;
  }
  calls(path = '/api/version'): Seen[] {
    return this.seen.filter((s) => s.path === path);
  }

  /** Over TLS when given a key and certificate (a Kubernetes client wants https). */
  async start(tls?: { key: string; cert: string }): Promise<void> {
    const handler: RequestListener = (req, res) => {
      this.seen.push({ path: req.url ?? '', headers: req.headers });
      res.setHeader('content-type', 'application/json');
      if (this.kubeRefuses) {
        res.statusCode = 403;
        res.end(
          JSON.stringify({
            kind: 'Status',
            status: 'Failure',
            reason: 'Forbidden',
            message: 'User "limited" cannot get resource "services/proxy"',
          }),
        );
        return;
      }
      if (req.url === '/api/authentication_mode') {
        res.end(JSON.stringify({ authentication_mode: this.mode }));
        return;
      }
      const auth = req.headers['x-ray-authorization'];
      if (this.requireToken && auth !== `Bearer ${TOKEN}`) {
        res.statusCode = 401;
        res.end('{"error":"unauthorized"}');
        return;
      }
      res.end(JSON.stringify({ version: '4', ray_version: '2.60.0', ray_commit: 'x', session_name: 's' }));
    };
    this.server = tls ? createHttpsServer(tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as { port: number }).port;
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

let ray: FakeDashboard;
const opened: Dashboards[] = [];
const dashboards = (opts: ConstructorParameters<typeof Dashboards>[0]) => {
  const d = new Dashboards(opts);
  opened.push(d);
  return d;
};

beforeAll(async () => {
  ray = new FakeDashboard();
  await ray.start();
});
afterAll(async () => {
  await ray.stop();
});
afterEach(async () => {
  ray.seen = [];
  ray.mode = 'disabled';
  ray.requireToken = false;
  ray.kubeRefuses = false;
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

describe('auth mode, per owner', () => {
  it('is asked once per owner, and two owners on the same URL ask separately', async () => {
    ray.mode = 'token';
    const d = dashboards({ token: TOKEN });
    await d.client({ url: ray.url, owner: 'c1@1' }).version();
    await d.client({ url: ray.url, owner: 'c1@1' }).version();
    expect(ray.probes()).toBe(1);

    // The same port, a later cluster: what c1 said is not taken for it.
    ray.mode = 'disabled';
    await d.client({ url: ray.url, owner: 'c2@2' }).version();
    expect(ray.probes()).toBe(2);
    const [a, a2, b] = ray.calls();
    expect(a!.headers['x-ray-authorization']).toBe(`Bearer ${TOKEN}`);
    expect(a2!.headers['x-ray-authorization']).toBe(`Bearer ${TOKEN}`);
    // c2's dashboard does not ask for a token, so it never sees c1's.
    expect(b!.headers['x-ray-authorization']).toBeUndefined();
    expect(b!.headers.authorization).toBeUndefined();
  });

  it('after a 401 forgets the mode, asks again and retries the request once', async () => {
    const d = dashboards({ token: TOKEN });
    await d.client({ url: ray.url, owner: 'c1@1' }).version();
    expect(ray.probes()).toBe(1);
    // The cluster turned token auth on since it was asked.
    ray.mode = 'token';
    ray.requireToken = true;
    ray.seen = [];
    const v = await d.client({ url: ray.url, owner: 'c1@1' }).version();
    expect(v.ray_version).toBe('2.60.0');
    expect(ray.seen.map((s) => s.path)).toEqual(['/api/version', '/api/authentication_mode', '/api/version']);
    expect(ray.calls()[0]!.headers['x-ray-authorization']).toBeUndefined();
    expect(ray.calls()[1]!.headers['x-ray-authorization']).toBe(`Bearer ${TOKEN}`);
  });

  it('retries once only, and not at all without a token (asking again could change nothing)', async () => {
    ray.requireToken = true;
    const withToken = dashboards({ token: 'wrong' });
    await expect(withToken.client({ url: ray.url, owner: 'c1@1' }).version()).rejects.toThrow(/401/);
    expect(ray.calls()).toHaveLength(2);
    expect(ray.probes()).toBe(2);

    ray.seen = [];
    const without = dashboards({});
    await expect(without.client({ url: ray.url, owner: 'c1@1' }).version()).rejects.toThrow(/401/);
    expect(ray.seen.map((s) => s.path)).toEqual(['/api/version']);
  });

  it('drop(owner) forgets what was learnt about that owner only', async () => {
    ray.mode = 'token';
    const d = dashboards({ token: TOKEN });
    await d.client({ url: ray.url, owner: 'c1@1' }).version();
    await d.client({ url: ray.url, owner: 'c2@2' }).version();
    expect(ray.probes()).toBe(2);
    d.drop('c1@1');
    await d.client({ url: ray.url, owner: 'c1@1' }).version();
    await d.client({ url: ray.url, owner: 'c2@2' }).version();
    expect(ray.probes()).toBe(3);
  });
});

describe('dashboards behind a Kubernetes connection', () => {
  /** Two connections to the SAME server with different users, as a limited user and an admin are. */
  function connections() {
    const live = new Map<string, string>([
      ['limited', 'Bearer limited-k8s'],
      ['admin', 'Bearer admin-k8s'],
    ]);
    return {
      live,
      require(id: string): { transport(): Promise<DashboardTransport> } {
        const auth = live.get(id);
        if (!auth)
          throw new RayMcpError('unavailable', `Kubernetes connection ${id} is not connected.`, 'Connect.');
        return {
          transport: async () => {
            const { Agent } = await import('undici');
            return { dispatcher: new Agent(), headers: { authorization: auth } };
          },
        };
      },
    };
  }

  it("sends each request with the credentials of the connection it names, never another's", async () => {
    ray.mode = 'token';
    const conns = connections();
    const d = dashboards({ token: TOKEN, connections: conns });
    // The same URL (the same API server): only connectionId tells them apart.
    await d.client({ url: ray.url, connectionId: 'limited', owner: 'rc-l@1' }).version();
    await d.client({ url: ray.url, connectionId: 'admin', owner: 'rc-a@2' }).version();
    await d.client({ url: ray.url, connectionId: 'limited', owner: 'rc-l@1' }).version();
    expect(ray.calls().map((c) => c.headers.authorization)).toEqual([
      'Bearer limited-k8s',
      'Bearer admin-k8s',
      'Bearer limited-k8s',
    ]);
    // Authorization belongs to Kubernetes; the Ray token rides in X-Ray-Authorization.
    for (const c of ray.calls()) expect(c.headers['x-ray-authorization']).toBe(`Bearer ${TOKEN}`);
    // The auth probe went through the same connection as the request it served.
    expect(
      ray.seen.filter((s) => s.path === '/api/authentication_mode').map((s) => s.headers.authorization),
    ).toEqual(['Bearer limited-k8s', 'Bearer admin-k8s']);
  });

  it("takes the API server's refusal for what it is: no new auth probe, and the error names Kubernetes", async () => {
    ray.kubeRefuses = true;
    const d = dashboards({ token: TOKEN, connections: connections() });
    const client = d.client({ url: ray.url, connectionId: 'limited', owner: 'rc-l@1' });
    const err = await client.listJobs().catch((e: unknown) => e);
    // The probe and the request, each refused once; the refusal is Kubernetes', so no retry.
    expect(ray.seen.map((s) => s.path)).toEqual(['/api/authentication_mode', '/api/jobs/']);
    expect(dashboardError(client.url, err)).toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(
        /Kubernetes API server refused[\s\S]*User "limited" cannot get resource "services\/proxy"/,
      ),
    });
  });

  it('fails clearly, and sends nothing, once the connection is gone', async () => {
    const conns = connections();
    const d = dashboards({ token: TOKEN, connections: conns });
    conns.live.delete('admin');
    const err = await d
      .client({ url: ray.url, connectionId: 'admin', owner: 'rc-a@2' })
      .version()
      .catch((e) => e);
    expect(err).toBeInstanceOf(RayMcpError);
    expect(err).toMatchObject({
      code: 'unavailable',
      message: 'Kubernetes connection admin is not connected.',
    });
    expect(ray.seen).toEqual([]);
    // Without a way to Kubernetes at all, a proxied dashboard is not reached directly either.
    await expect(
      dashboards({}).client({ url: ray.url, connectionId: 'admin', owner: 'x@1' }).version(),
    ).rejects.toMatchObject({ code: 'unavailable' });
    expect(ray.seen).toEqual([]);
  });
});

describe('a connection owns its client', () => {
  let dir: string;
  let ca: string;
  /** The same fake, over TLS with a self-signed certificate for 127.0.0.1: a stand-in API server. */
  let api: FakeDashboard;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'own-'));
    ca = join(dir, 'ca.crt');
    const key = join(dir, 'ca.key');
    // biome-ignore format: one command line
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', ca], { stdio: 'pipe' });
    api = new FakeDashboard();
    await api.start({ key: readFileSync(key, 'utf8'), cert: readFileSync(ca, 'utf8') });
  });
  afterEach(() => {
    api.seen = [];
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeconfig(server: string): string {
    const path = join(dir, `kc-${Math.random().toString(16).slice(2)}`);
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: bed',
        `  cluster: { server: "${server}", certificate-authority: "${ca}" }`,
        'users:',
        '- name: admin',
        '  user: { token: admin-k8s }',
        '- name: limited',
        '  user: { token: limited-k8s }',
        'contexts:',
        '- name: admin',
        '  context: { cluster: bed, user: admin }',
        '- name: limited',
        '  context: { cluster: bed, user: limited }',
        'current-context: admin',
        '',
      ].join('\n'),
    );
    return path;
  }

  it('after a disconnect no request goes out with the old client, not even through a reference kept to it', async () => {
    const path = kubeconfig(api.url);
    const clients = new KubeClients();
    const d = dashboards({ token: TOKEN, connections: clients });
    for (const context of ['admin', 'limited'])
      await clients.set(
        context,
        await KubeClient.forTarget({ kind: 'kubeconfig', context }, { kubeconfigPaths: [path] }),
      );
    const kept = clients.require('admin');
    await d.client({ url: api.url, connectionId: 'admin', owner: 'rc@1' }).version();
    await kept.get('/version');
    expect(api.calls().map((c) => c.headers.authorization)).toEqual(['Bearer admin-k8s']);
    expect(api.calls('/version').map((c) => c.headers.authorization)).toEqual(['Bearer admin-k8s']);

    await clients.delete('admin');
    api.seen = [];
    await expect(
      d.client({ url: api.url, connectionId: 'admin', owner: 'rc@1' }).version(),
    ).rejects.toMatchObject({
      code: 'unavailable',
      message: 'Kubernetes connection admin is not connected.',
    });
    await expect(kept.get('/version')).rejects.toMatchObject({
      code: 'unavailable',
      message: 'Kubernetes connection admin is not connected.',
    });
    await expect(kept.transport()).rejects.toBeInstanceOf(RayMcpError);
    expect(api.seen).toEqual([]);
    // The other connection on the same server is untouched, and still sends its own user.
    await d.client({ url: api.url, connectionId: 'limited', owner: 'rc2@2' }).version();
    expect(api.calls().map((c) => c.headers.authorization)).toEqual(['Bearer limited-k8s']);
    await clients.closeAll();
  });

  it('keeps a cloud token for its lifetime, mints again when it lapses or its session goes, and drops it on close', async () => {
    const target: CloudKubeTarget = {
      kind: 'cloud',
      provider: 'eks',
      cluster: 'c',
      location: 'us-east-1',
      server: api.url,
      caData: Buffer.from(readFileSync(ca)).toString('base64'),
    };
    let minted = 0;
    let sessionAlive = true;
    let lifetimeMs = 60_000;
    const tokens = async (): Promise<KubeToken> => {
      minted++;
      return { token: `t${minted}`, expiresAt: Date.now() + lifetimeMs, valid: () => sessionAlive };
    };
    const client = await KubeClient.forTarget(target, { kubeconfigPaths: [], tokens });
    await client.get('/version');
    await client.get('/version');
    expect(minted).toBe(1);
    // Its session goes: the next request gets a new one (which here lapses at once).
    sessionAlive = false;
    lifetimeMs = -1;
    await client.get('/version');
    expect(minted).toBe(2);
    sessionAlive = true;
    await client.get('/version');
    await client.get('/version');
    expect(minted).toBe(4);
    expect(api.calls('/version').map((c) => c.headers.authorization)).toEqual([
      'Bearer t1',
      'Bearer t1',
      'Bearer t2',
      'Bearer t3',
      'Bearer t4',
    ]);
    await client.close();
    await expect(client.get('/version')).rejects.toMatchObject({ code: 'unavailable' });
    expect(minted).toBe(4);
  });
});

describe('one kubeconfig merge', () => {
  it('serves the context list and the client alike: first definition and first current-context win', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    try {
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      const bad = join(dir, 'bad');
      writeFileSync(
        a,
        'apiVersion: v1\nkind: Config\nclusters:\n- name: one\n  cluster: { server: "https://one.example" }\nusers:\n- name: u\n  user: { token: a }\ncontexts:\n- name: x\n  context: { cluster: one, user: u, namespace: ns-a }\ncurrent-context: x\n',
      );
      writeFileSync(
        b,
        'apiVersion: v1\nkind: Config\nclusters:\n- name: one\n  cluster: { server: "https://shadowed.example" }\n- name: two\n  cluster: { server: "https://two.example" }\nusers:\n- name: u\n  user: { token: b }\ncontexts:\n- name: x\n  context: { cluster: two, user: u }\n- name: y\n  context: { cluster: two, user: u }\ncurrent-context: y\n',
      );
      writeFileSync(bad, 'clusters: [this is: not, valid');
      const paths = [join(dir, 'missing'), a, b];
      const { config, files } = await mergeKubeconfigFiles(paths);
      expect(files).toEqual([
        { path: join(dir, 'missing'), exists: false },
        { path: a, exists: true },
        { path: b, exists: true },
      ]);
      expect(config.getCurrentContext()).toBe('x');
      expect(config.getCluster('one')?.server).toBe('https://one.example');
      const summary = await readKubeconfigs(paths);
      expect(summary.contexts).toEqual([
        { name: 'x', cluster: 'one', namespace: 'ns-a' },
        { name: 'y', cluster: 'two', namespace: undefined },
      ]);
      expect(summary.currentContext).toBe('x');
      const client = await KubeClient.forTarget(
        { kind: 'kubeconfig', context: 'x' },
        { kubeconfigPaths: paths },
      );
      expect(client.server).toBe('https://one.example');
      expect(client.defaultNamespace).toBe('ns-a');
      await client.close();

      // An unreadable file: the context list says so, the client refuses with the file named.
      const withBad = [bad, a];
      expect((await readKubeconfigs(withBad)).files[0]).toMatchObject({ path: bad, exists: true });
      expect((await readKubeconfigs(withBad)).files[0]!.error).toBeTruthy();
      await expect(
        KubeClient.forTarget({ kind: 'kubeconfig', context: 'x' }, { kubeconfigPaths: withBad }),
      ).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining(bad) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('no state outside the actors', () => {
  it('has no module-level Map in src, and no dashboard route registry', () => {
    const root = join(import.meta.dirname, '..', '..', 'src');
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) {
          readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              // A top-level statement (no indentation) that makes a Map or WeakMap.
              if (/^(export\s+)?(const|let|var)\s.*\bnew\s+(Weak)?Map\b/.test(line))
                offenders.push(`${p.slice(root.length + 1)}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
    const client = readFileSync(join(root, 'clients', 'dashboard.client.ts'), 'utf8');
    expect(client).not.toMatch(/registerDashboardRoute|routeFor|const (routes|authModes)\b/);
  });
});
