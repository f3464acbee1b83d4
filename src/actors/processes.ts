/**
 * Every child process ray-mcp starts goes through here, so shutdown can stop all of them and a
 * test can prove none is left. Argument arrays only, never a shell string.
 */
import { execa, type Options, type ResultPromise } from 'execa';
import type { Logger } from '../logger.js';

export interface ProbeResult {
  ok: boolean;
  /** The executable could not be started at all (ENOENT, EACCES). */
  notFound: boolean;
  timedOut: boolean;
  exitCode?: number;
  stdout: string;
  stderr: string;
}

export class ProcessRegistry {
  private readonly live = new Set<ResultPromise>();

  constructor(
    private readonly env: Record<string, string>,
    private readonly log: Logger,
  ) {}

  /** Starts a process and tracks it until it exits. */
  start(file: string, args: readonly string[], options: Options = {}): ResultPromise {
    const child = execa(file, args, {
      env: this.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      forceKillAfterDelay: 3000,
      ...options,
    });
    this.live.add(child);
    this.log.debug({ pid: child.pid, file, args }, 'process started');
    const forget = () => this.live.delete(child);
    child.then(forget, forget);
    return child;
  }

  /** Runs a short command with a hard timeout; never throws, never hangs. */
  async probe(
    file: string,
    args: readonly string[],
    opts: { timeoutMs: number; signal?: AbortSignal; env?: Record<string, string> },
  ): Promise<ProbeResult> {
    const child = this.start(file, args, {
      timeout: opts.timeoutMs,
      cancelSignal: opts.signal,
      forceKillAfterDelay: 1000,
      stripFinalNewline: true,
      maxBuffer: 1_000_000,
      ...(opts.env ? { env: { ...this.env, ...opts.env } } : {}),
    });
    const res = await child;
    const notFound = res.failed && !res.timedOut && res.exitCode === undefined && !res.isCanceled;
    return {
      ok: !res.failed,
      notFound,
      timedOut: res.timedOut,
      exitCode: res.exitCode,
      stdout: String(res.stdout ?? ''),
      stderr: String(res.stderr ?? ''),
    };
  }

  get size(): number {
    return this.live.size;
  }

  pids(): number[] {
    return [...this.live].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /** SIGTERM every live child, then SIGKILL what is left after `graceMs`. */
  async stopAll(graceMs: number): Promise<void> {
    const children = [...this.live];
    if (children.length === 0) return;
    this.log.info({ count: children.length }, 'stopping child processes');
    for (const c of children) c.kill('SIGTERM');
    const settled = Promise.allSettled(children);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([settled, timer])) === 'timeout') {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await settled;
    }
  }
}
