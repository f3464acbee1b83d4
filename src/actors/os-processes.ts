/**
 * What the OS says about processes, for stopping exactly our own and proving nothing is left.
 * Linux reads /proc; elsewhere `ps` (argument array) stands in.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface OsProcess {
  pid: number;
  pgid: number;
  cmdline: string;
}

/**
 * The process table could not be read: nothing is known about any process. Never read this as
 * "no processes" — a cluster would look dead and its files would be deleted.
 */
export class ProcessTableUnknown extends Error {
  constructor(cause: unknown) {
    super(`the process table could not be read (${(cause as Error)?.message ?? String(cause)})`);
    this.name = 'ProcessTableUnknown';
  }
}

export interface ProcessTableSource {
  /** `proc` reads /proc (Linux); `ps` runs the given ps. */
  kind: 'proc' | 'ps';
  ps?: string;
}

const DEFAULT_SOURCE: ProcessTableSource =
  process.platform === 'linux' ? { kind: 'proc' } : { kind: 'ps', ps: 'ps' };

/** Every process, or a ProcessTableUnknown rejection. */
export async function listOsProcesses(source: ProcessTableSource = DEFAULT_SOURCE): Promise<OsProcess[]> {
  if (source.kind === 'proc') {
    const out: OsProcess[] = [];
    let entries: string[];
    try {
      entries = await readdir('/proc');
    } catch (err) {
      throw new ProcessTableUnknown(err);
    }
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (fields[0] === 'Z') continue;
        const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ').trim();
        out.push({ pid: Number(entry), pgid: Number(fields[2]), cmdline });
      } catch {
        // exited meanwhile
      }
    }
    // We are in the table ourselves: an empty one is a failed read, not an empty machine.
    if (!out.length) throw new ProcessTableUnknown(new Error('/proc listed no process'));
    return out;
  }
  return new Promise((resolve, reject) => {
    execFile(
      source.ps ?? 'ps',
      ['-axo', 'pid=,pgid=,command='],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout) => {
        if (err) return reject(new ProcessTableUnknown(err));
        const rows = stdout
          .split('\n')
          .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null);
        // ps always lists at least itself and us: an empty table is a failed read, not an empty machine.
        if (!rows.length) return reject(new ProcessTableUnknown(new Error('ps listed no process')));
        resolve(rows.map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), cmdline: m[3]! })));
      },
    );
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Processes whose command line mentions `marker` (a cluster's own temp dir). */
export async function processesMentioning(marker: string): Promise<OsProcess[]> {
  return (await listOsProcesses()).filter((p) => p.pid !== process.pid && p.cmdline.includes(marker));
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export async function waitUntilGone(pids: number[], timeoutMs: number, intervalMs = 100): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(pidAlive);
  while (alive.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    alive = alive.filter(pidAlive);
  }
  return alive;
}
