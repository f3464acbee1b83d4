/** /proc readers for tests that prove nothing was left running. Linux only, like CI. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parens: the fields after the last ')' are safe.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (after[0] === 'Z') continue; // a zombie holds no resources; its parent reaps it
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      out.push({ pid: Number(entry), ppid: Number(after[1]), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every live descendant of `pid`. */
export function descendants(pid: number): ProcInfo[] {
  const all = listProcesses();
  const result: ProcInfo[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const parent = frontier.pop()!;
    for (const p of all) {
      if (p.ppid === parent) {
        result.push(p);
        frontier.push(p.pid);
      }
    }
  }
  return result;
}

export function isAlive(pid: number): boolean {
  return listProcesses().some((p) => p.pid === pid);
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
