/**
 * A FAKE of the GKE v1 REST API (container.googleapis.com), for tests only. No GKE emulator
 * exists, so this small node:http server stands in for Google; it runs in the test process on
 * 127.0.0.1 and the server under test points @google-cloud/container at it (fallback REST mode).
 *
 * Serves:
 *   GET/POST        /v1/projects/{p}/locations/{l}/clusters            (l = `-` lists every location)
 *   GET/DELETE      /v1/projects/{p}/locations/{l}/clusters/{c}
 *   GET/POST        /v1/projects/{p}/locations/{l}/clusters/{c}/nodePools
 *   GET/DELETE      /v1/projects/{p}/locations/{l}/clusters/{c}/nodePools/{n}
 *   GET             /v1/projects/{p}/locations/{l}/operations[/{id}]
 *   POST            /token   an OAuth2 token endpoint (refresh_token grant) for authorized_user credentials
 *
 * Models: bearer-token checks (401 UNAUTHENTICATED), projects it knows (others: 403 PERMISSION_DENIED),
 * known locations (others: 400 INVALID_ARGUMENT), 404 NOT_FOUND, 409 ALREADY_EXISTS, and creation as an
 * Operation that is RUNNING for `operationPolls` polls, then DONE, while the cluster goes
 * PROVISIONING → RUNNING. Injected failures: a cluster named `quota-*` is refused at once with
 * 429 RESOURCE_EXHAUSTED; one named `fail-*` gets an operation that ends DONE with a quota error and
 * a cluster in ERROR; one named `slow-*` stays PROVISIONING (its operation RUNNING) for 10,000 polls.
 *
 * Does not model: IAM roles, billing, real node VMs, versions and upgrades, Autopilot rules,
 * updates (PUT/PATCH/set*), operation cancel, field masks, paging, or rate limits.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, unknown>;

interface FakeCluster {
  project: string;
  location: string;
  body: Json;
  /** Polls of its creation operation left until it is RUNNING. */
  pollsLeft: number;
  failCreate: boolean;
}

interface FakeOperation {
  id: string;
  project: string;
  location: string;
  cluster: string;
  type: string;
  pollsLeft: number;
  startTime: string;
  endTime?: string;
  error?: { code: number; message: string };
}

export interface GkeFakeOptions {
  /** Projects that exist and the token may use. */
  projects?: string[];
  /** Bearer tokens the fake accepts (plus the ones its /token endpoint issues). */
  tokens?: string[];
  /** Polls an operation stays RUNNING before DONE. */
  operationPolls?: number;
  /** Lifetime of tokens issued by /token, in seconds. */
  tokenLifetimeSeconds?: number;
}

export const FAKE_LOCATIONS = [
  'us-central1',
  'us-central1-a',
  'us-central1-b',
  'us-central1-c',
  'europe-west4',
  'europe-west4-a',
  'europe-west1-b',
  'asia-east1-a',
];

export class GkeFake {
  readonly requests: { method: string; path: string; auth?: string }[] = [];
  private server?: Server;
  private readonly clusters = new Map<string, FakeCluster>();
  private readonly operations = new Map<string, FakeOperation>();
  private readonly tokens: Set<string>;
  private tokenCounter = 0;
  private readonly projects: Set<string>;
  private readonly operationPolls: number;
  tokenLifetimeSeconds: number;

  constructor(opts: GkeFakeOptions = {}) {
    this.projects = new Set(opts.projects ?? ['ray-mcp-test']);
    this.tokens = new Set(opts.tokens ?? ['fake-gke-token']);
    this.operationPolls = opts.operationPolls ?? 3;
    this.tokenLifetimeSeconds = opts.tokenLifetimeSeconds ?? 3600;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => send(res, 500, errorBody(500, String(err), 'INTERNAL')));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Forget every token: the next call with one gets 401 (an expired or revoked credential). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  acceptToken(token: string): void {
    this.tokens.add(token);
  }

