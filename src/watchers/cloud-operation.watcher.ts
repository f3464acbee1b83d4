/**
 * Follows one cluster creation until it ends: a check per tick (never two at once), a progress
 * event per check, an `operationEnded` at the end. A failed check is an event and the next tick
 * tries again; credentials the cloud rejects end the watch with `credentialsRejected`.
 */
import type { Observable } from 'rxjs';
import { fromEventObservable } from 'xstate';
import {
  type CloudFact,
  type CloudProvider,
  credentialProblemOf,
  type TrackedOperation,
} from '../domain/cloud.js';
import { toErrorInfo } from '../domain/errors.js';
import { lazy } from './lazy.js';

export interface OperationStep {
  done: boolean;
  ok?: boolean;
  detail: string;
  error?: string;
}

/** One check of an operation; for EKS it also creates the node groups once the cluster is ACTIVE. */
export type AdvanceOperation = (
  provider: CloudProvider,
  operation: TrackedOperation,
  signal: AbortSignal,
) => Promise<OperationStep>;

/** Longer than any real creation (GKE ~5-15 min, EKS ~15-25 min with node groups). */
export const MAX_OPERATION_MS = 90 * 60_000;

type Rx = typeof import('rxjs');
type Input = { provider: CloudProvider; operation: TrackedOperation };

export function operationEvents(
  rx: Rx,
  input: Input,
  advance: AdvanceOperation,
  intervalMs: number,
  maxMs = MAX_OPERATION_MS,
): Observable<CloudFact> {
  const { Observable, timer, exhaustMap, map, catchError, of, takeWhile } = rx;
  const id = input.operation.view.operation_id;
  const started = Date.parse(input.operation.view.started_at) || Date.now();
  let polls = 0;
  const check = () =>
    new Observable<OperationStep>((sub) => {
      const ac = new AbortController();
      advance(input.provider, input.operation, ac.signal).then(
        (step) => {
          sub.next(step);
          sub.complete();
        },
        (err: unknown) => sub.error(err),
      );
      return () => ac.abort();
    });
  return timer(0, intervalMs).pipe(
    exhaustMap(() =>
      check().pipe(
        map((step): CloudFact => {
          polls++;
          if (step.done)
            return {
              type: 'cloud.operationEnded',
              operationId: id,
              ok: step.ok ?? false,
              detail: step.detail,
              error: step.error,
              polls,
              endedAt: new Date().toISOString(),
            };
          if (Date.now() - started > maxMs)
            return {
              type: 'cloud.operationEnded',
              operationId: id,
              ok: false,
              detail: step.detail,
              error: `Not done after ${Math.round(maxMs / 60_000)} minutes; ray-mcp stopped following it. Check the cloud console.`,
              polls,
              endedAt: new Date().toISOString(),
            };
          return { type: 'cloud.operationProgress', operationId: id, detail: step.detail, polls };
        }),
        catchError((err: unknown) => {
          polls++;
          if (credentialProblemOf(err))
            return of<CloudFact>({ type: 'cloud.credentialsRejected', error: toErrorInfo(err) });
          return of<CloudFact>({
            type: 'cloud.operationPollFailed',
            operationId: id,
            error: toErrorInfo(err).message,
            polls,
          });
        }),
      ),
    ),
    takeWhile((e) => e.type !== 'cloud.operationEnded' && e.type !== 'cloud.credentialsRejected', true),
  );
}

export function cloudOperationWatcherLogic(advance: AdvanceOperation, intervalMs: number) {
  return fromEventObservable<CloudFact, Input>(({ input }) =>
    lazy(async () => operationEvents(await import('rxjs'), input, advance, intervalMs)),
  );
}
