/**
 * An in-memory world for fast handler tests: fake Ray clusters (node processes, dashboards, jobs
 * and their logs), fake Kubernetes API servers (RayClusters, RayJobs, pods, with KubeRay's
 * operator acting at once) and fake clouds (credentials, clusters, creations). `world.actors`
 * replaces every I/O actor of the system by name (ActorOverrides), so the real machines, system
 * and tool handlers run against it: tests set the world up, call tools, and read the effects
 * here (a submitted job is in `ray.jobs`, a stopped cluster's processes are gone).
 * Fakes answer at once; nothing touches the OS, the network or a cloud.
 */
import {
  asapScheduler,
  concat,
  filter,
  from,
  map,
  NEVER,
  type Observable,
  of,
  Subject,
  subscribeOn,
} from 'rxjs';
import { fromCallback, fromEventObservable, fromPromise } from 'xstate';
import type { ActorOverrides } from '../../src/actors/system.js';
import type { RayJobDetails } from '../../src/clients/dashboard.client.js';
import {
  CloudAuthError,
  type CloudClusterInfo,
  type CloudDetection,
  type CloudIdentity,
  type CloudProvider,
} from '../../src/domain/cloud.js';
import type { ClusterDetails, RayEndpoints, RayNodeHealth } from '../../src/domain/cluster-record.js';
import type { JobLogPage } from '../../src/domain/commands.js';
import type { EnvironmentReport } from '../../src/domain/environment.js';
import { RayMcpError } from '../../src/domain/errors.js';
import { type JobStatus, jobView } from '../../src/domain/jobs.js';
import { connectionIdOf } from '../../src/domain/kube.js';
import { type RawKubeEvent, summarizeEvents } from '../../src/domain/kube-events.js';
import {
  type PodSummary,
  paths,
  type RayClusterSummary,
  type RayJobSummary,
  summarizeRayJob,
} from '../../src/domain/kuberay.js';
import type { RayJobFailures } from '../../src/domain/ray-api.js';
import { objectDiff, summarizeRayService } from '../../src/domain/rayservice.js';
import type { RayServeDetails, ServeAppConfig, ServeNetwork } from '../../src/domain/serve.js';
import type { cloudConnectionMachine } from '../../src/machines/cloud-connection.machine.js';
import type { environmentMachine } from '../../src/machines/environment.machine.js';
import type { externalClusterMachine } from '../../src/machines/external-cluster.machine.js';
import type { jobsMachine } from '../../src/machines/jobs.machine.js';
import type {
  KubeHealthEvent,
  KubeInfo,
  KubeSession,
  kubeConnectionMachine,
} from '../../src/machines/kube-connection.machine.js';
import type { kuberayClusterMachine } from '../../src/machines/kuberay-cluster.machine.js';
import type { LocalClusterEvent, localClusterMachine } from '../../src/machines/local-cluster.machine.js';
import type { portAllocatorMachine } from '../../src/machines/port-allocator.machine.js';
import type { rayJobMachine } from '../../src/machines/rayjob.machine.js';
import type { rayServiceMachine } from '../../src/machines/rayservice.machine.js';
import type { InformerEvent } from '../../src/watchers/kube-informer.watcher.js';

/** What `machine.provide({ actors })` accepts: the fakes are checked against the machines' own actor types. */
type ActorsOf<M> = M extends { provide: (impl: infer I) => unknown }
  ? NonNullable<I extends { actors?: infer A } ? A : never>
  : never;

export const RAY_VERSION = '2.99.0';
const later = <T>(source: Observable<T>) => source.pipe(subscribeOn(asapScheduler));
const iso = () => new Date().toISOString();

// ---- Ray ----

export interface FakeJob {
  dashboardUrl: string;
  details: RayJobDetails;
  log: string[];
}

export interface FakeDashboard {
  url: string;
  sessionName: string;
  /** Extra (non-process) nodes, e.g. an external cluster's. */
  nodes: RayNodeHealth[];
}

export interface FakeProcess {
  clusterId: string;
  node: string;
  nodeType: string;
  pid: number;
  tempDir: string;
  sendBack(event: LocalClusterEvent): void;
}

export class FakeRay {
  readonly dashboards = new Map<string, FakeDashboard>();
  /** Running `ray start` processes, by `<cluster>/<node>`. */
  readonly processes = new Map<string, FakeProcess>();
  /** Every job on every dashboard, by submission id. */
  readonly jobs = new Map<string, FakeJob>();
  /** Every stopNodes call, for tests that check what a stop or scale-down stopped. */
  readonly stops: { clusterId: string; nodes: string[]; removeTempDir: boolean }[] = [];
  /** Set to make the next local starts fail in prepareLaunch (e.g. no Ray CLI). */
  prepareError?: RayMcpError;
  readonly changes = new Subject<string>();
  /** Dashboard URL of each local cluster. */
  private readonly clusterUrls = new Map<string, string>();
  private nextPort = 40_000;
  private nextPid = 990_000;

  addDashboard(url: string, nodes: RayNodeHealth[] = []): FakeDashboard {
    const d = { url, sessionName: `session_fake_${this.dashboards.size + 1}`, nodes };
    this.dashboards.set(url, d);
    return d;
  }

  /** A running cluster ray-mcp did not start, for init_ray_cluster(address=...). */
  addExternal(url: string, workers = 0): FakeDashboard {
    const node = (i: number): RayNodeHealth => ({
      nodeId: `ext-node-${i}`,
      name: i === 0 ? 'head' : `worker-${i}`,
      nodeType: i === 0 ? 'head' : 'worker',
      alive: true,
      isHead: i === 0,
      address: `10.0.0.${i + 1}`,
      resourcesTotal: { CPU: 4 },
    });
    return this.addDashboard(
      url,
      Array.from({ length: workers + 1 }, (_, i) => node(i)),
    );
  }

  processesOf(clusterId: string): FakeProcess[] {
    return [...this.processes.values()].filter((p) => p.clusterId === clusterId);
  }

  /** A node process dies on its own (the machine hears node.exited). */
  killNode(clusterId: string, node: string, exit = 'exit code 1', excerpt?: string): void {
    const p = this.processes.get(`${clusterId}/${node}`);
    if (!p) throw new Error(`no fake process ${clusterId}/${node}`);
    this.processes.delete(`${clusterId}/${node}`);
    p.sendBack({ type: 'node.exited', node, exit, excerpt });
  }

  jobsOn(url: string): FakeJob[] {
    return [...this.jobs.values()].filter((j) => j.dashboardUrl === url);
  }

