/**
 * The actor system: one XState system rooted in the supervisor, with every long-lived actor
 * registered under a systemId. Tool handlers talk to it through `ask`: send a command with a
 * requestId, wait for the actor's answer (or a timeout), then read its snapshot. The system also
 * persists the clusters it knows and adopts them again after a restart.
 */
import {
  type Actor,
  type AnyActorLogic,
  type AnyActorRef,
  createActor,
  type InspectionEvent,
  type Observer,
  type SnapshotFrom,
} from 'xstate';
import { Dashboards } from '../clients/dashboard.client.js';
import type { Config } from '../config.js';
import { type ClusterRecord, KEPT_AT_EXIT } from '../domain/cluster-record.js';
import { dashboardOwner } from '../domain/dashboard.js';
import { RayMcpError } from '../domain/errors.js';
import { Redactor } from '../domain/redact.js';
import type { Logger } from '../logger.js';
import {
  type CloudActor,
  cloudConnectionMachine,
  cloudSystemId,
} from '../machines/cloud-connection.machine.js';
import type { EnvironmentActor } from '../machines/environment.machine.js';
import { environmentMachine } from '../machines/environment.machine.js';
import { externalClusterMachine } from '../machines/external-cluster.machine.js';
import { type JobsActor, jobsMachine, jobsSystemId } from '../machines/jobs.machine.js';
import {
  type KubeConnectionActor,
  kubeConnectionMachine,
  kubeSystemId,
} from '../machines/kube-connection.machine.js';
import { kuberayClusterMachine } from '../machines/kuberay-cluster.machine.js';
import { localClusterMachine } from '../machines/local-cluster.machine.js';
import { portAllocatorMachine } from '../machines/port-allocator.machine.js';
import { rayJobMachine } from '../machines/rayjob.machine.js';
import { rayServiceMachine } from '../machines/rayservice.machine.js';
import { SYSTEM_IDS, supervisorMachine } from '../machines/supervisor.machine.js';
import { healthWatcherLogic } from '../watchers/cluster-health.watcher.js';
import { jobsWatcherLogic } from '../watchers/jobs.watcher.js';
import { kubeInformerLogic } from '../watchers/kube-informer.watcher.js';
import { type AskOptions, askActor, askActorForAnswer, type CommandOf } from './ask.js';
import { cloudActors } from './cloud.actor.js';
import { CloudTokens } from './cloud-tokens.js';
import { type ClusterActor, isLocal, recordOf } from './cluster-records.js';
import { ClusterStore } from './cluster-store.js';
import { probeEnvironmentLogic } from './environment.actor.js';
import { externalClusterActors } from './external-cluster.actor.js';
import { jobsActors } from './jobs.actor.js';
import { KubeClients, kubeActors } from './kube.actor.js';
import { kubeEventsActors } from './kube-events.actor.js';
import { kuberayActors } from './kuberay.actor.js';
import { localClusterActors } from './local-cluster.actor.js';
import { operationLogic } from './operations/index.js';
import { createPort, type ToolPort } from './port.js';
import { findFreePortsLogic } from './ports.actor.js';
import { ProcessRegistry } from './processes.js';
import { rayJobActors } from './rayjob.actor.js';
import { rayServiceActors } from './rayservice.actor.js';
import { clusterView, dashboardOf } from './views/cluster.view.js';

/**
 * Replacements for the I/O actors of each machine, by machine and actor name (tests swap real
 * Ray, Kubernetes and clouds for fakes this way; the machines themselves stay as they are).
 */
export interface ActorOverrides {
  environment?: Record<string, AnyActorLogic>;
  ports?: Record<string, AnyActorLogic>;
  localCluster?: Record<string, AnyActorLogic>;
  externalCluster?: Record<string, AnyActorLogic>;
  kuberayCluster?: Record<string, AnyActorLogic>;
  jobs?: Record<string, AnyActorLogic>;
  kubeConnection?: Record<string, AnyActorLogic>;
  rayJob?: Record<string, AnyActorLogic>;
  rayService?: Record<string, AnyActorLogic>;
  cloudConnection?: Record<string, AnyActorLogic>;
}

