/** Waiting for something to end, with progress for the caller on every change and a heartbeat. */
import { RayMcpError } from '../../domain/errors.js';
import type { Ops } from './ops.js';

/** A heartbeat keeps clients that reset their timeout on progress from giving up. */
const HEARTBEAT_MS = 5000;

/**
 * Runs `until` (an ask answered when the thing ends) for at most `timeoutMs`, telling the caller
 * `status()` whenever it changes and every few seconds. A timeout is no error: `ended` is false.
 */
export async function waitWithProgress(
  ops: Ops,
  timeoutMs: number,
  status: () => string,
  until: (options: { timeoutMs: number; onSnapshot: () => void }) => Promise<unknown>,
): Promise<{ ended: boolean; waitedSeconds: number }> {
  const started = ops.now();
  const total = Math.round(timeoutMs / 1000);
  // Without a progressToken the call answers within its budget; the thing goes on.
  timeoutMs = ops.budget(timeoutMs);
  const tell = () => {
    const secs = Math.round((ops.now() - started) / 1000);
    ops.progress(secs, total, `${status()} (waited ${secs} s)`);
  };
  let last = status();
  const onSnapshot = () => {
    const now = status();
    if (now === last) return;
    last = now;
    tell();
  };
  tell();
  const heartbeat = setInterval(tell, HEARTBEAT_MS);
  let ended = true;
  try {
    await until({ timeoutMs, onSnapshot });
  } catch (err) {
    if (!(err instanceof RayMcpError && err.code === 'timeout') || ops.signal.aborted) throw err;
    ended = false;
  } finally {
    clearInterval(heartbeat);
  }
  return { ended, waitedSeconds: Math.round((ops.now() - started) / 100) / 10 };
}
