/**
 * Every child process ray-mcp starts goes through here, so shutdown can stop all of them and a
 * test can prove none is left. Argument arrays only, never a shell string. Each child leads its
 * own process group and signals go to the whole group: a wrapper script's own children (or a
 * Ray node's raylet) are never orphaned when the child is stopped.
 */
import type { Options, ResultPromise } from 'execa';
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

// execa loads on first use: start-up (tools/list) stays fast.
let execaModule: Promise<typeof import('execa')> | undefined;
const loadExeca = () => {
  execaModule ??= import('execa');
  return execaModule;
};

export type StartOptions = Options & {
  /** May survive ray-mcp's exit (--on-exit=keep, or auto for a busy cluster): stopAll can leave it running. */
  keep?: boolean;
};

export class ProcessRegistry {
  private readonly live = new Set<ResultPromise>();
  private readonly kept = new WeakSet<ResultPromise>();

  constructor(
    private readonly env: Record<string, string>,
    private readonly log: Logger,
  ) {}

  /**
   * Starts a process in its own process group and tracks it until it exits. The child is wrapped:
   * it is a thenable, and awaiting it directly would wait for its exit.
   */
  async start(
    file: string,
    args: readonly string[],
    startOptions: StartOptions = {},
  ): Promise<{ child: ResultPromise }> {
    const { keep, ...options } = startOptions;
    const { execa } = await loadExeca();
    const child = execa(file, args, {
      env: this.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      detached: true,
      // Our own group kill below replaces execa's single-pid kill on timeout and cancel.
      forceKillAfterDelay: false,
      ...options,
    });
    this.live.add(child);
    if (keep) {
      this.kept.add(child);
      // Let Node exit without waiting for it.
      child.unref();
    }
    this.log.debug({ pid: child.pid, file, args }, 'process started');
    const done = () => {
      this.live.delete(child);
      // The leader is gone; make sure nothing it started outlives it either.
      if (child.pid && !this.kept.has(child)) signalGroup(child.pid, 'SIGKILL');
    };
    child.then(done, done);
    return { child };
  }

  /** Runs a short command with a hard timeout; never throws, never hangs. */
  async probe(
    file: string,
    args: readonly string[],
    opts: { timeoutMs: number; signal?: AbortSignal; env?: Record<string, string> },
  ): Promise<ProbeResult> {
    const { child } = await this.start(file, args, {
      cancelSignal: opts.signal,
      stripFinalNewline: true,
      maxBuffer: 1_000_000,
      ...(opts.env ? { env: { ...this.env, ...opts.env } } : {}),
    });
    const timer = setTimeout(() => child.pid && signalGroup(child.pid, 'SIGKILL'), opts.timeoutMs);
    const res = await child;
    clearTimeout(timer);
    const timedOut = res.signal === 'SIGKILL' && !res.isCanceled;
    const notFound = res.failed && res.exitCode === undefined && res.signal === undefined && !res.isCanceled;
    return {
      ok: !res.failed,
      notFound,
      timedOut,
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

  /** SIGTERM every live child's group, then SIGKILL what is left after `graceMs`. */
  /** Stops every live child but the kept ones (`keepKept`: which kept ones stay; default all). */
  async stopAll(graceMs: number, keepKept: (pid: number | undefined) => boolean = () => true): Promise<void> {
    const children = [...this.live].filter((c) => !(this.kept.has(c) && keepKept(c.pid)));
    if (children.length === 0) return;
    this.log.info({ count: children.length }, 'stopping child processes');
    for (const c of children) if (c.pid) signalGroup(c.pid, 'SIGTERM');
    const settled = Promise.allSettled(children);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), graceMs);
    });
    const outcome = await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      for (const c of children) if (c.pid) signalGroup(c.pid, 'SIGKILL');
      await settled;
    }
  }
}

/** Signals the process group led by `pid`; a group that is already gone is fine. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
