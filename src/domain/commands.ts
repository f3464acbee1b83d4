import type { CloudResult } from './cloud.js';
import type { ErrorInfo } from './errors.js';
import type { KubeEventsRead } from './kube-events.js';
import type { RayJobFailures } from './ray-api.js';
import type { RayServiceApplyResult } from './rayservice.js';
import type { RayServeDetails } from './serve.js';

/**
 * What each command an actor takes answers with, by command type. Command types are unique
 * across the machines, so one map types every answer; a command not listed answers no data.
 */
export interface CommandAnswers {
  'cluster.create': { clusterId: string };
  'kube.ensure': { connectionId: string };
  'kube.rayJob': { systemId: string };
  'kube.rayService': { systemId: string };
  'rayservice.apply': RayServiceApplyResult;
  'kube.events': KubeEventsRead;
  'jobs.submit': { submissionId: string; existed: boolean };
  'jobs.stop': { alreadyEnded: boolean };
  'jobs.logs': JobLogPage;
  'jobs.failures': RayJobFailures;
  /** `at`: Ray's clock just before the PUT (seconds), to tell the new deployment from the last. */
  'serve.apply': { at: number };
  'serve.remove': { removed: boolean; stopped: boolean; remaining: string[] };
  'serve.status': RayServeDetails;
  'cloud.list': CloudResult & { kind: 'list' };
  'cloud.describe': CloudResult & { kind: 'describe' };
  'cloud.target': CloudResult & { kind: 'target' };
  'cloud.create': CloudResult & { kind: 'create' };
  'cloud.writeKubeconfig': CloudResult & { kind: 'kubeconfig' };
}

/** A page of a job's driver log (byte-capped), with cursors to page back and to read what comes next. */
export interface JobLogPage {
  text: string;
  lines: number;
  /** Read this to go further back; absent at the start of the log. */
  older?: string;
  /** Read this later for what the job writes next. */
  newer: string;
  /** The page was cut at the byte cap. */
  truncated: boolean;
}

export type AnswerData<K> = K extends keyof CommandAnswers ? CommandAnswers[K] : undefined;

/**
 * The reply an actor emits when it has settled a command: the data its command type answers
 * with, or the error a user can act on.
 */
export type Answer<D = unknown> =
  | { type: 'answer'; requestId: string; ok: true; data?: D }
  | { type: 'answer'; requestId: string; ok: false; error: ErrorInfo };

export function answerOk(requestId: string): Answer<never>;
export function answerOk<D>(requestId: string, data: D): Answer<D>;
export function answerOk<D>(requestId: string, data?: D): Answer<D> {
  return data === undefined
    ? { type: 'answer', requestId, ok: true }
    : { type: 'answer', requestId, ok: true, data };
}
export const answerError = (requestId: string, error: ErrorInfo): Answer<never> => ({
  type: 'answer',
  requestId,
  ok: false,
  error,
});