  /** Adds a cluster ray-mcp did not create (no managed-by label), RUNNING. */
  addCluster(project: string, location: string, name: string, extra: Json = {}): void {
    this.clusters.set(key(project, location, name), {
      project,
      location,
      pollsLeft: 0,
      failCreate: false,
      body: {
        ...clusterBody(project, location, {
          name,
          nodePools: [{ name: 'default-pool', initialNodeCount: 3, config: { machineType: 'e2-medium' } }],
        }),
        status: 'RUNNING',
        ...extra,
      },
    });
  }

  clusterCount(): number {
    return this.clusters.size;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization;
    this.requests.push({ method, path: url.pathname, auth });
    const body = await readBody(req);

    if (url.pathname === '/token' && method === 'POST') return this.issueToken(res, body);

    const token = /^Bearer (.+)$/.exec(auth ?? '')?.[1];
    if (!token || !this.tokens.has(token)) {
      return send(
        res,
        401,
        errorBody(401, 'Request had invalid authentication credentials.', 'UNAUTHENTICATED'),
      );
    }
    const m =
      /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/(clusters|operations)(?:\/([^/]+))?(?:\/nodePools(?:\/([^/]+))?)?$/.exec(
        url.pathname,
      );
    if (!m) return send(res, 404, errorBody(404, `No route ${url.pathname}`, 'NOT_FOUND'));
    const [, project, location, kind, name, pool] = m as unknown as [
      string,
      string,
      string,
      string,
      string?,
      string?,
    ];
    if (!this.projects.has(project)) {
      return send(
        res,
        403,
        errorBody(
          403,
          `Permission denied on resource project ${project} (or it may not exist).`,
          'PERMISSION_DENIED',
        ),
      );
    }
    if (location !== '-' && !FAKE_LOCATIONS.includes(location)) {
      return send(
        res,
        400,
        errorBody(400, `Location "${location}" is not a valid location.`, 'INVALID_ARGUMENT'),
      );
    }
    if (kind === 'operations') return this.operation(res, project, location, name);
    const poolsPath = url.pathname.includes('/nodePools');
    if (!name) {
      if (method === 'GET') return this.listClusters(res, project, location);
      if (method === 'POST') return this.createCluster(res, project, location, body);
    } else if (!poolsPath) {
      if (method === 'GET') return this.getCluster(res, project, location, name);
      if (method === 'DELETE') return this.deleteCluster(res, project, location, name);
    } else {
      return this.nodePools(res, method, project, location, name, pool, body);
    }
    send(res, 405, errorBody(405, `${method} not allowed`, 'METHOD_NOT_ALLOWED'));
  }

  private issueToken(res: ServerResponse, body: string): void {
    const params = new URLSearchParams(body);
    if (params.get('grant_type') !== 'refresh_token' || !params.get('refresh_token')) {
      send(res, 400, { error: 'invalid_grant', error_description: 'Bad Request' });
      return;
    }
    const token = `fake-issued-${++this.tokenCounter}`;
    this.tokens.add(token);
    send(res, 200, { access_token: token, expires_in: this.tokenLifetimeSeconds, token_type: 'Bearer' });
  }

  private listClusters(res: ServerResponse, project: string, location: string): void {
    const clusters = [...this.clusters.values()]
      .filter((c) => c.project === project && (location === '-' || c.location === location))
      .map((c) => c.body);
    send(res, 200, clusters.length ? { clusters } : {});
  }

  private getCluster(res: ServerResponse, project: string, location: string, name: string): void {
    const c = this.clusters.get(key(project, location, name));
    if (!c) {
      send(res, 404, notFound(project, location, name));
      return;
    }
    send(res, 200, c.body);
  }