/** The supervisor's children, by the name it spawns them with. */
export type SupervisorChild = keyof typeof supervisorMachine.implementations.actors;

/**
 * Wrappers around the logic of the supervisor's children (tests make an actor fail this way,
 * then watch it being restarted); each gets the real logic, with its I/O actors provided.
 */
export type ChildWrappers = Partial<Record<SupervisorChild, (logic: AnyActorLogic) => AnyActorLogic>>;

export interface SystemOptions {
  config: Config;
  log: Logger;
  inspect?: Observer<InspectionEvent>;
  actors?: ActorOverrides;
  wrap?: ChildWrappers;
  /** The app's redactor (secret sources register with it); a fresh one knowing config.secrets if not given. */
  redactor?: Redactor;
}

export type RootActor = Actor<typeof supervisorMachine>;

const HEALTH_INTERVAL_MS = 2000;
/** How often a state file that could not be written is tried again. */
const STORE_RETRY_MS = 5000;

/** See RaySystem.stats. */
export interface SystemStats {
  actors: number;
  /** Live actors by the first part of their id (`request`, `job`, `kube`, `cluster`, ...). */
  byKind: Record<string, number>;
  clusters: number;
  connections: number;
  failures: number;
  endedConnections: number;
  kubeClients: number;
  processes: number;
  rssMb: number;
  /** Heap in use; after a full collection when node runs with --expose-gc (as the leak checks do). */
  heapMb: number;
}

/** The heap in use, collected first when `gc` is exposed: a floor, free of garbage not yet collected. */
function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

export class RaySystem {
  readonly root: RootActor;
  readonly processes: ProcessRegistry;
  readonly store: ClusterStore;
  /** Tokens for GKE/EKS API servers, from the credentials the cloud actors hold. */
  readonly cloudTokens: CloudTokens;
  /** API clients of the Kubernetes connections, by connection id. */
  readonly kubeClients = new KubeClients();
  /** Ray dashboards: the direct pool, the way through a connection's client, auth modes per cluster. */
  readonly dashboards: Dashboards;
  /** Every secret this system holds is known here; results, logs and state files are scrubbed with it. */
  readonly redactor: Redactor;
  private shutdownPromise?: Promise<void>;
  private readonly watched = new Set<string>();

