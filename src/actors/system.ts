/**
 * The actor system: one XState system rooted in the supervisor, with every long-lived actor
 * registered under a systemId. Tool handlers talk to it through `ask`: send a command with a
 * requestId, wait for the actor's answer (or a timeout), then read its snapshot.
 */
import { randomUUID } from 'node:crypto';
import {
  type Actor,
  type AnyActorRef,
  createActor,
  type EventObject,
  type InspectionEvent,
  type Observer,
  type SnapshotFrom,
} from 'xstate';
import type { Config } from '../config.js';
import type { Answer } from '../domain/commands.js';
import { RayMcpError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import { environmentMachine } from '../machines/environment.machine.js';
import { SYSTEM_IDS, supervisorMachine } from '../machines/supervisor.machine.js';
import { probeEnvironmentLogic } from './environment.actor.js';
import { ProcessRegistry } from './processes.js';

export interface SystemOptions {
  config: Config;
  log: Logger;
  inspect?: Observer<InspectionEvent>;
}

export interface AskOptions<TSnapshot> {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with every snapshot of the target until the answer arrives (progress). */
  onSnapshot?: (snapshot: TSnapshot) => void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type RootActor = Actor<typeof supervisorMachine>;

export class RaySystem {
  readonly root: RootActor;
  readonly processes: ProcessRegistry;
  private shutdownPromise?: Promise<void>;

  constructor(private readonly options: SystemOptions) {
    const { config, log } = options;
    this.processes = new ProcessRegistry(config.childEnv, log.child({ part: 'processes' }));
    const machine = supervisorMachine.provide({
      actors: {
        environment: environmentMachine.provide({
          actors: { probeEnvironment: probeEnvironmentLogic({ config, processes: this.processes }) },
        }),
      },
    });
    this.root = createActor(machine, {
      input: { startedAt: Date.now() },
      inspect: options.inspect,
    });
    this.root.subscribe({
      error: (err) => log.error({ err }, 'supervisor failed'),
    });
    this.root.start();
  }

  get config(): Config {
    return this.options.config;
  }

  /** The actor registered under `systemId`, if it is alive. */
  get<T extends AnyActorRef = AnyActorRef>(systemId: string): T | undefined {
    return this.root.system.get(systemId) as T | undefined;
  }

  get environment() {
    return this.get<import('xstate').ActorRefFrom<typeof environmentMachine>>(SYSTEM_IDS.environment);
  }

  get shuttingDown(): boolean {
    return this.shutdownPromise !== undefined;
  }

  /**
   * Sends `event` with a fresh requestId to `target` and resolves with the target's snapshot
   * once it answers. A refusal becomes a RayMcpError; so does a timeout or the target stopping.
   */
  ask<TActor extends AnyActorRef>(
    target: TActor,
    event: DistributiveOmit<Extract<Parameters<TActor['send']>[0], { requestId: string }>, 'requestId'>,
    options: AskOptions<SnapshotFrom<TActor>> = {},
  ): Promise<SnapshotFrom<TActor>> {
    if (this.shuttingDown) {
      return Promise.reject(
        new RayMcpError(
          'shutting_down',
          'ray-mcp is shutting down.',
          'Restart the MCP server and try again.',
        ),
      );
    }
    const requestId = randomUUID();
    const timeoutMs = options.timeoutMs ?? this.config.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        answers.unsubscribe();
        snapshots.unsubscribe();
        options.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: RayMcpError) => {
        cleanup();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new RayMcpError(
              'timeout',
              `${(event as unknown as EventObject).type} got no answer within ${Math.round(timeoutMs / 1000)} s.`,
              'The operation may still finish: inspect its state, or raise --request-timeout.',
            ),
          ),
        timeoutMs,
      );
      const onAbort = () =>
        fail(
          new RayMcpError('timeout', 'The request was cancelled by the client.', 'Send it again if needed.'),
        );
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const answers = target.on('answer', (answer: Answer) => {
        if (answer.requestId !== requestId) return;
        cleanup();
        if (answer.ok) resolve(target.getSnapshot());
        else reject(RayMcpError.from(answer.error));
      });
      const snapshots = target.subscribe({
        next: (snapshot) => options.onSnapshot?.(snapshot),
        complete: () =>
          fail(
            new RayMcpError(
              'unavailable',
              `${target.id} stopped before answering.`,
              'Check its state with the matching list or inspect tool.',
            ),
          ),
      });
      target.send({ ...event, requestId });
    });
  }

  /**
   * Stops every actor and every child process, within `config.shutdownTimeoutMs`. Idempotent.
   */
  shutdown(reason: string): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(reason);
    return this.shutdownPromise;
  }

  private async doShutdown(reason: string): Promise<void> {
    const { log, config } = this.options;
    log.info({ reason }, 'shutting down');
    const deadline = Date.now() + config.shutdownTimeoutMs;
    const stopped = new Promise<void>((resolve) => {
      if (this.root.getSnapshot().status !== 'active') return resolve();
      const sub = this.root.subscribe({
        complete: () => {
          sub.unsubscribe();
          resolve();
        },
        error: () => resolve(),
      });
    });
    this.root.send({ type: 'system.shutdown', reason });
    await raceTimeout(stopped, Math.max(0, deadline - Date.now() - 1000));
    this.root.stop();
    await this.processes.stopAll(Math.max(500, deadline - Date.now()));
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
