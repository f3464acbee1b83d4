import type { ErrorInfo } from './errors.js';

/**
 * The reply an actor emits when it has settled a command. Tool handlers wait for the answer
 * carrying their `requestId`, then read the actor's snapshot for the result.
 */
export type Answer =
  | { type: 'answer'; requestId: string; ok: true; data?: Record<string, string> }
  | { type: 'answer'; requestId: string; ok: false; error: ErrorInfo };

export const answerOk = (requestId: string, data?: Record<string, string>): Answer =>
  data ? { type: 'answer', requestId, ok: true, data } : { type: 'answer', requestId, ok: true };
export const answerError = (requestId: string, error: ErrorInfo): Answer => ({
  type: 'answer',
  requestId,
  ok: false,
  error,
});