  private constructor(private readonly options: SystemOptions) {
    const { config, log } = options;
    this.redactor = options.redactor ?? new Redactor();
    this.redactor.add(...config.secrets);
    const secrets = this.redactor;
    this.processes = new ProcessRegistry(config.childEnv, log.child({ part: 'processes' }));
    this.store = new ClusterStore(config.dataDir, log.child({ part: 'store' }), secrets);
    this.cloudTokens = new CloudTokens(config, secrets);
    this.dashboards = new Dashboards({ token: config.rayAuth.token, connections: this.kubeClients, secrets });
    const dashboards = this.dashboards;
    const local = localClusterActors({
      dashboards,
      config,
      processes: this.processes,
      log: log.child({ part: 'cluster' }),
    });
    const healthWatcher = healthWatcherLogic({ dashboards, intervalMs: HEALTH_INTERVAL_MS });
    const o = options.actors ?? {};
    const children = {
      operation: operationLogic(config),
      environment: environmentMachine.provide({
        actors: {
          probeEnvironment: probeEnvironmentLogic({ config, processes: this.processes }),
          ...o.environment,
        },
      }),
      ports: portAllocatorMachine.provide({
        actors: { findFreePorts: findFreePortsLogic, ...o.ports },
      }),
      localCluster: localClusterMachine.provide({
        actors: { ...local, healthWatcher, ...o.localCluster },
      }),
      jobs: jobsMachine.provide({
        actors: {
          ...jobsActors({ dashboards, log: log.child({ part: 'jobs' }) }),
          jobsWatcher: jobsWatcherLogic({
            dashboards,
            onPollError: (cluster, error) =>
              log.warn({ cluster, error }, 'job poll failed; retrying on the next tick'),
          }),
          ...o.jobs,
        },
      }),
      kubeConnection: kubeConnectionMachine.provide({
        actors: {
          ...kubeActors({
            config,
            clients: this.kubeClients,
            tokens: (t, signal) => this.cloudTokens.kubeToken(t, signal),
            secrets,
          }),
          informers: kubeInformerLogic({ clientOf: (id) => this.kubeClients.get(id) }),
          ...kubeEventsActors({ clients: this.kubeClients, secrets }),
          rayJob: rayJobMachine.provide({
            actors: {
              ...rayJobActors({ clients: this.kubeClients, dashboards }),
              ...o.rayJob,
            },
          }),
          rayService: rayServiceMachine.provide({
            actors: { ...rayServiceActors({ clients: this.kubeClients }), ...o.rayService },
          }),
          ...o.kubeConnection,
        },
      }),
      cloudConnection: cloudConnectionMachine.provide({
        actors: {
          ...cloudActors({ config, tokens: this.cloudTokens, log: log.child({ part: 'cloud' }) }),
          ...o.cloudConnection,
        },
      }),
      kuberayCluster: kuberayClusterMachine.provide({
        actors: { ...kuberayActors({ clients: this.kubeClients }), ...o.kuberayCluster },
      }),
      externalCluster: externalClusterMachine.provide({
        actors: {
          ...externalClusterActors({ config, processes: this.processes, dashboards }),
          describeCluster: local.describeCluster,
          healthWatcher,
          ...o.externalCluster,
        },
      }),
    };
    const logics = children as Record<string, AnyActorLogic>;
    for (const [name, wrap] of Object.entries(options.wrap ?? {})) logics[name] = wrap!(logics[name]!);
    const machine = supervisorMachine.provide({
      actions: {
        reportChildFailure: (_, p) =>
          log.error(
            { actor: p.id, err: p.error, restartInMs: p.restartInMs },
            p.restartInMs !== undefined ? 'actor failed; restarting it' : 'actor failed',
          ),
      },
      actors: children,
    });
    this.root = createActor(machine, {
      systemId: SYSTEM_IDS.supervisor,
      input: {
        startedAt: Date.now(),
        onExit: config.onExit,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        portRange: config.portRange,
      },
      inspect: options.inspect,
    });
    this.root.subscribe({
      next: (s) => this.watchClusters(Object.keys(s.context.clusters)),
      error: (err) => log.fatal({ err }, 'supervisor failed'),
    });
    // A cluster actor that failed comes back by adoption from its last record.
    this.root.on('cluster.restartDue', ({ clusterId }) => this.readopt(clusterId));
    this.port = createPort({
      root: () => this.root,
      get: (id) => this.get(id),
      defaultTimeoutMs: config.requestTimeoutMs,
      refuse: () => this.refuseWhenShuttingDown(),
    });
  }

  /** The narrow door for tool handlers and resources. */
  readonly port: ToolPort;
  /** The last record of each cluster, as persisted: what a failed cluster actor is restarted from. */
  private readonly lastRecords = new Map<string, ClusterRecord>();

  /** A cluster actor that failed is adopted again from its last record; it checks what still runs itself. */
  private readopt(clusterId: string): void {
    const record = this.lastRecords.get(clusterId);
    if (!record || this.shuttingDown) return;
    this.root.send({ type: 'cluster.adopt', record, timeoutMs: 120_000 });
  }

  /** Starts the system and adopts the clusters a previous run left in the state file. */
  static async create(options: SystemOptions): Promise<RaySystem> {
    const system = new RaySystem(options);
    const records = system.store.load();
    system.root.start();
    // Whether the state file can be written is known before the first request.
    system.stored(system.store.save(records));
    system.adopt(records);
    // Only now may the file change: before, it would be written without the clusters being adopted.
    system.adopted = true;
    system.persist();
    return system;
  }

