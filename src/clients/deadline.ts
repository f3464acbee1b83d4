/**
 * Timeouts that fire. `AbortSignal.timeout()` is held only weakly by its timer, and on Node 20
 * both `AbortSignal.any()` and fetch's signal following can lose it to garbage collection, so a
 * request to a server that never answers could wait forever. Here a plain timer holds the
 * controller until `done()`.
 */
import { request } from 'node:http';

export interface Deadline {
  signal: AbortSignal;
  /** True once the time ran out (rather than the caller's signal aborting). */
  expired(): boolean;
  /** Clears the timer and the link to the caller's signal; call it when the work is over. */
  done(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError'));
  }, ms);
  const onAbort = () => ac.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    expired: () => timedOut,
    done() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * One plain-HTTP request to a metadata server (GCE, EC2) that answers within `timeoutMs` or not
 * at all: resolves with the status and headers, or undefined on any failure or when time is up.
 * Never rejects, never outlives its timeout.
 */
export function probeHttp(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> } | undefined> {
  return new Promise((resolve) => {
    const d = deadline(opts.timeoutMs, opts.signal);
    let settled = false;
    const finish = (
      v: { status: number; headers: Record<string, string | string[] | undefined> } | undefined,
    ) => {
      if (settled) return;
      settled = true;
      d.done();
      req.destroy();
      resolve(v);
    };
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, signal: d.signal },
      (res) => {
        res.resume();
        finish({ status: res.statusCode ?? 0, headers: res.headers });
      },
    );
    req.on('error', () => finish(undefined));
    d.signal.addEventListener('abort', () => finish(undefined), { once: true });
    req.end();
  });
}