  /** A job as if someone else had submitted it (or it ran before). */
  addJob(
    url: string,
    sid: string,
    status: JobStatus,
    opts: {
      entrypoint?: string;
      log?: string[];
      runtimeEnv?: Record<string, unknown>;
      startedAgoMs?: number;
    } = {},
  ) {
    const now = Date.now() - (opts.startedAgoMs ?? 0);
    const job: FakeJob = {
      dashboardUrl: url,
      log: opts.log ?? [`running ${opts.entrypoint ?? 'python job.py'}`],
      details: {
        type: 'SUBMISSION',
        job_id: `raysubmit_${sid}`,
        submission_id: sid,
        status,
        entrypoint: opts.entrypoint ?? 'python job.py',
        runtime_env: opts.runtimeEnv ?? null,
        start_time: now,
        end_time: ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(status) ? now + 1000 : null,
        driver_info: { id: `driver-${sid}`, node_ip_address: '127.0.0.1', pid: '4242' },
        driver_node_id: 'node-head',
      },
    };
    this.jobs.set(sid, job);
    this.changes.next(url);
    return job;
  }

  /** A job ends the way its driver would report it. */
  endJob(sid: string, status: JobStatus, opts: { log?: string[]; message?: string; exitCode?: number } = {}) {
    const job = this.jobs.get(sid);
    if (!job) throw new Error(`no fake job ${sid}`);
    job.details = {
      ...job.details,
      status,
      end_time: Date.now(),
      message: opts.message ?? `Job ${status.toLowerCase()}.`,
      driver_exit_code: opts.exitCode ?? (status === 'SUCCEEDED' ? 0 : 1),
    };
    job.log.push(...(opts.log ?? []));
    this.changes.next(job.dashboardUrl);
  }

  private dashboard(url: string): FakeDashboard {
    const d = this.dashboards.get(url);
    if (!d) {
      throw new RayMcpError(
        'unavailable',
        `No Ray dashboard answers at ${url}.`,
        'Check the address, or start a cluster with init_ray_cluster.',
      );
    }
    return d;
  }

  /** Ray's view of a dashboard's nodes: its fake processes, plus any static ones. */
  nodes(url: string): RayNodeHealth[] {
    const d = this.dashboard(url);
    const procs = [...this.processes.values()].filter((p) => this.clusterUrls.get(p.clusterId) === url);
    return [
      ...d.nodes,
      ...procs.map((p) => ({
        nodeId: `node-${p.node}`,
        name: p.node,
        nodeType: p.nodeType,
        alive: true,
        isHead: p.node === 'head',
        address: '127.0.0.1',
        resourcesTotal: { CPU: 2 },
        resourcesAvailable: { CPU: 2 },
      })),
    ];
  }