  private createCluster(res: ServerResponse, project: string, location: string, raw: string): void {
    const parsed = safeJson(raw);
    const cluster = (parsed.cluster ?? {}) as Json;
    const name = String(cluster.name ?? '');
    if (!/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/.test(name)) {
      send(res, 400, errorBody(400, `Invalid cluster name "${name}".`, 'INVALID_ARGUMENT'));
      return;
    }
    if (name.startsWith('quota-')) {
      send(
        res,
        429,
        errorBody(
          429,
          `Insufficient regional quota to satisfy request: resource "CPUS": request requires '48.0' and is short '40.0'. project has a quota of '8.0' with '8.0' available.`,
          'RESOURCE_EXHAUSTED',
        ),
      );
      return;
    }
    if (this.clusters.has(key(project, location, name))) {
      send(
        res,
        409,
        errorBody(
          409,
          `Already exists: projects/${project}/locations/${location}/clusters/${name}.`,
          'ALREADY_EXISTS',
        ),
      );
      return;
    }
    const nodePools = (cluster.nodePools as Json[] | undefined) ?? [];
    if (!nodePools.length && cluster.initialNodeCount === undefined) {
      send(
        res,
        400,
        errorBody(400, 'Cluster.initial_node_count must be greater than zero.', 'INVALID_ARGUMENT'),
      );
      return;
    }
    const body = clusterBody(project, location, cluster);
    this.clusters.set(key(project, location, name), {
      project,
      location,
      body,
      pollsLeft: this.operationPolls,
      failCreate: name.startsWith('fail-'),
    });
    const op = this.newOperation(project, location, name, 'CREATE_CLUSTER');
    if (name.startsWith('slow-')) op.pollsLeft = 10_000;
    send(res, 200, this.operationBody(op));
  }

  private deleteCluster(res: ServerResponse, project: string, location: string, name: string): void {
    const k = key(project, location, name);
    const c = this.clusters.get(k);
    if (!c) {
      send(res, 404, notFound(project, location, name));
      return;
    }
    this.clusters.delete(k);
    const op = this.newOperation(project, location, name, 'DELETE_CLUSTER');
    op.pollsLeft = 0;
    op.endTime = new Date().toISOString();
    send(res, 200, this.operationBody(op));
  }

  private nodePools(
    res: ServerResponse,
    method: string,
    project: string,
    location: string,
    cluster: string,
    pool: string | undefined,
    raw: string,
  ): void {
    const c = this.clusters.get(key(project, location, cluster));
    if (!c) {
      send(res, 404, notFound(project, location, cluster));
      return;
    }
    const pools = (c.body.nodePools as Json[]) ?? [];
    if (!pool && method === 'GET') {
      send(res, 200, { nodePools: pools });
      return;
    }
    if (!pool && method === 'POST') {
      const np = (safeJson(raw).nodePool ?? {}) as Json;
      if (pools.some((p) => p.name === np.name)) {
        send(res, 409, errorBody(409, `Already exists: node pool ${String(np.name)}.`, 'ALREADY_EXISTS'));
        return;
      }
      pools.push(poolBody(np, 'RUNNING'));
      c.body.nodePools = pools;
      const op = this.newOperation(project, location, cluster, 'CREATE_NODE_POOL');
      send(res, 200, this.operationBody(op));
      return;
    }
    const found = pools.find((p) => p.name === pool);
    if (!found) {
      send(res, 404, errorBody(404, `Not found: node pool ${pool}.`, 'NOT_FOUND'));
      return;
    }
    if (method === 'GET') {
      send(res, 200, found);
      return;
    }
    if (method === 'DELETE') {
      c.body.nodePools = pools.filter((p) => p.name !== pool);
      const op = this.newOperation(project, location, cluster, 'DELETE_NODE_POOL');
      send(res, 200, this.operationBody(op));
      return;
    }
    send(res, 405, errorBody(405, `${method} not allowed`, 'METHOD_NOT_ALLOWED'));
  }

