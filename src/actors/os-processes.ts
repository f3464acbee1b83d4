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

export async function listOsProcesses(): Promise<OsProcess[]> {
  if (process.platform === 'linux') {
    const out: OsProcess[] = [];
    for (const entry of await readdir('/proc')) {
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
    return out;
  }
  return new Promise((resolve) => {
    execFile('ps', ['-axo', 'pid=,pgid=,command='], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return resolve([]);
      resolve(
        stdout
          .split('\n')
          .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), cmdline: m[3]! })),
      );
    });
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