  private ports(names: string[]): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const n of names) {
      this.nextPort += 10;
      const base = this.nextPort;
      out[n] =
        n === 'head'
          ? { gcs: base, dashboard: base + 1, client: base + 2, serveHttp: base + 3, serveGrpc: base + 4 }
          : { nodeManager: base };
    }
    return out;
  }

  /** Serve as a dashboard reports it, by dashboard URL. */
  readonly serve = new Map<string, RayServeDetails>();
  /** The state API's failed tasks and dead actors, by Ray job id. */
  readonly failures = new Map<string, RayJobFailures>();

  /** Ray's answer to a deploy: RUNNING with its replicas, or DEPLOY_FAILED for an import path with "broken". */
  private serveApply(url: string, app: ServeAppConfig, net: ServeNetwork) {
    const details: RayServeDetails = this.serve.get(url) ?? {
      proxy_location: 'HeadOnly',
      http_options: { host: net.host, port: net.httpPort },
      applications: {},
    };
    const broken = app.import_path.includes('broken');
    const configs = app.deployments?.length
      ? app.deployments
      : [{ name: app.import_path.split(/[:.]/).pop()!, num_replicas: 1 }];
    details.applications![app.name] = {
      name: app.name,
      route_prefix: app.route_prefix ?? '/',
      status: broken ? 'DEPLOY_FAILED' : 'RUNNING',
      message: broken
        ? `Traceback ...\nModuleNotFoundError: No module named '${app.import_path.split(':')[0]}'`
        : '',
      last_deployed_time_s: Date.now() / 1000,
      deployed_app_config: app,
      deployments: broken
        ? {}
        : Object.fromEntries(
            configs.map((d) => {
              const n = Number(d.num_replicas ?? 1);
              return [
                String(d.name),
                {
                  name: String(d.name),
                  status: 'HEALTHY',
                  target_num_replicas: n,
                  replicas: Array.from({ length: n }, () => ({ state: 'RUNNING' })),
                },
              ];
            }),
          ),
    };
    this.serve.set(url, details);
  }

  private view(clusterId: string, url: string, sid: string) {
    const job = this.jobs.get(sid);
    if (!job || job.dashboardUrl !== url) {
      throw new RayMcpError(
        'not_found',
        `No job ${sid} on cluster ${clusterId}.`,
        'list_ray_jobs shows the jobs of the cluster (pass cluster_id for another cluster).',
      );
    }
    return jobView(clusterId, job.details);
  }

  readonly localCluster = {
    prepareLaunch: fromPromise(async ({ input }) => {
      if (this.prepareError) throw this.prepareError;
      return {
        rayBin: '/fake/bin/ray',
        tempDir: `/fake/tmp/${input.clusterId}`,
        ports: this.ports(input.nodes),
      };
    }),
    checkAlive: fromPromise(async ({ input }) => {
      const head = input.nodes.find((n) => n.role === 'head');
      return [...this.processes.values()].some((p) => p.pid === head?.pid);
    }),
    adoptPorts: fromPromise(async () => {}),
    reservePorts: fromPromise(async ({ input }) => this.ports(input.nodes)),
    nodeProcess: fromCallback(({ input, sendBack }) => {
      const key = `${input.clusterId}/${input.node.name}`;
      const pid = input.adoptPid ?? this.nextPid++;
      this.processes.set(key, {
        clusterId: input.clusterId,
        node: input.node.name,
        nodeType: input.node.nodeType,
        pid,
        tempDir: input.tempDir,
        sendBack,
      });
      queueMicrotask(() => sendBack({ type: 'node.launched', node: input.node.name, pid }));
      // As for a real node: the process outlives the actor that watches it; stopNodes ends it.
      return () => {};
    }),
    waitForHead: fromPromise(async ({ input }): Promise<RayEndpoints> => {
      const clusterId = input.tempDir.split('/').pop()!; // prepareLaunch named it after the cluster
      const dashboardUrl = `http://127.0.0.1:${input.ports.dashboard}`;
      this.clusterUrls.set(clusterId, dashboardUrl);
      const d = this.addDashboard(dashboardUrl);
      return {
        version: RAY_VERSION,
        sessionName: d.sessionName,
        dashboardUrl,
        gcsAddress: `127.0.0.1:${input.ports.gcs}`,
        clientAddress: `ray://127.0.0.1:${input.ports.client}`,
      };
    }),
    waitForNodes: fromPromise(async ({ input }) => ({
      nodeIds: Object.fromEntries(input.names.map((n) => [n, `node-${n}`])),
      at: Date.now(),
    })),
    pickWorkersToRemove: fromPromise(async ({ input }) =>
      input.candidates.slice(-input.count).map((c) => c.name),
    ),
    stopNodes: fromPromise(async ({ input }) => {
      for (const n of input.nodes) this.processes.delete(`${input.clusterId}/${n.name}`);
      this.stops.push({
        clusterId: input.clusterId,
        nodes: input.nodes.map((n) => n.name),
        removeTempDir: input.removeTempDir,
      });
      return {};
    }),
    describeCluster: fromPromise(async ({ input }) => this.describe(input.dashboard.url)),
    healthWatcher: fromEventObservable(({ input }) => this.health(input.dashboard.url)),
  } satisfies ActorsOf<typeof localClusterMachine>;

  private describe(url: string): ClusterDetails {
    const nodes = this.nodes(url);
    const jobs: Record<string, number> = {};
    for (const j of this.jobsOn(url)) jobs[j.details.status] = (jobs[j.details.status] ?? 0) + 1;
    const cpus = nodes.reduce((n, x) => n + (x.resourcesTotal.CPU ?? 0), 0);
    return { fetchedAt: Date.now(), nodes, usage: { CPU: { used: 0, total: cpus } }, jobs };
  }

  private health(url: string) {
    const now = () => ({
      type: 'ray.health' as const,
      health: { ok: true, checkedAt: Date.now(), nodes: this.nodes(url) },
    });
    return this.onChange(url, now);
  }

  /** `make()` now, and again whenever something on the dashboard at `url` changes. */
  private onChange<T>(url: string, make: () => T): Observable<T> {
    return later(
      concat(
        of(make()),
        this.changes.pipe(
          filter((u) => u === url),
          map(make),
        ),
      ),
    );
  }

  readonly externalCluster = {
    connectExternal: fromPromise(async ({ input }) => {
      const url = input.address.replace(/\/+$/, '');
      const d = this.dashboard(url);
      const ray: RayEndpoints = {
        version: RAY_VERSION,
        sessionName: d.sessionName,
        dashboardUrl: url,
        gcsAddress: '',
      };
      return { ray, connectedAt: Date.now() };
    }),
    describeCluster: fromPromise(async ({ input }) => this.describe(input.dashboard.url)),
    healthWatcher: fromEventObservable(({ input }) => this.health(input.dashboard.url)),
  } satisfies ActorsOf<typeof externalClusterMachine>;

  readonly jobsActors = {
    runJobCommand: fromPromise(async ({ input }) => {
      const { clusterId, command } = input;
      const url = command.dashboard.url;
      this.dashboard(url);
      switch (command.type) {
        case 'jobs.submit': {
          const sid = command.submit.submission_id ?? `raysubmit_${this.jobs.size + 1}`;
          const existed = this.jobs.get(sid)?.dashboardUrl === url;
          if (!existed)
            this.addJob(url, sid, 'RUNNING', {
              entrypoint: command.submit.entrypoint,
              runtimeEnv: command.submit.runtime_env,
            });
          const view = this.view(clusterId, url, sid);
          return { jobs: [view], watch: [sid], data: { submissionId: sid, existed }, at: Date.now() };
        }
        case 'jobs.refresh':
          return {
            jobs: this.jobsOn(url).map((j) => jobView(clusterId, j.details)),
            at: Date.now(),
            complete: true,
          };
        case 'jobs.get':
          return { jobs: [this.view(clusterId, url, command.id)], at: Date.now() };
        case 'jobs.watch':
          return { jobs: [this.view(clusterId, url, command.id)], watch: [command.id], at: Date.now() };
        case 'jobs.stop': {
          const before = this.view(clusterId, url, command.id);
          if (['SUCCEEDED', 'FAILED', 'STOPPED'].includes(before.status))
            return { jobs: [before], data: { alreadyEnded: true }, at: Date.now() };
          this.endJob(command.id, 'STOPPED', { message: 'Job was intentionally stopped.' });
          return { jobs: [this.view(clusterId, url, command.id)], watch: [command.id], at: Date.now() };
        }
        case 'jobs.failures':
          return {
            data: this.failures.get(command.jobId) ?? {
              tasks: [],
              actors: [],
              totalTasks: 0,
              totalActors: 0,
            },
            at: Date.now(),
          };
        case 'serve.status':
          return { data: structuredClone(this.serve.get(url) ?? { applications: {} }), at: Date.now() };
        case 'serve.apply': {
          const at = Date.now() / 1000;
          this.serveApply(url, command.app, command.net);
          return { data: { at }, at: Date.now() };
        }
        case 'serve.remove': {
          const details = this.serve.get(url);
          const apps = details?.applications ?? {};
          const remaining = Object.keys(apps).filter((n) => n !== command.name);
          if (!apps[command.name])
            return { data: { removed: false, stopped: false, remaining }, at: Date.now() };
          delete apps[command.name];
          if (!remaining.length) this.serve.delete(url);
          return { data: { removed: true, stopped: !remaining.length, remaining }, at: Date.now() };
        }
        case 'jobs.logs': {
          const view = this.view(clusterId, url, command.id);
          const data = logPage(
            this.jobs.get(command.id)!.log,
            command.lines,
            command.maxBytes,
            command.cursor,
          );
          return { jobs: [view], data, at: Date.now() };
        }
      }
    }),
    jobsWatcher: fromEventObservable(({ input }) => {
      const listed = () => ({
        type: 'ray.jobsListed' as const,
        jobs: this.jobsOn(input.dashboard.url).map((j) => jobView(input.clusterId, j.details)),
        at: Date.now(),
      });
      return this.onChange(input.dashboard.url, listed);
    }),
  } satisfies ActorsOf<typeof jobsMachine>;
}

/** The last `lines` lines before an `o:<index>` cursor, or what came after an `n:<index>` one. */
function logPage(log: string[], lines: number, maxBytes: number, cursor?: string): JobLogPage {
  const m = /^([on]):(\d+)$/.exec(cursor ?? '');
  const end = m?.[1] === 'o' ? Number(m[2]) : log.length;
  const start = m?.[1] === 'n' ? Math.min(Number(m[2]), log.length) : Math.max(0, end - lines);
  let page = log.slice(start, m?.[1] === 'n' ? start + lines : end);
  let truncated = false;
  while (page.join('\n').length > maxBytes) {
    page = page.slice(1);
    truncated = true;
  }
  const first = m?.[1] === 'n' ? start : end - page.length;
  return {
    text: page.join('\n'),
    lines: page.length,
    older: first > 0 ? `o:${first}` : undefined,
    newer: `n:${first + page.length}`,
    truncated,
  };
}

// ---- Kubernetes ----

