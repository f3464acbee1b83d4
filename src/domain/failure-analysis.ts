/**
 * Why a job failed, as structure: the last Python traceback and Ray-specific causes read from the
 * tail of its log and its status. Pure; log text is untrusted and only pattern-matched.
 */
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

export interface FailureAnalysis {
  cause: FailureCause;
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
