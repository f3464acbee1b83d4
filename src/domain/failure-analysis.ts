/**
 * Why a job failed, as structure: the last Python traceback and Ray-specific causes read from the
 * tail of its log and its status, joined with Ray's own record of the job's failed tasks and dead
 * actors (the state API) when there is one. Pure; log and Ray text is untrusted: only
 * pattern-matched, and what is shown of it is bounded and redacted.
 */
import { redactText } from './audit.js';
import type { RayActorState, RayTaskState } from './ray-api.js';

export type FailureCause =
  | 'oom_killed'
  | 'task_failed'
  | 'actor_died'
  | 'runtime_env_setup_failed'
  | 'missing_module'
  | 'python_exception'
  | 'nonzero_exit'
  | 'stopped'
  | 'unknown';

/** A failed task of the job, from Ray's state API; `error` is Ray's message (untrusted, bounded). */
export interface FailedTask {
  name: string;
  error_type: string;
  error?: string;
  task_id: string;
}

/** A dead actor of the job and why it died (Ray's death cause; `message` untrusted, bounded). */
export interface DeadActor {
  class_name: string;
  actor_id: string;
  name?: string;
  pid?: number;
  /**
   * WORKER_DIED (with the worker's exit type: SYSTEM_ERROR, INTENDED_USER_EXIT, ...), RAY_KILL, NODE_DIED,
   * OUT_OF_MEMORY, CREATION_TASK_FAILED, RUNTIME_ENV_FAILED, UNSCHEDULABLE, ...
   */
  death_cause: string;
  message?: string;
}

export interface FailureAnalysis {
  cause: FailureCause;
  failed_tasks?: FailedTask[];
  dead_actors?: DeadActor[];
  /** One line naming what Ray recorded (untrusted): the dead actors' causes, the failed tasks' errors. */
  ray_record?: string;
  exception?: { type: string; message: string };
  innermost_frame?: { file: string; line: number; function: string; code?: string };
  missing_module?: string;
  exit_code?: number;
  suggestion: string;
}

export interface FailureInput {
  status: string;
  message?: string;
  errorType?: string;
  exitCode?: number;
  logTail: string;
  /** The job's failed tasks and dead actors from Ray's state API, when it could be read. */
  ray?: { tasks: RayTaskState[]; actors: RayActorState[] };
}

const SUGGESTIONS: Record<FailureCause, string> = {
  oom_killed:
    'A worker was killed for memory: give tasks more memory (memory= / num_cpus to spread them), process smaller batches, or add nodes.',
  task_failed: 'A Ray task raised: fix the exception shown; the innermost frame is where it was raised.',
  actor_died:
    'An actor process died: check its own logs for the reason (often memory or a crash in native code).',
  runtime_env_setup_failed:
    'The runtime environment could not be set up: check the pip package names and versions and that working_dir is reachable.',
  missing_module:
    'A module is missing: add it to runtime_env.pip, or put the code in working_dir so every worker gets it.',
  python_exception: 'The driver raised: fix the exception shown; the innermost frame is where it was raised.',
  nonzero_exit: 'The entrypoint exited with a non-zero code without a Python traceback: read the log tail.',
  stopped: 'The job was stopped (cancel_ray_job or Ray); resubmit it if that was not intended.',
  unknown: 'No cause found in the log tail; read more of it with retrieve_logs (cursor) or inspect the job.',
};

export function analyzeFailure(input: FailureInput): FailureAnalysis {
  const fromLog = analyzeLog(input);
  if (!input.ray) return fromLog;
  const failed_tasks = failedTasks(input.ray.tasks);
  const dead_actors = deadActors(input.ray.actors);
  if (!failed_tasks.length && !dead_actors.length) return fromLog;
  const record = {
    failed_tasks: failed_tasks.length ? failed_tasks : undefined,
    dead_actors: dead_actors.length ? dead_actors : undefined,
    ray_record: rayRecord(failed_tasks, dead_actors),
  };
  const oom =
    dead_actors.some((a) => a.death_cause === 'OUT_OF_MEMORY') ||
    failed_tasks.some((t) => t.error_type === 'OUT_OF_MEMORY');
  // Ray's own record decides what the log could only guess at; a setup failure or a stop stays what it is.
  const refinable: FailureCause[] = [
    'unknown',
    'nonzero_exit',
    'python_exception',
    'task_failed',
    'actor_died',
  ];
  let cause = fromLog.cause;
  if (oom && (refinable.includes(cause) || cause === 'missing_module')) cause = 'oom_killed';
  else if (['unknown', 'nonzero_exit', 'python_exception'].includes(cause)) {
    if (dead_actors.length) cause = 'actor_died';
    else if (failed_tasks.length) cause = 'task_failed';
  }
  return { ...fromLog, ...record, cause, suggestion: SUGGESTIONS[cause] };
}