export interface FakeKube {
  id: string;
  context: string;
  server: string;
  namespace: string;
  version: string;
  crdsInstalled: boolean;
  clusterWide: boolean;
  namespaces: string[];
  /** Namespaces whose lists the user may not read (403). */
  forbidden?: string[];
  nodes: number;
  rayClusters: Map<string, RayClusterSummary>;
  rayJobs: Map<string, RayJobSummary>;
  /** RayServices as the API server holds them (raw objects). */
  rayServices: Map<string, Record<string, unknown>>;
  pods: Map<string, PodSummary>;
}

const keyOf = (ns: string, name: string) => `${ns}/${name}`;

export class FakeKubernetes {
  /** API servers by connection id: a kubeconfig context, or gke:/eks: plus the cluster. */
  readonly apis = new Map<string, FakeKube>();
  currentContext?: string;
  /** The operator starts each RayJob's Ray job (on its own cluster or the selected one); false: they stay New. */
  startRayJobs = true;
  /** New pods start ready; false: they stay Pending until readyPods (a start whose pods take long). */
  podsStartReady = true;
  readonly events = new Subject<{ connectionId: string; namespace: string; event: InformerEvent }>();
  private uid = 0;

  constructor(private readonly ray: FakeRay) {}

  addContext(
    id: string,
    opts: Partial<Omit<FakeKube, 'id' | 'rayClusters' | 'rayJobs' | 'rayServices' | 'pods'>> = {},
  ) {
    const api: FakeKube = {
      id,
      context: id,
      server: `https://${id.replace(/[^a-z0-9]+/gi, '-')}.k8s.fake:6443`,
      namespace: 'default',
      version: 'v1.33.1',
      crdsInstalled: true,
      clusterWide: true,
      namespaces: ['default', 'kube-system'],
      nodes: 3,
      ...opts,
      rayClusters: new Map(),
      rayJobs: new Map(),
      rayServices: new Map(),
      pods: new Map(),
    };
    this.apis.set(id, api);
    // Cloud clusters (gke:..., eks:...) are reached through the cloud, not the kubeconfig.
    if (!id.includes(':')) this.currentContext ??= id;
    return api;
  }

  private api(id: string): FakeKube {
    const api = this.apis.get(id);
    if (!api) {
      throw new RayMcpError(
        'not_found',
        `No kubeconfig context ${id}.`,
        'list_kubernetes_clusters shows the contexts of your kubeconfig.',
      );
    }
    return api;
  }

  /** Watch events reach the informers after the API call that caused them has answered. */
  private emit(api: FakeKube, namespace: string, event: InformerEvent) {
    setTimeout(() => this.events.next({ connectionId: api.id, namespace, event }), 0);
  }

  private upsertPod(api: FakeKube, pod: PodSummary) {
    api.pods.set(keyOf(pod.namespace, pod.name), pod);
    this.emit(api, pod.namespace, { type: 'k8s.upsert', resource: 'pods', item: pod });
  }

  private deletePod(api: FakeKube, pod: PodSummary) {
    api.pods.delete(keyOf(pod.namespace, pod.name));
    this.emit(api, pod.namespace, {
      type: 'k8s.delete',
      resource: 'pods',
      namespace: pod.namespace,
      name: pod.name,
    });
  }

  private pod(ns: string, cluster: string, group: string, name: string): PodSummary {
    const head = group === 'headgroup';
    return {
      namespace: ns,
      name,
      cluster,
      group,
      nodeType: head ? 'head' : 'worker',
      phase: this.podsStartReady ? 'Running' : 'Pending',
      ready: this.podsStartReady,
      readyAt: this.podsStartReady ? Date.now() : undefined,
      podIP: `10.1.0.${++this.uid % 250}`,
      restarts: 0,
      deleting: false,
    };
  }

  /** What the KubeRay operator does for a RayCluster: pods for the head and every worker, all ready. */
  putRayCluster(
    connectionId: string,
    rc: Pick<RayClusterSummary, 'namespace' | 'name' | 'groups'> & Partial<RayClusterSummary>,
  ): RayClusterSummary {
    const api = this.api(connectionId);
    const prev = api.rayClusters.get(keyOf(rc.namespace, rc.name));
    const workers = rc.groups.reduce((n, g) => n + g.replicas, 0);
    const summary: RayClusterSummary = {
      uid: prev?.uid ?? `uid-${++this.uid}`,
      createdAt: prev?.createdAt ?? iso(),
      managedByUs: true,
      rayVersion: RAY_VERSION,
      state: 'ready',
      desiredWorkers: workers,
      readyWorkers: workers,
      availableWorkers: workers,
      headPodName: `${rc.name}-head`,
      headServiceName: `${rc.name}-head-svc`,
      headReady: true,
      conditions: [{ type: 'HeadPodReady', status: 'True' }],
      deleting: false,
      ...(!this.podsStartReady && { readyWorkers: 0, availableWorkers: 0, headReady: false, conditions: [] }),
      ...rc,
      // Every change is a new generation, as the API server counts them.
      generation: (prev?.generation ?? 0) + 1,
    };
    api.rayClusters.set(keyOf(rc.namespace, rc.name), summary);
    this.emit(api, rc.namespace, { type: 'k8s.upsert', resource: 'rayclusters', item: summary });
    const mine = [...api.pods.values()].filter((p) => p.namespace === rc.namespace && p.cluster === rc.name);
    if (!mine.some((p) => p.nodeType === 'head'))
      this.upsertPod(api, this.pod(rc.namespace, rc.name, 'headgroup', `${rc.name}-head`));
    for (const g of summary.groups) {
      const pods = mine.filter((p) => p.group === g.name);
      for (const p of pods.filter((p) => g.workersToDelete.includes(p.name))) this.deletePod(api, p);
      const kept = pods.filter((p) => !g.workersToDelete.includes(p.name));
      for (const p of kept.slice(g.replicas)) this.deletePod(api, p);
      for (let i = kept.length; i < g.replicas; i++)
        this.upsertPod(
          api,
          this.pod(rc.namespace, rc.name, g.name, `${rc.name}-${g.name}-worker-${++this.uid}`),
        );
    }
    // Its dashboard, through the API server's service proxy.
    const url = paths.dashboardProxy(api.server, rc.namespace, summary.headServiceName);
    if (!this.ray.dashboards.has(url)) this.ray.addDashboard(url);
    return summary;
  }

  /** The pods of a RayCluster become ready (after podsStartReady = false). */
  readyPods(connectionId: string, namespace: string, name: string): void {
    const api = this.api(connectionId);
    this.podsStartReady = true;
    for (const p of api.pods.values())
      if (p.namespace === namespace && p.cluster === name)
        this.upsertPod(api, { ...p, phase: 'Running', ready: true, readyAt: Date.now() });
    const rc = api.rayClusters.get(keyOf(namespace, name))!;
    const workers = rc.groups.reduce((n, g) => n + g.replicas, 0);
    const summary = {
      ...rc,
      readyWorkers: workers,
      availableWorkers: workers,
      headReady: true,
      conditions: [{ type: 'HeadPodReady', status: 'True' }],
    };
    api.rayClusters.set(keyOf(namespace, name), summary);
    this.emit(api, namespace, { type: 'k8s.upsert', resource: 'rayclusters', item: summary });
  }