  private operation(res: ServerResponse, project: string, location: string, id: string | undefined): void {
    if (!id) {
      const ops = [...this.operations.values()].filter(
        (o) => o.project === project && (location === '-' || o.location === location),
      );
      send(res, 200, { operations: ops.map((o) => this.operationBody(o)) });
      return;
    }
    const op = this.operations.get(id);
    if (!op || op.project !== project || op.location !== location) {
      send(res, 404, errorBody(404, `Not found: operation ${id}.`, 'NOT_FOUND'));
      return;
    }
    // Each poll moves the operation (and its cluster) on.
    if (op.pollsLeft > 0) {
      op.pollsLeft--;
      const c = this.clusters.get(key(project, location, op.cluster));
      if (op.pollsLeft === 0) {
        op.endTime = new Date().toISOString();
        if (c?.failCreate) {
          op.error = {
            code: 8,
            message: `Insufficient quota to satisfy the request: Not all instances running in IGM after 25m. Quota 'NVIDIA_T4_GPUS' exceeded. Limit: 0.0 in region ${location.replace(/-[a-z]$/, '')}.`,
          };
          if (c) {
            c.body.status = 'ERROR';
            c.body.statusMessage = op.error.message;
          }
        } else if (c && op.type === 'CREATE_CLUSTER') {
          c.body.status = 'RUNNING';
          c.body.endpoint = `10.${Math.floor(Math.random() * 200)}.0.2`;
          for (const p of c.body.nodePools as Json[]) p.status = 'RUNNING';
        }
      }
    }
    send(res, 200, this.operationBody(op));
  }

  private newOperation(project: string, location: string, cluster: string, type: string): FakeOperation {
    const id = `operation-${Date.now()}-${randomBytes(4).toString('hex')}`;
    const op: FakeOperation = {
      id,
      project,
      location,
      cluster,
      type,
      pollsLeft: this.operationPolls,
      startTime: new Date().toISOString(),
    };
    this.operations.set(id, op);
    return op;
  }

  private operationBody(op: FakeOperation): Json {
    const done = op.pollsLeft === 0;
    const base = `https://container.googleapis.com/v1/projects/${op.project}/locations/${op.location}`;
    return {
      name: op.id,
      zone: op.location,
      location: op.location,
      operationType: op.type,
      status: done ? 'DONE' : 'RUNNING',
      selfLink: `${base}/operations/${op.id}`,
      targetLink: `${base}/clusters/${op.cluster}`,
      startTime: op.startTime,
      ...(op.endTime && { endTime: op.endTime }),
      ...(op.error && { error: op.error, statusMessage: op.error.message }),
      progress: { metrics: [{ name: 'CLUSTER_CONFIGURING', intValue: String(done ? 7 : 1) }] },
    };
  }
}

function clusterBody(project: string, location: string, cluster: Json): Json {
  const name = String(cluster.name);
  const pools = ((cluster.nodePools as Json[] | undefined) ?? []).map((p) => poolBody(p, 'PROVISIONING'));
  if (!pools.length) {
    pools.push(
      poolBody(
        {
          name: 'default-pool',
          initialNodeCount: cluster.initialNodeCount,
          config: cluster.nodeConfig ?? {},
        },
        'PROVISIONING',
      ),
    );
  }
  return {
    ...cluster,
    name,
    nodePools: pools,
    location,
    zone: location,
    selfLink: `https://container.googleapis.com/v1/projects/${project}/locations/${location}/clusters/${name}`,
    status: 'PROVISIONING',
    currentMasterVersion: String(cluster.initialClusterVersion ?? '1.33.5-gke.1201000'),
    currentNodeVersion: String(cluster.initialClusterVersion ?? '1.33.5-gke.1201000'),
    createTime: new Date().toISOString(),
    endpoint: '',
    masterAuth: { clusterCaCertificate: Buffer.from(FAKE_CA_PEM).toString('base64') },
  };
}

function poolBody(p: Json, status: string): Json {
  return { ...p, status, version: '1.33.5-gke.1201000' };
}

/** Shaped like a PEM; never used for TLS by these tests. */
const FAKE_CA_PEM = '-----BEGIN CERTIFICATE-----\nRkFLRS1DQQ==\n-----END CERTIFICATE-----\n';

const key = (p: string, l: string, c: string) => `${p}/${l}/${c}`;

function notFound(project: string, location: string, name: string): Json {
  return errorBody(
    404,
    `Not found: projects/${project}/locations/${location}/clusters/${name}.`,
    'NOT_FOUND',
  );
}

function errorBody(code: number, message: string, status: string): Json {
  return { error: { code, message, status } };
}

function send(res: ServerResponse, status: number, body: Json): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(text);
}

function safeJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return {};
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      data += chunk;
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