  /** Adopts the clusters of the state file; each local one checks whether its processes still run. */
  private adopt(records: ClusterRecord[]): void {
    for (const record of records) {
      this.lastRecords.set(record.id, record);
      this.options.log.info({ cluster: record.id }, 'adopting cluster from the state file');
      this.root.send({ type: 'cluster.adopt', record, timeoutMs: 120_000 });
    }
  }

  /** Persists every known cluster whenever one of them changes. */
  private watchClusters(ids: string[]): void {
    for (const id of ids) {
      if (this.watched.has(id)) continue;
      const actor = this.cluster(id);
      if (!actor) continue;
      this.watched.add(id);
      const { createdAt } = actor.getSnapshot().context;
      (actor as AnyActorRef).subscribe({
        next: () => this.persist(),
        complete: () => {
          this.watched.delete(id);
          // What was learnt about its dashboard goes with the actor.
          this.dashboards.drop(dashboardOwner(id, createdAt));
        },
        // The supervisor hears of the failure (and restarts the actor); here it only stops persisting it.
        error: () => this.watched.delete(id),
      });
    }
    this.persist();
  }

  /** The clusters of the state file have been adopted (until then the file is left as it is). */
  private adopted = false;
  /** Shutdown has begun (set before the supervisor hears of it). */
  private closing = false;

  private persist(): void {
    // Once shutdown starts the actors go away one by one: what is on disk stays the truth.
    if (!this.adopted || this.closing || this.shuttingDown || this.root.getSnapshot().status !== 'active')
      return;
    const live = this.clusters()
      .map((a) => recordOf(a, (id) => this.kube(id)?.getSnapshot().context.target))
      .filter((r): r is ClusterRecord => r !== undefined);
    for (const r of live) this.lastRecords.set(r.id, r);
    const known = new Set(Object.keys(this.root.getSnapshot().context.clusters));
    for (const id of this.lastRecords.keys()) if (!known.has(id)) this.lastRecords.delete(id);
    // A cluster whose actor is down (restarting) keeps its last record on disk.
    const liveIds = new Set(live.map((r) => r.id));
    const down = [...this.lastRecords.values()].filter((r) => !liveIds.has(r.id));
    this.stored(this.store.save([...live, ...down].filter((r) => r.status !== 'stopped')));
  }

  private storeRetry?: NodeJS.Timeout;

  /**
   * After a write: the supervisor learns whether the state file can be written (it refuses to start
   * clusters it could not remember), and a failed write is tried again every few seconds.
   */
  private stored(ok: boolean): void {
    const problem = ok ? undefined : this.store.problem;
    if (this.root.getSnapshot().context.stateFileProblem !== problem)
      this.root.send({ type: 'system.stateFile', problem, file: this.store.file });
    if (ok) {
      clearInterval(this.storeRetry);
      this.storeRetry = undefined;
    } else if (!this.storeRetry && !this.shuttingDown) {
      this.storeRetry = setInterval(() => {
        if (this.shuttingDown) return clearInterval(this.storeRetry);
        this.stored(this.store.retry());
      }, STORE_RETRY_MS);
      this.storeRetry.unref();
    }
  }

  get config(): Config {
    return this.options.config;
  }

  /** The actor registered under `systemId`, if it is alive. */
  get<T extends AnyActorRef = AnyActorRef>(systemId: string): T | undefined {
    return this.root.system.get(systemId) as T | undefined;
  }

  get environment(): EnvironmentActor | undefined {
    return this.get(SYSTEM_IDS.environment);
  }

  /** The connection actor of a cloud provider (`cloud:gke`, `cloud:eks`). */
  cloud(provider: 'gke' | 'eks'): CloudActor | undefined {
    return this.get(cloudSystemId(provider));
  }

  cluster(id: string): ClusterActor | undefined {
    return this.get(SYSTEM_IDS.cluster(id));
  }

  /** The actor of a Kubernetes connection. */
  kube(id: string): KubeConnectionActor | undefined {
    return this.get(kubeSystemId(id));
  }

  /** Every Kubernetes connection actor, in the order they were made. */
  kubeConnections(): KubeConnectionActor[] {
    return this.root
      .getSnapshot()
      .context.connections.map((id) => this.kube(id))
      .filter((a): a is KubeConnectionActor => a !== undefined);
  }