  deleteRayCluster(connectionId: string, namespace: string, name: string): void {
    const api = this.api(connectionId);
    if (!api.rayClusters.delete(keyOf(namespace, name))) return;
    for (const p of [...api.pods.values()])
      if (p.namespace === namespace && p.cluster === name) this.deletePod(api, p);
    this.emit(api, namespace, { type: 'k8s.delete', resource: 'rayclusters', namespace, name });
  }

  private putRayJob(api: FakeKube, s: RayJobSummary) {
    api.rayJobs.set(keyOf(s.namespace, s.name), s);
    this.emit(api, s.namespace, { type: 'k8s.upsert', resource: 'rayjobs', item: s });
    return s;
  }

  /** A RayJob that is already there (someone else's unless `managedByUs`). */
  addRayJob(
    connectionId: string,
    namespace: string,
    name: string,
    status: {
      deploymentStatus?: string;
      jobStatus?: string;
      managedByUs?: boolean;
      createdAt?: string;
      /** Labelled ray-mcp/protected=true. */
      protected?: boolean;
    } = {},
  ): RayJobSummary {
    return this.putRayJob(this.api(connectionId), {
      ...summarizeRayJob({
        metadata: {
          namespace,
          name,
          uid: `uid-${++this.uid}`,
          creationTimestamp: status.createdAt ?? iso(),
          ...(status.protected ? { labels: { 'ray-mcp/protected': 'true' } } : {}),
        },
        spec: { entrypoint: `python ${name}.py` },
        status: { jobDeploymentStatus: status.deploymentStatus, jobStatus: status.jobStatus },
      }),
      managedByUs: status.managedByUs ?? false,
    });
  }

  /** What KubeRay does with a new RayJob: its cluster (unless one is selected), then its Ray job. */
  // biome-ignore lint/suspicious/noExplicitAny: the RayJob manifest's spec
  private runRayJob(api: FakeKube, s: RayJobSummary, spec: any) {
    const jobId = spec.jobId ?? `${s.name}-job`;
    let cluster: string | undefined = s.clusterSelector;
    if (!cluster) {
      cluster = `${s.name}-x7k2p`;
      this.putRayCluster(api.id, {
        namespace: s.namespace,
        name: cluster,
        rayJob: s.name,
        // biome-ignore lint/suspicious/noExplicitAny: the manifest's worker groups
        groups: (spec.rayClusterSpec.workerGroupSpecs ?? []).map((g: any) => ({
          name: g.groupName,
          replicas: g.replicas,
          minReplicas: g.minReplicas,
          maxReplicas: g.maxReplicas,
          workersToDelete: [],
        })),
      });
    }
    const rc = api.rayClusters.get(keyOf(s.namespace, cluster));
    if (rc) {
      const url = paths.dashboardProxy(api.server, s.namespace, rc.headServiceName);
      this.ray.addJob(url, jobId, 'RUNNING', { entrypoint: s.entrypoint });
    }
    this.putRayJob(api, {
      ...s,
      jobId,
      jobStatus: 'RUNNING',
      deploymentStatus: 'Running',
      rayClusterName: cluster,
      startTime: iso(),
    });
  }

  /** KubeRay reports the end of a RayJob's Ray job. */
  endRayJob(connectionId: string, namespace: string, name: string, status: 'SUCCEEDED' | 'FAILED') {
    const api = this.api(connectionId);
    const s = api.rayJobs.get(keyOf(namespace, name))!;
    if (s.jobId && this.ray.jobs.has(s.jobId)) this.ray.endJob(s.jobId, status);
    this.putRayJob(api, {
      ...s,
      jobStatus: status,
      deploymentStatus: status === 'SUCCEEDED' ? 'Complete' : 'Failed',
      endTime: iso(),
    });
  }

  /** Kubernetes events by the name of the object they are about (read by inspect). */
  readonly kubeEvents = new Map<string, RawKubeEvent[]>();

  readonly kubeConnection = {
    readEvents: fromCallback(({ input, sendBack }) => {
      const raw = [...new Set([...input.names, ...input.clusters])].flatMap((n) =>
        [...this.kubeEvents].filter(([k]) => k === n || k.startsWith(`${n}-`)).flatMap(([, v]) => v),
      );
      sendBack({
        type: 'kube.eventsRead',
        requestId: input.requestId,
        read: { events: summarizeEvents(raw) },
      } as never);
    }),
    connectKube: fromPromise(async ({ input }) => {
      const api = this.api(input.id);
      const session: KubeSession = {
        server: api.server,
        context: api.context,
        namespace: api.namespace,
        version: api.version,
        clusterWide: api.clusterWide,
        crdsInstalled: api.crdsInstalled,
      };
      return { session, connectedAt: Date.now() };
    }),
    describeKube: fromPromise(async ({ input }): Promise<KubeInfo> => {
      const api = this.api(input.id);
      return {
        fetchedAt: Date.now(),
        version: api.version,
        platform: 'linux/amd64',
        nodes: {
          total: api.nodes,
          ready: api.nodes,
          cpu: 4 * api.nodes,
          memoryGi: 16 * api.nodes,
          gpus: {},
          sample: ['node-1'],
        },
        namespaces: api.namespaces,
        namespacesTruncated: false,
        crds: api.crdsInstalled
          ? [
              { name: 'rayclusters.ray.io', versions: ['v1'] },
              { name: 'rayjobs.ray.io', versions: ['v1'] },
            ]
          : [],
        operator: api.crdsInstalled
          ? { namespace: 'kuberay', name: 'kuberay-operator', version: 'v1.4.0', ready: true }
          : undefined,
        problems: [],
        unreadable: [],
      };
    }),
    closeKube: fromPromise(async () => {}),
    healthProbe: fromEventObservable(() => NEVER as Observable<KubeHealthEvent>),
    informers: fromEventObservable(({ input }) => {
      const api = this.api(input.connectionId);
      const ns = input.namespace;
      const inScope = <T extends { namespace: string }>(m: Map<string, T>) =>
        [...m.values()].filter((x) => !ns || x.namespace === ns);
      // RBAC: a namespace this user may not read refuses every list, as the API server words it.
      if (api.forbidden?.includes(ns)) {
        return later(
          concat(
            from<InformerEvent[]>(
              (['rayclusters', 'rayjobs', 'pods'] as const).map((resource) => ({
                type: 'k8s.watchError',
                resource,
                namespace: ns,
                status: 403,
                message: `${resource}${resource === 'pods' ? '' : '.ray.io'} is forbidden: User "dev" cannot list resource "${resource}" in API group "${resource === 'pods' ? '' : 'ray.io'}" in the namespace "${ns}"`,
                retryInMs: 30_000,
                at: Date.now(),
              })),
            ),
            NEVER,
          ),
        );
      }
      return later(
        concat(
          from<InformerEvent[]>([
            { type: 'k8s.synced', resource: 'rayclusters', namespace: ns, items: inScope(api.rayClusters) },
            { type: 'k8s.synced', resource: 'rayjobs', namespace: ns, items: inScope(api.rayJobs) },
            { type: 'k8s.synced', resource: 'pods', namespace: ns, items: inScope(api.pods) },
            {
              type: 'k8s.synced',
              resource: 'rayservices',
              namespace: ns,
              items: [...api.rayServices.values()]
                .map(summarizeRayService)
                .filter((x) => !ns || x.namespace === ns),
            },
          ]),
          this.events.pipe(
            filter((e) => e.connectionId === api.id && (!ns || e.namespace === ns)),
            map((e) => e.event),
          ),
        ),
      );
    }),
  } satisfies Omit<ActorsOf<typeof kubeConnectionMachine>, 'rayJob' | 'rayService'>;