function analyzeLog(input: FailureInput): FailureAnalysis {
  const text = input.logTail;
  const tb = lastTraceback(text);
  const all = `${input.message ?? ''}\n${text}`;
  const exitCode = input.exitCode ?? exitCodeFrom(input.message);
  const base = { exception: tb?.exception, innermost_frame: tb?.frame, exit_code: exitCode };

  if (input.status === 'STOPPED') return { ...base, cause: 'stopped', suggestion: SUGGESTIONS.stopped };
  if (
    input.errorType === 'RUNTIME_ENV_SETUP_FAILED' ||
    /RuntimeEnvSetupError|Failed to set ?up runtime environment/i.test(all)
  ) {
    return { ...base, cause: 'runtime_env_setup_failed', suggestion: SUGGESTIONS.runtime_env_setup_failed };
  }
  // Not "OOM killer" alone: Ray lists it among the possible causes of every lost worker.
  if (
    /OutOfMemoryError|running low on memory|killed due to memory pressure|killed due to (?:the )?OOM/i.test(
      all,
    )
  ) {
    return { ...base, cause: 'oom_killed', suggestion: SUGGESTIONS.oom_killed };
  }
  const missing = /(?:ModuleNotFoundError|ImportError): No module named '([^']+)'/.exec(all);
  if (missing) {
    return {
      ...base,
      cause: 'missing_module',
      missing_module: missing[1],
      suggestion: SUGGESTIONS.missing_module,
    };
  }
  if (/ActorDiedError|The actor died|actor died unexpectedly/i.test(all)) {
    return { ...base, cause: 'actor_died', suggestion: SUGGESTIONS.actor_died };
  }
  if (/RayTaskError/.test(all)) return { ...base, cause: 'task_failed', suggestion: SUGGESTIONS.task_failed };
  if (tb) return { ...base, cause: 'python_exception', suggestion: SUGGESTIONS.python_exception };
  if (exitCode !== undefined && exitCode !== 0) {
    return { ...base, cause: 'nonzero_exit', suggestion: SUGGESTIONS.nonzero_exit };
  }
  return { ...base, cause: 'unknown', suggestion: SUGGESTIONS.unknown };
}

/** How many failed tasks and dead actors an analysis names. */
export const MAX_RAY_ENTRIES = 3;
/** Deaths that follow from something else (the driver ended, a handle went away): not a cause. */
const CONSEQUENTIAL = ['OWNER_DIED', 'OUT_OF_SCOPE', 'REF_DELETED'];