  /** The jobs actor of a cluster. */
  jobs(clusterId: string): JobsActor | undefined {
    return this.get(jobsSystemId(clusterId));
  }

  /** Every cluster actor, oldest first. */
  clusters(): ClusterActor[] {
    const entries = Object.entries(this.root.getSnapshot().context.clusters).sort(
      (a, b) => a[1].createdAt - b[1].createdAt,
    );
    return entries.map(([id]) => this.cluster(id)).filter((a): a is ClusterActor => a !== undefined);
  }

  /**
   * How many actors are alive (the supervisor and every descendant), and the sizes of the registries
   * that grow with use: a debug figure (SIGUSR2 logs it; the soak checks it stays flat), never a tool.
   * Under `node --expose-gc` it collects garbage first, so heapMb is the live heap and rssMb is read
   * after that collection (the OS may get freed pages back a little later still).
   */
  stats(): SystemStats {
    const heap = heapAfterGc();
    const byKind: Record<string, number> = {};
    let actors = 0;
    const walk = (actor: AnyActorRef) => {
      actors++;
      const kind = actor.id.split(/[:#]/)[0] || actor.id;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      const children = (actor.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> })
        .children;
      for (const child of Object.values(children ?? {})) if (child) walk(child);
    };
    if (this.root.getSnapshot().status === 'active') walk(this.root);
    const c = this.root.getSnapshot().context;
    return {
      actors,
      byKind,
      clusters: Object.keys(c.clusters).length,
      connections: c.connections.length,
      failures: Object.keys(c.failures).length,
      endedConnections: Object.keys(c.endedConnections).length,
      kubeClients: this.kubeClients.size,
      processes: this.processes.size,
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
      heapMb: Math.round(heap / 2 ** 20),
    };
  }

  get shuttingDown(): boolean {
    return this.shutdownPromise !== undefined;
  }

  private refuseWhenShuttingDown(): void {
    if (this.shuttingDown) {
      throw new RayMcpError(
        'shutting_down',
        'ray-mcp is shutting down.',
        'Restart the MCP server and try again.',
      );
    }
  }

  /**
   * Sends `event` with a fresh requestId to `target` and resolves with the target's snapshot
   * once it answers. A refusal becomes a RayMcpError; so does a timeout or the target stopping.
   */
  async ask<TActor extends AnyActorRef>(
    target: TActor,
    event: CommandOf<TActor>,
    options: Partial<AskOptions<SnapshotFrom<TActor>>> = {},
  ): Promise<SnapshotFrom<TActor>> {
    this.refuseWhenShuttingDown();
    return askActor(target, event, { timeoutMs: this.config.requestTimeoutMs, ...options });
  }

  /** `ask`, also returning the data the answer carries. */
  async askForAnswer<TActor extends AnyActorRef, K extends string>(
    target: TActor,
    event: CommandOf<TActor> & { type: K },
    options: Partial<AskOptions<SnapshotFrom<TActor>>> = {},
  ) {
    this.refuseWhenShuttingDown();
    return askActorForAnswer(target, event, { timeoutMs: this.config.requestTimeoutMs, ...options });
  }

  /**
   * Stops every actor (and with --on-exit=stop every cluster we started) and every child
   * process, within `config.shutdownTimeoutMs`. Idempotent.
   */
  shutdown(reason: string): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(reason);
    return this.shutdownPromise;
  }

  /**
   * Local clusters that have running or pending jobs, each with its note (`Kept at exit: 1 job
   * running`). Each cluster's jobs are asked for fresh (a few seconds at most); when its dashboard
   * does not answer, what its jobs actor last saw decides.
   */
  private async busyClusters(deadline: number): Promise<Map<string, string>> {
    const busy = new Map<string, string>();
    const timeoutMs = Math.max(500, Math.min(5000, (deadline - Date.now()) / 3));
    await Promise.all(
      this.clusters().map(async (actor) => {
        if (!isLocal(actor)) return;
        const view = clusterView(actor, Date.now());
        const dashboard = dashboardOf(actor);
        const jobs = this.get<JobsActor>(jobsSystemId(view.cluster_id));
        if (!jobs || !dashboard || !(view.status === 'running' || view.status === 'degraded')) return;
        await askActor(jobs, { type: 'jobs.refresh', dashboard }, { timeoutMs }).catch(() => undefined);
        const counts = { running: 0, pending: 0 };
        for (const j of Object.values(jobs.getSnapshot().context.jobs)) {
          if (j.status === 'RUNNING') counts.running++;
          if (j.status === 'PENDING') counts.pending++;
        }
        if (counts.running + counts.pending === 0) {
          this.options.log.info({ cluster: view.cluster_id }, 'stopping idle cluster at exit');
          return;
        }
        const what = [
          counts.running && `${counts.running} job${counts.running > 1 ? 's' : ''} running`,
          counts.pending && `${counts.pending} pending`,
        ].filter(Boolean);
        busy.set(view.cluster_id, `${KEPT_AT_EXIT}: ${what.join(', ')}.`);
      }),
    );
    return busy;
  }

  private async doShutdown(reason: string): Promise<void> {
    const { log, config } = this.options;
    log.info({ reason }, 'shutting down');
    const deadline = Date.now() + config.shutdownTimeoutMs;
    const done = new Promise<void>((resolve) => {
      if (this.root.getSnapshot().status !== 'active') return resolve();
      const sub = this.root.subscribe({
        complete: () => {
          sub.unsubscribe();
          resolve();
        },
        error: () => resolve(),
      });
    });
    // From here on what is on disk stays: the actors are about to go away one by one (and a
    // RayCluster's actor reads as stopped once detached, though the RayCluster runs on).
    this.closing = true;
    // auto: clusters with running or pending jobs stay (and are remembered); idle ones stop.
    const kept = config.onExit === 'auto' ? await this.busyClusters(deadline) : new Map<string, string>();
    for (const [cluster, note] of kept)
      log.info({ cluster }, `keeping cluster at exit (${note}); the next run adopts it`);
    this.root.send({ type: 'system.shutdown', reason, keep: [...kept.keys()] });
    clearInterval(this.storeRetry);
    // --on-exit stop stops local clusters; a RayCluster ray-mcp created lives on in Kubernetes and
    // is still ours: it stays on file, to be adopted (and its connection made) at the next start.
    if (config.onExit === 'stop')
      this.store.save(
        [...this.lastRecords.values()].filter(
          (r) => r.kind === 'kuberay' && r.owned && r.status !== 'stopped',
        ),
      );
    // auto: every cluster stays on file until the idle ones are stopped (killed before that, the
    // next run adopts them), then only the kept ones, with why.
    const keptRecords = (all: boolean) =>
      [...this.lastRecords.values()]
        .filter((r) => r.status !== 'stopped' && (all || r.kind !== 'local' || kept.has(r.id)))
        .map((r) => (r.kind === 'local' && kept.has(r.id) ? { ...r, note: kept.get(r.id) } : r));
    if (config.onExit === 'auto') this.store.save(keptRecords(true));
    const keptPids = new Set(
      [...kept.keys()].flatMap((id) => {
        const r = this.lastRecords.get(id);
        return r?.kind === 'local' ? r.nodes.map((n) => n.pid) : [];
      }),
    );
    await raceTimeout(done, Math.max(0, deadline - Date.now() - 500));
    this.root.stop();
    await this.processes.stopAll(
      Math.max(500, deadline - Date.now()),
      // keep: all kept processes stay; auto: only the nodes of clusters kept for their jobs.
      config.onExit === 'auto' ? (pid) => keptPids.has(pid) : () => true,
    );
    if (config.onExit === 'auto') this.store.save(keptRecords(false));
    await this.kubeClients.closeAll();
    await this.dashboards.close();
    await this.cloudTokens.closeAll();
    log.info('shutdown complete');
  }
}

function raceTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