  readonly kuberayCluster = {
    applyRayCluster: fromPromise(async ({ input }) => {
      const { spec } = input;
      const api = this.api(input.connectionId);
      // As the API server: no object in a namespace that does not exist.
      if (!api.namespaces.includes(spec.namespace)) {
        throw new RayMcpError(
          'not_found',
          `Namespace ${spec.namespace} does not exist on ${api.context}.`,
          'Create it, or pass an existing namespace.',
        );
      }
      const existing = api.rayClusters.get(keyOf(spec.namespace, spec.name));
      if (existing && !existing.managedByUs) {
        throw new RayMcpError(
          'conflict',
          `A RayCluster ${spec.namespace}/${spec.name} already exists and ray-mcp did not create it.`,
          'Pick another cluster_name, or use it as it is: inspect_ray_cluster with cluster_id set to its name.',
        );
      }
      return this.putRayCluster(input.connectionId, {
        namespace: spec.namespace,
        name: spec.name,
        rayVersion: spec.rayVersion,
        groups: spec.workerGroups.map(({ resources: _r, maxSet: _m, ...g }) => ({
          ...g,
          workersToDelete: [],
        })),
        // The annotation ray-mcp puts on what it creates: whose bound each max_replicas is.
        maxSetGroups: spec.workerGroups.filter((g) => g.maxSet).map((g) => g.name),
      });
    }),
    patchScale: fromPromise(async ({ input }) => {
      const rc = this.api(input.connectionId).rayClusters.get(keyOf(input.namespace, input.name))!;
      const groups = rc.groups.map((g) =>
        g.name !== input.scale.group
          ? g
          : {
              ...g,
              replicas: input.scale.replicas ?? g.replicas,
              minReplicas: input.scale.minReplicas ?? g.minReplicas,
              maxReplicas: input.scale.maxReplicas ?? g.maxReplicas,
              workersToDelete: input.scale.workersToDelete ?? [],
            },
      );
      const marked = rc.maxSetGroups;
      const maxSetGroups =
        input.scale.maxSet && marked && !marked.includes(input.scale.group)
          ? [...marked, input.scale.group]
          : marked;
      return this.putRayCluster(input.connectionId, { ...rc, groups, maxSetGroups }).generation;
    }),
    deleteRayCluster: fromPromise(async ({ input }) =>
      this.deleteRayCluster(input.connectionId, input.namespace, input.name),
    ),
  } satisfies ActorsOf<typeof kuberayClusterMachine>;

  readonly rayJob = {
    applyRayJob: fromPromise(async ({ input }) => {
      const api = this.api(input.connectionId);
      // biome-ignore lint/suspicious/noExplicitAny: a RayJob manifest, as the tool built it
      const m = input.manifest as any;
      const { name, namespace } = m.metadata;
      const existing = api.rayJobs.get(keyOf(namespace, name));
      if (existing) {
        throw new RayMcpError(
          'conflict',
          `A RayJob ${namespace}/${name} already exists (${existing.deploymentStatus ?? 'new'}).`,
          'Pick another rayjob name, or follow that one with inspect_ray_job (rayjob=name).',
        );
      }
      const created = this.putRayJob(
        api,
        summarizeRayJob({
          ...m,
          metadata: { ...m.metadata, uid: `uid-${++this.uid}`, creationTimestamp: iso() },
        }),
      );
      if (this.startRayJobs) this.runRayJob(api, created, m.spec);
      return created;
    }),
    cancelRayJob: fromPromise(async ({ input }) => {
      const api = this.api(input.connectionId);
      const s = api.rayJobs.get(keyOf(input.summary.namespace, input.summary.name));
      if (!s) return;
      if (input.mode === 'delete') {
        api.rayJobs.delete(keyOf(s.namespace, s.name));
        this.emit(api, s.namespace, {
          type: 'k8s.delete',
          resource: 'rayjobs',
          namespace: s.namespace,
          name: s.name,
        });
      } else if (input.mode === 'suspend') {
        this.putRayJob(api, { ...s, suspend: true, deploymentStatus: 'Suspended', jobStatus: 'STOPPED' });
      } else {
        if (s.jobId && this.ray.jobs.has(s.jobId)) this.ray.endJob(s.jobId, 'STOPPED');
        this.putRayJob(api, { ...s, jobStatus: 'STOPPED' });
      }
    }),
  } satisfies ActorsOf<typeof rayJobMachine>;

  /** A RayService as the API server would store it (generation bumped on a spec change). */
  putRayService(connectionId: string, obj: Record<string, unknown>) {
    const api = this.api(connectionId);
    // biome-ignore lint/suspicious/noExplicitAny: a raw object
    const o = obj as any;
    api.rayServices.set(keyOf(o.metadata.namespace, o.metadata.name), o);
    this.emit(api, o.metadata.namespace, {
      type: 'k8s.upsert',
      resource: 'rayservices',
      item: summarizeRayService(o),
    });
    return o;
  }

