/**
 * Request/answer over actors: send a command with a fresh requestId, resolve with the target's
 * snapshot once it emits the matching `answer`, or fail on a refusal, a timeout, an abort or
 * the target stopping. Used by tool handlers (through RaySystem.ask) and by actor logic that
 * needs another actor (a cluster asking the port allocator).
 */
import { randomUUID } from 'node:crypto';
import type { AnyActorRef, SnapshotFrom } from 'xstate';
import type { Answer, AnswerData } from '../domain/commands.js';
import { RayMcpError } from '../domain/errors.js';

export interface AskOptions<TSnapshot> {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with every snapshot of the target until the answer arrives (progress). */
  onSnapshot?: (snapshot: TSnapshot) => void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type CommandOf<TActor extends AnyActorRef> = DistributiveOmit<
  Extract<Parameters<TActor['send']>[0], { requestId: string }>,
  'requestId'
> & { type: string };

export async function askActor<TActor extends AnyActorRef>(
  target: TActor,
  event: CommandOf<TActor>,
  options: AskOptions<SnapshotFrom<TActor>>,
): Promise<SnapshotFrom<TActor>> {
  return (await askActorForAnswer(target, event, options)).snapshot;
}

/** Like askActor, with the answer's data, typed by the command (see CommandAnswers). */
export function askActorForAnswer<TActor extends AnyActorRef, K extends string>(
  target: TActor,
  event: CommandOf<TActor> & { type: K },
  options: AskOptions<SnapshotFrom<TActor>>,
): Promise<{ snapshot: SnapshotFrom<TActor>; data: AnswerData<K> }> {
  const requestId = randomUUID();
  const type: string = event.type;
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
            `${type} got no answer within ${Math.round(options.timeoutMs / 1000)} s.`,
            'The operation may still finish: check its state with the matching inspect or list tool, or raise --request-timeout.',
          ),
        ),
      options.timeoutMs,
    );
    const onAbort = () =>
      fail(
        new RayMcpError('timeout', 'The request was cancelled by the client.', 'Send it again if needed.'),
      );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const answers = target.on('answer', (answer: Answer) => {
      if (answer.requestId !== requestId) return;
      cleanup();
      if (answer.ok) resolve({ snapshot: target.getSnapshot(), data: answer.data as AnswerData<K> });
      else reject(RayMcpError.from(answer.error));
    });
    const snapshots = target.subscribe({
      next: (snapshot) => {
        try {
          options.onSnapshot?.(snapshot);
        } catch {
          // A progress callback that throws must not take the actor's observers down.
        }
      },
      error: (err) =>
        fail(
          new RayMcpError(
            'unavailable',
            `${target.id} failed before answering ${type}: ${err instanceof Error ? err.message : String(err)}.`,
            'Its parent restarts it when it can: check its state with the matching list or inspect tool, then try again.',
          ),
        ),
      complete: () =>
        fail(
          new RayMcpError(
            'unavailable',
            `${target.id} stopped before answering ${type}.`,
            'Check its state with the matching list or inspect tool.',
          ),
        ),
    });
    target.send({ ...event, requestId });
  });
}
