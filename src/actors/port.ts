/**
 * The narrow door tool handlers and resources use into the actor system: run one operation and
 * get its typed answer (with progress on the way), or follow one actor's snapshots. Nothing else
 * of the system (process registry, store, clients, tokens) is reachable through it.
 */
import { randomUUID } from 'node:crypto';
import type { AnyActorRef } from 'xstate';
import type { Answer } from '../domain/commands.js';
import { RayMcpError } from '../domain/errors.js';
import type {
  OperationInput,
  OperationOutput,
  OperationProgress,
  OperationType,
} from '../domain/operations.js';
import { ANSWER_MARGIN_MS } from '../domain/waits.js';
import type { SupervisorActor } from '../machines/supervisor.machine.js';

export interface RunOptions {
  signal?: AbortSignal;
  /** Longest wait for the answer (default: --request-timeout). */
  timeoutMs?: number;
  onProgress?: (p: OperationProgress) => void;
  /**
   * Longest the operation may wait (the caller sent no progressToken): it answers with the state so
   * far by then, and the call gives up a few seconds later at most. Absent: as long as asked.
   */
  capMs?: number;
}

export interface ToolPort {
  run<K extends OperationType>(
    type: K,
    input: OperationInput<K>,
    options?: RunOptions,
  ): Promise<OperationOutput<K>>;
  /**
   * Calls `listener` with every snapshot of the actor `systemId` until the returned function is
   * called or the actor stops; undefined when there is no such actor.
   */
  observe(
    systemId: string,
    listener: (snapshot: unknown) => void,
    /** The actor stopped (or failed): no more snapshots will come. */
    onEnd?: () => void,
  ): (() => void) | undefined;
}

export function createPort(deps: {
  root: () => SupervisorActor;
  get: (systemId: string) => AnyActorRef | undefined;
  defaultTimeoutMs: number;
  refuse: () => void;
}): ToolPort {
  return {
    run(type, input, options = {}) {
      deps.refuse();
      const root = deps.root();
      const requestId = randomUUID();
      const asked = options.timeoutMs ?? deps.defaultTimeoutMs;
      const timeoutMs =
        options.capMs === undefined ? asked : Math.min(asked, options.capMs + ANSWER_MARGIN_MS);
      return new Promise((resolve, reject) => {
        const cleanup = () => {
          clearTimeout(timer);
          answers.unsubscribe();
          progress.unsubscribe();
          snapshots.unsubscribe();
          options.signal?.removeEventListener('abort', onAbort);
        };
        const fail = (err: RayMcpError) => {
          cleanup();
          root.send({ type: 'request.cancel', requestId });
          reject(err);
        };
        const timer = setTimeout(
          () =>
            fail(
              new RayMcpError(
                'timeout',
                `${type} got no answer within ${Math.round(timeoutMs / 1000)} s.`,
                'The operation may still finish: check its state with the matching inspect or list tool, or raise --request-timeout.',
              ),
            ),
          timeoutMs,
        );
        const onAbort = () =>
          fail(
            new RayMcpError(
              'timeout',
              'The request was cancelled by the client.',
              'Send it again if needed.',
            ),
          );
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const answers = root.on('answer', (answer: Answer) => {
          if (answer.requestId !== requestId) return;
          cleanup();
          if (answer.ok) resolve(answer.data as OperationOutput<typeof type>);
          else reject(RayMcpError.from(answer.error));
        });
        const progress = root.on('progress', (p) => {
          if (p.requestId !== requestId) return;
          try {
            options.onProgress?.({ progress: p.progress, total: p.total, message: p.message });
          } catch {
            // A progress callback must not break the supervisor's listeners.
          }
        });
        const snapshots = root.subscribe({
          error: () => fail(new RayMcpError('internal', 'The actor system failed.', 'Restart ray-mcp.')),
          complete: () =>
            fail(
              new RayMcpError(
                'shutting_down',
                'ray-mcp is shutting down.',
                'Restart the MCP server and try again.',
              ),
            ),
        });
        root.send({
          type: 'request',
          requestId,
          operation: { type, input } as never,
          capMs: options.capMs,
        });
      });
    },
    observe(systemId, listener, onEnd) {
      const actor = deps.get(systemId);
      if (!actor) return undefined;
      const ended = () => {
        try {
          onEnd?.();
        } catch {
          // As for the listener.
        }
      };
      const sub = actor.subscribe({
        next: (snapshot) => {
          try {
            listener(snapshot);
          } catch {
            // A listener that throws must not take the actor's other observers down.
          }
        },
        error: ended,
        complete: ended,
      });
      return () => sub.unsubscribe();
    },
  };
}