  readonly rayService = {
    applyRayService: fromPromise(async ({ input }) => {
      const api = this.api(input.connectionId);
      // biome-ignore lint/suspicious/noExplicitAny: a RayService manifest, as the tool built it
      const m = input.manifest as any;
      const key = keyOf(m.metadata.namespace, m.metadata.name);
      // biome-ignore lint/suspicious/noExplicitAny: a raw object
      const existing = api.rayServices.get(key) as any;
      if (existing && !summarizeRayService(existing).managedByUs) {
        throw new RayMcpError(
          'conflict',
          `A RayService ${key} exists and ray-mcp did not create it.`,
          'Pick another name.',
        );
      }
      const next = {
        ...m,
        metadata: {
          ...m.metadata,
          uid: existing?.metadata.uid ?? `uid-${++this.uid}`,
          creationTimestamp: existing?.metadata.creationTimestamp ?? iso(),
          generation: (existing?.metadata.generation ?? 0) + 1,
        },
        // The operator takes it up at once: it has seen this generation and names a (pending) cluster.
        status: {
          ...(existing?.status ?? {}),
          observedGeneration: (existing?.metadata.generation ?? 0) + 1,
          pendingServiceStatus: {
            rayClusterName:
              existing?.status?.pendingServiceStatus?.rayClusterName ?? `${m.metadata.name}-x7k2p`,
          },
        },
      };
      const diff = existing ? objectDiff(existing, next) : [];
      if (existing && !diff.length)
        return { created: false, changed: false, diff, summary: summarizeRayService(existing) };
      if (input.dryRun)
        return { created: !existing, changed: true, diff, summary: summarizeRayService(next) };
      this.putRayService(input.connectionId, next);
      return { created: !existing, changed: true, diff, summary: summarizeRayService(next) };
    }),
    deleteRayService: fromPromise(async ({ input }) => {
      const api = this.api(input.connectionId);
      if (api.rayServices.delete(keyOf(input.namespace, input.name)))
        this.emit(api, input.namespace, {
          type: 'k8s.delete',
          resource: 'rayservices',
          namespace: input.namespace,
          name: input.name,
        });
    }),
  } satisfies ActorsOf<typeof rayServiceMachine>;
}

// ---- Clouds ----

export interface FakeCloud {
  provider: CloudProvider;
  /** Absent: no credentials on this machine (authentication fails as "missing"). */
  identity?: CloudIdentity;
  clusters: Map<string, CloudClusterInfo & { caData?: string }>;
  /** Kubeconfig contexts written by write_kubeconfig. */
  written: string[];
}

export class FakeClouds {
  readonly gke: FakeCloud = { provider: 'gke', clusters: new Map(), written: [] };
  readonly eks: FakeCloud = { provider: 'eks', clusters: new Map(), written: [] };
  private readonly ended = new Subject<{ operationId: string; ok: boolean; error?: string }>();

  constructor(private readonly kube: FakeKubernetes) {}

  /** A cluster in a cloud; `ready` ones get a fake API server that connect_kubernetes_cluster reaches. */
  addCluster(provider: CloudProvider, name: string, opts: Partial<CloudClusterInfo> = {}) {
    const cloud = this[provider];
    const info: CloudClusterInfo & { caData?: string } = {
      provider,
      name,
      location: provider === 'gke' ? 'us-central1-a' : 'us-east-1',
      project: provider === 'gke' ? cloud.identity?.project : undefined,
      status: provider === 'gke' ? 'RUNNING' : 'ACTIVE',
      ready: true,
      version: '1.33',
      node_count: 2,
      managed_by_ray_mcp: false,
      endpoint: `https://${name}.${provider}.fake`,
      node_pools: [{ name: 'default-pool', machine_type: 'e2-standard-4', node_count: 2 }],
      gpu_types: [],
      labels: {},
      caData: 'RkFLRS1DQQ==',
      ...opts,
    };
    cloud.clusters.set(name, info);
    if (info.ready)
      this.kube.addContext(this.connectionId(info), {
        server: info.endpoint!,
        context: this.connectionId(info),
      });
    return info;
  }

  private connectionId(info: CloudClusterInfo) {
    return connectionIdOf({
      kind: 'cloud',
      provider: info.provider,
      cluster: info.name,
      location: info.location,
      project: info.project,
      server: '',
      caData: '',
    });
  }

  /** The cloud finishes a creation ray-mcp started. */
  finishCreation(provider: CloudProvider, name: string, ok = true): void {
    const info = this[provider].clusters.get(name)!;
    this.addCluster(provider, name, {
      ...info,
      ready: ok,
      status: ok ? (provider === 'gke' ? 'RUNNING' : 'ACTIVE') : 'ERROR',
    });
    const operationId =
      provider === 'gke'
        ? `create:gke:${info.project}/${info.location}/${name}`
        : `create:eks:${info.location}/${name}`;
    this.ended.next({ operationId, ok, error: ok ? undefined : 'quota exceeded' });
  }

  private find(cloud: FakeCloud, name: string, location?: string) {
    const c = cloud.clusters.get(name);
    if (!c || (location && location !== '-' && c.location !== location)) {
      throw new RayMcpError(
        'not_found',
        `No ${cloud.provider.toUpperCase()} cluster named ${name}.`,
        `list_kubernetes_clusters(provider="${cloud.provider}") lists the clusters.`,
      );
    }
    const { caData: _ca, ...info } = c;
    return { info, caData: c.caData };
  }

