/**
 * What a request's flow may use: the actors of the system (found by systemId), `ask` with the
 * request's signal and a default timeout, progress for the caller, and the settings. A flow talks
 * to the world only through other actors.
 */
import type { ActorSystem, AnyActorRef, SnapshotFrom } from 'xstate';

// biome-ignore lint/suspicious/noExplicitAny: the system's registry holds actors of every kind
type AnyActorSystem = ActorSystem<any>;

import type { Config } from '../../config.js';
import { type ErrorInfo, RayMcpError } from '../../domain/errors.js';
import { waitBudgetMs } from '../../domain/waits.js';
import { type CloudActor, cloudSystemId } from '../../machines/cloud-connection.machine.js';
import type { EnvironmentActor } from '../../machines/environment.machine.js';
import { type JobsActor, jobsSystemId } from '../../machines/jobs.machine.js';
import { type KubeConnectionActor, kubeSystemId } from '../../machines/kube-connection.machine.js';
import {
  type ChildFailure,
  type SupervisorActor,
  type SupervisorContext,
  SYSTEM_IDS,
} from '../../machines/supervisor.machine.js';
import { type AskOptions, askActor, askActorForAnswer, type CommandOf } from '../ask.js';
import type { ClusterActor } from '../cluster-records.js';

export class Ops {
  constructor(
    private readonly system: AnyActorSystem,
    readonly config: Config,
    readonly requestId: string,
    readonly signal: AbortSignal,
    /** Longest this call may wait (its client sent no progressToken); undefined: as long as asked. */
    readonly capMs?: number,
  ) {}

  private readonly startedAt = Date.now();

  now(): number {
    return Date.now();
  }

  /** What a wait the caller asked `askedMs` for may take of this call's budget. */
  budget(askedMs: number): number {
    return waitBudgetMs(askedMs, this.capMs, Date.now() - this.startedAt);
  }

  /**
   * Runs a wait that may take `askedMs`; when the call's budget ends first, the wait is let go
   * (the work goes on in its actor) and `done` is false. Errors of the wait itself are thrown.
   */
  async within<T>(
    askedMs: number,
    wait: (options: { timeoutMs: number; signal: AbortSignal }) => Promise<T>,
  ): Promise<{ done: true; value: T } | { done: false }> {
    const budget = this.budget(askedMs);
    if (budget >= askedMs)
      return { done: true, value: await wait({ timeoutMs: askedMs, signal: this.signal }) };
    const early = new AbortController();
    const timer = setTimeout(() => early.abort(), budget);
    try {
      const value = await wait({ timeoutMs: askedMs, signal: AbortSignal.any([this.signal, early.signal]) });
      return { done: true, value };
    } catch (err) {
      if (early.signal.aborted && !this.signal.aborted) return { done: false };
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get root(): SupervisorActor {
    return this.system.get(SYSTEM_IDS.supervisor) as SupervisorActor;
  }

  private get supervisor(): SupervisorContext {
    return this.root.getSnapshot().context;
  }

  get<T extends AnyActorRef = AnyActorRef>(systemId: string): T | undefined {
    return this.system.get(systemId) as T | undefined;
  }

  /** Why the actor `systemId` failed, while it is down or after it came back. */
  failure(systemId: string): ChildFailure | undefined {
    return this.supervisor.failures[systemId];
  }

  /** Why a Kubernetes connection that failed and ended (its actor is gone) failed, if it is among the recent ones. */
  endedConnection(id: string): { error?: ErrorInfo } | undefined {
    return Object.hasOwn(this.supervisor.endedConnections, id)
      ? this.supervisor.endedConnections[id]
      : undefined;
  }

  /** The actor `systemId`, or an error that says it failed and is being restarted. */
  require<T extends AnyActorRef>(systemId: string, what: string): T {
    const actor = this.get<T>(systemId);
    if (actor) return actor;
    const failure = this.failure(systemId);
    if (failure) {
      throw new RayMcpError(
        'unavailable',
        `The ${what} failed (${failure.error.message}) and ${failure.state === 'failed' ? 'is not restarted' : 'is being restarted'}.`,
        failure.state === 'failed' ? 'Restart ray-mcp.' : 'Try again in a few seconds.',
      );
    }
    throw new RayMcpError('shutting_down', `The ${what} is not running.`, 'Restart ray-mcp.');
  }

  get environment(): EnvironmentActor {
    return this.require(SYSTEM_IDS.environment, 'environment actor');
  }

  cloud(provider: 'gke' | 'eks'): CloudActor {
    return this.require(cloudSystemId(provider), `${provider.toUpperCase()} connection actor`);
  }

  cluster(id: string): ClusterActor | undefined {
    return this.get(SYSTEM_IDS.cluster(id));
  }

  kube(id: string): KubeConnectionActor | undefined {
    return this.get(kubeSystemId(id));
  }

  /** Every Kubernetes connection actor, in the order they were made. */
  kubeConnections(): KubeConnectionActor[] {
    return this.supervisor.connections
      .map((id) => this.kube(id))
      .filter((a): a is KubeConnectionActor => a !== undefined);
  }

  jobs(clusterId: string): JobsActor {
    return this.require(jobsSystemId(clusterId), `jobs actor of ${clusterId}`);
  }

  /** Every cluster actor, oldest first. */
  clusters(): ClusterActor[] {
    return Object.entries(this.supervisor.clusters)
      .sort((a, b) => a[1].createdAt - b[1].createdAt)
      .map(([id]) => this.cluster(id))
      .filter((a): a is ClusterActor => a !== undefined);
  }

  /** Ids of the clusters whose actor failed and is down now. */
  downClusters(): string[] {
    return Object.keys(this.supervisor.clusters).filter(
      (id) => !this.cluster(id) && this.failure(SYSTEM_IDS.cluster(id)) !== undefined,
    );
  }

  /** What the supervisor knows of a cluster (its kind and creation time), even while its actor is down. */
  clusterEntry(id: string): { kind: 'local' | 'external' | 'kuberay'; createdAt: number } | undefined {
    return this.supervisor.clusters[id];
  }

  ask<TActor extends AnyActorRef>(
    target: TActor,
    event: CommandOf<TActor>,
    options: Partial<AskOptions<SnapshotFrom<TActor>>> = {},
  ): Promise<SnapshotFrom<TActor>> {
    return askActor(target, event, {
      timeoutMs: this.config.requestTimeoutMs,
      signal: this.signal,
      ...options,
    });
  }

  askForAnswer<TActor extends AnyActorRef, K extends string>(
    target: TActor,
    event: CommandOf<TActor> & { type: K },
    options: Partial<AskOptions<SnapshotFrom<TActor>>> = {},
  ) {
    return askActorForAnswer(target, event, {
      timeoutMs: this.config.requestTimeoutMs,
      signal: this.signal,
      ...options,
    });
  }

  /** A progress notification for the caller (sent only when its client asked for them). */
  progress(progress: number, total?: number, message?: string): void {
    this.root.send({ type: 'request.progress', requestId: this.requestId, progress, total, message });
  }
}
