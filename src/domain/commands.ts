import type { ErrorInfo } from './errors.js';

/**
 * The reply an actor emits when it has settled a command. Tool handlers wait for the answer
 * carrying their `requestId`, then read the actor's snapshot for the result.
 */
export type Answer =
  | { type: 'answer'; requestId: string; ok: true }
  | { type: 'answer'; requestId: string; ok: false; error: ErrorInfo };

export const answerOk = (requestId: string): Answer => ({ type: 'answer', requestId, ok: true });
export const answerError = (requestId: string, error: ErrorInfo): Answer => ({
  type: 'answer',
  requestId,
  ok: false,
  error,
});