/** The last non-empty line of Ray's error text (the exception), bounded and cleaned. */
function lastLine(text: string | null | undefined): string | undefined {
  const line = (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  return untrusted(line, 300);
}

function failedTasks(tasks: RayTaskState[]): FailedTask[] {
  return tasks
    .filter((t) => t.state === 'FAILED' && t.type !== 'DRIVER_TASK')
    .sort((a, b) => (b.end_time_ms ?? 0) - (a.end_time_ms ?? 0))
    .slice(0, MAX_RAY_ENTRIES)
    .map((t) => ({
      name: untrusted(t.name, 120) ?? t.func_or_class_name ?? '?',
      error_type: t.error_type ?? 'UNKNOWN',
      error: lastLine(t.error_message),
      task_id: t.task_id,
    }));
}

/** Ray's ActorDeathCause (snake or camel case) → a short cause and its message. */
export function deathCause(cause: Record<string, unknown> | null | undefined): {
  cause: string;
  message?: string;
} {
  const ctx = (snake: string, camel: string) =>
    (cause?.[snake] ?? cause?.[camel]) as Record<string, unknown> | undefined;
  const msg = (c: Record<string, unknown> | undefined) =>
    (c?.error_message ?? c?.errorMessage ?? c?.formatted_exception_string ?? c?.formattedExceptionString) as
      | string
      | undefined;
  const oom = ctx('oom_context', 'oomContext');
  if (oom) return { cause: 'OUT_OF_MEMORY', message: msg(oom) };
  const creation = ctx('creation_task_failure_context', 'creationTaskFailureContext');
  if (creation) return { cause: 'CREATION_TASK_FAILED', message: msg(creation) };
  const env = ctx('runtime_env_failed_context', 'runtimeEnvFailedContext');
  if (env) return { cause: 'RUNTIME_ENV_FAILED', message: msg(env) };
  const unsched = ctx('actor_unschedulable_context', 'actorUnschedulableContext');
  if (unsched) return { cause: 'UNSCHEDULABLE', message: msg(unsched) };
  const died = ctx('actor_died_error_context', 'actorDiedErrorContext');
  if (died) {
    const message = msg(died);
    // The memory monitor's kills are worker deaths whose message says so.
    const exitType = /Worker exit type: ([A-Z_]+)/.exec(message ?? '')?.[1];
    if (
      exitType === 'NODE_OUT_OF_MEMORY' ||
      /memory monitor|killed due to (?:memory pressure|the? ?OOM)|OutOfMemory/i.test(message ?? '')
    )
      return { cause: 'OUT_OF_MEMORY', message };
    // The worker's exit type tells a crash (SYSTEM_ERROR) from exit_actor (INTENDED_USER_EXIT).
    return { cause: `${String(died.reason ?? 'UNSPECIFIED')}${exitType ? ` (${exitType})` : ''}`, message };
  }
  return { cause: 'UNSPECIFIED' };
}

function deadActors(actors: RayActorState[]): DeadActor[] {
  return actors
    .filter((a) => a.state === 'DEAD')
    .map((a) => ({ a, d: deathCause(a.death_cause) }))
    .filter(({ d }) => !CONSEQUENTIAL.includes(d.cause))
    .slice(0, MAX_RAY_ENTRIES)
    .map(({ a, d }) => ({
      class_name: untrusted(a.class_name, 120) ?? '?',
      actor_id: a.actor_id,
      name: untrusted(a.name, 120),
      pid: a.pid ?? undefined,
      death_cause: d.cause,
      message: untrusted(d.message, 400),
    }));
}

/** Error types of a task that only repeat why its actor or worker died. */
const DEATH_ECHOES = ['ACTOR_DIED', 'WORKER_DIED', 'NODE_DIED', 'OUT_OF_MEMORY'];

function rayRecord(tasks: FailedTask[], actors: DeadActor[]): string {
  const parts = [
    ...actors.map(
      (a) =>
        `actor ${a.class_name}${a.pid ? ` (pid ${a.pid})` : ''} died: ${a.death_cause}${a.message ? ` — ${a.message.slice(0, 160)}` : ''}`,
    ),
    ...tasks.map((t) => {
      const echo = actors.length > 0 && DEATH_ECHOES.includes(t.error_type);
      return `task ${t.name} failed: ${t.error_type}${t.error && !echo ? ` — ${t.error.slice(0, 160)}` : ''}`;
    }),
  ];
  return parts.join('; ');
}

/** Ray's text (user code's exceptions among it): bounded, no control characters, secrets redacted. */
function untrusted(text: string | null | undefined, max: number): string | undefined {
  if (!text) return undefined;
  const clean = redactText(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    text.replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' '),
  ).trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function exitCodeFrom(message?: string): number | undefined {
  const m = /exit(?:ed)? (?:with )?code (-?\d+)/i.exec(message ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The last `Traceback (most recent call last):` block: its exception line and innermost frame. */
export function lastTraceback(
  text: string,
): { exception: { type: string; message: string }; frame?: FailureAnalysis['innermost_frame'] } | undefined {
  const start = text.lastIndexOf('Traceback (most recent call last):');
  if (start < 0) return undefined;
  const lines = text.slice(start).split(/\r?\n/).slice(1);
  let frame: FailureAnalysis['innermost_frame'];
  let exception: { type: string; message: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const f = /^\s*File "([^"]+)", line (\d+), in (.+)$/.exec(line);
    if (f) {
      const next = lines[i + 1];
      const code = next && /^\s{4,}\S/.test(next) && !/^\s*File "/.test(next) ? next.trim() : undefined;
      frame = { file: f[1]!, line: Number(f[2]), function: f[3]!.trim(), code };
      continue;
    }
    if (/^\s/.test(line) || !line.trim()) continue;
    // The first unindented line after the frames is the exception: `Type: message` or `Type`.
    // Linear-time pattern, and very long lines are not exception lines: log text is untrusted.
    if (line.length > 2000) continue;
    const e = /^([A-Za-z_][\w.]*)(?::\s?(.*))?$/.exec(line.trim());
    if (e && !/^[A-Z]/.test(e[1]!.split('.').pop() ?? '')) continue;
    if (e) {
      exception = { type: e[1]!, message: (e[2] ?? '').slice(0, 500) };
      break;
    }
  }
  return exception ? { exception, frame } : undefined;
}