  readonly cloudConnection = {
    authenticate: fromPromise(async ({ input }) => {
      const id = this[input.provider].identity;
      if (!id) {
        throw new CloudAuthError(
          'missing',
          `No ${input.provider === 'gke' ? 'GCP' : 'AWS'} credentials found.`,
          input.provider === 'gke'
            ? 'Run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS.'
            : 'Run `aws configure` or set AWS_PROFILE.',
        );
      }
      return {
        identity: {
          ...id,
          project: input.options.projectId ?? id.project,
          region: input.options.region ?? id.region,
        },
        authenticatedAt: iso(),
      };
    }),
    runCloudCommand: fromPromise(async ({ input }) => {
      const cloud = this[input.provider];
      const c = input.command;
      switch (c.type) {
        case 'cloud.list': {
          const all = [...cloud.clusters.values()].map(({ caData: _c, ...i }) => i);
          return {
            kind: 'list' as const,
            clusters: all.slice(c.offset, c.offset + c.limit),
            total: all.length,
            offset: c.offset,
            project: input.identity.project,
            location:
              c.where.location ?? (input.provider === 'gke' ? '-' : (input.identity.region ?? 'us-east-1')),
          };
        }
        case 'cloud.describe':
          return { kind: 'describe' as const, info: this.find(cloud, c.name, c.where.location).info };
        case 'cloud.target': {
          const { info, caData } = this.find(cloud, c.name, c.where.location);
          if (!info.ready) {
            throw new RayMcpError(
              'conflict',
              `${info.provider.toUpperCase()} cluster ${info.name} is ${info.status}, not ready to connect.`,
              'Wait until it is ready; get_kubernetes_cluster_info shows its status.',
            );
          }
          const target = {
            kind: 'cloud' as const,
            provider: info.provider,
            cluster: info.name,
            location: info.location,
            project: info.project,
            server: info.endpoint!,
            caData: caData!,
          };
          return { kind: 'target' as const, info, target };
        }
        case 'cloud.create': {
          const { spec } = c;
          const operation_id =
            spec.provider === 'gke'
              ? `create:gke:${spec.project}/${spec.location}/${spec.name}`
              : `create:eks:${spec.location}/${spec.name}`;
          const running = input.operations[operation_id];
          if (running?.view.status === 'running')
            return { kind: 'create' as const, outcome: 'running' as const, operation: running };
          if (cloud.clusters.has(spec.name))
            return {
              kind: 'create' as const,
              outcome: 'exists' as const,
              info: this.find(cloud, spec.name).info,
            };
          cloud.clusters.set(spec.name, {
            provider: spec.provider,
            name: spec.name,
            location: spec.location,
            project: spec.project,
            status: spec.provider === 'gke' ? 'PROVISIONING' : 'CREATING',
            ready: false,
            managed_by_ray_mcp: true,
            node_pools: spec.node_pools.map((p) => ({
              name: p.name,
              machine_type: p.machine_type,
              node_count: p.node_count,
            })),
            gpu_types: [],
            labels: spec.labels,
          });
          return {
            kind: 'create' as const,
            outcome: 'new' as const,
            operation: {
              view: {
                operation_id,
                provider: spec.provider,
                kind: 'create_cluster' as const,
                cluster_name: spec.name,
                location: spec.location,
                project: spec.project,
                status: 'running' as const,
                detail: 'creation requested',
                started_at: iso(),
                polls: 0,
              },
            },
          };
        }
        case 'cloud.writeKubeconfig': {
          const context = `${c.target.provider}_${c.target.cluster}`;
          cloud.written.push(context);
          return { kind: 'kubeconfig' as const, path: c.path ?? '/fake/home/.kube/config', context };
        }
      }
    }),
    forgetCredentials: fromPromise(async () => {}),
    detect: fromPromise(async ({ input }): Promise<CloudDetection> => {
      const id = this[input.provider].identity;
      return {
        provider: input.provider,
        usable: id !== undefined,
        sources: id ? [{ kind: id.method, detail: id.principal ?? '' }] : [],
        project: id?.project,
        region: id?.region,
        profiles: input.provider === 'eks' ? (id?.profile ? [id.profile] : []) : undefined,
        kube_contexts: [],
        fix: id ? undefined : `No ${input.provider === 'gke' ? 'GCP' : 'AWS'} credentials found.`,
        checked_at: iso(),
        took_ms: 1,
      };
    }),
    operationWatcher: fromEventObservable(({ input }) =>
      this.ended.pipe(
        filter((e) => e.operationId === input.operation.view.operation_id),
        map((e) => ({
          type: 'cloud.operationEnded' as const,
          operationId: e.operationId,
          ok: e.ok,
          detail: e.ok ? 'cluster RUNNING' : 'cluster ERROR',
          error: e.error,
          polls: 1,
          endedAt: iso(),
        })),
      ),
    ),
  } satisfies ActorsOf<typeof cloudConnectionMachine>;
}

// ---- The world ----

export class FakeWorld {
  readonly ray = new FakeRay();
  readonly kube = new FakeKubernetes(this.ray);
  readonly clouds = new FakeClouds(this.kube);
  /** What check_environment finds besides Kubernetes and clouds. */
  env = { rayFound: true };
  private readonly real = new Set<string>();

  /** Lets the watch events and watcher subscriptions under way arrive (a few ms, no more). */
  settle(ms = 5): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Leaves one actor real (the system's own logic runs), for cases where it needs no I/O. */
  useRealActor(machine: keyof ActorOverrides, actor: string): void {
    this.real.add(`${machine}.${actor}`);
  }

  private report(): EnvironmentReport {
    const contexts = [...this.kube.apis.values()]
      .filter((a) => !a.id.includes(':'))
      .map((a) => ({ name: a.id, cluster: `cluster-${a.id}`, namespace: a.namespace }));
    const gke = this.clouds.gke.identity;
    const eks = this.clouds.eks.identity;
    const fixes = [
      ...(this.env.rayFound ? [] : ['Ray: run `npm run setup` to install Ray into .venv.']),
      ...(contexts.length ? [] : ['Kubernetes: set KUBECONFIG to a kubeconfig file.']),
    ];
    return {
      checkedAt: iso(),
      ready: {
        localRay: this.env.rayFound,
        kubernetes: this.kube.currentContext !== undefined,
        gcp: !!gke,
        aws: !!eks,
      },
      node: { found: true, version: process.version, path: process.execPath },
      python: { found: true, version: '3.11.9', path: '/fake/.venv/bin/python' },
      ray: this.env.rayFound
        ? {
            found: true,
            version: RAY_VERSION,
            path: '/fake/.venv/bin/ray',
            source: 'venv',
            auth: { tokenPresent: false },
          }
        : { found: false, fix: fixes[0], auth: { tokenPresent: false } },
      kubernetes: {
        kubectl: { found: false, fix: 'Install kubectl (optional).' },
        kubeconfigs: [{ path: '/fake/home/.kube/config', exists: contexts.length > 0 }],
        currentContext: this.kube.currentContext,
        contexts,
        fix: contexts.length ? undefined : 'Set KUBECONFIG to a kubeconfig file.',
      },
      cloud: {
        gcp: {
          credentials: gke ? 'application_default' : 'none',
          project: gke?.project,
          gcloud: { found: false },
        },
        aws: {
          credentials: eks ? 'profile' : 'none',
          profiles: eks?.profile ? [eks.profile] : [],
          region: eks?.region,
        },
      },
      fixes,
    };
  }

  /** Every I/O actor of the system, faked: pass as `startInMemoryServer(flags, env, { actors })`. */
  get actors(): ActorOverrides {
    const environment = {
      probeEnvironment: fromPromise(async () => this.report()),
    } satisfies ActorsOf<typeof environmentMachine>;
    const ports = {
      findFreePorts: fromPromise(async ({ input }) => {
        let p = input.cursor;
        const out: Record<string, number> = {};
        for (const b of input.blocks) {
          out[b.name] = p;
          p += b.size;
        }
        return { ports: out, cursor: p };
      }),
    } satisfies ActorsOf<typeof portAllocatorMachine>;
    const all: Required<ActorOverrides> = {
      environment,
      ports,
      localCluster: this.ray.localCluster,
      externalCluster: this.ray.externalCluster,
      jobs: this.ray.jobsActors,
      kubeConnection: this.kube.kubeConnection,
      kuberayCluster: this.kube.kuberayCluster,
      rayJob: this.kube.rayJob,
      rayService: this.kube.rayService,
      cloudConnection: this.clouds.cloudConnection,
    };
    return Object.fromEntries(
      Object.entries(all).map(([machine, actors]) => [
        machine,
        Object.fromEntries(Object.entries(actors).filter(([name]) => !this.real.has(`${machine}.${name}`))),
      ]),
    );
  }
}
