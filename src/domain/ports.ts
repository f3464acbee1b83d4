/** Port bookkeeping, pure: which ports a lease holds and where the next free run starts. */

/** A contiguous run of `size` ports; size 1 is a single port. */
export interface PortBlock {
  name: string;
  size: number;
}

export interface PortRange {
  from: number;
  to: number;
}

export interface Lease {
  owner: string;
  /** The first port of each block, by block name. */
  ports: Record<string, number>;
  blocks: PortBlock[];
}

export function leasedPorts(lease: Lease): number[] {
  const out: number[] = [];
  for (const b of lease.blocks) {
    const first = lease.ports[b.name];
    if (first === undefined) continue;
    for (let p = first; p < first + b.size; p++) out.push(p);
  }
  return out;
}

/** Every port held by any lease. */
export function takenPorts(leases: Iterable<Lease>): Set<number> {
  const taken = new Set<number>();
  for (const l of leases) for (const p of leasedPorts(l)) taken.add(p);
  return taken;
}

/**
 * The first port `p >= start` (wrapping once around the range) such that p..p+size-1 lies in the
 * range and none of it is in `avoid`; undefined when there is none.
 */
export function nextFreeRun(
  avoid: ReadonlySet<number>,
  range: PortRange,
  size: number,
  start: number,
): number | undefined {
  const span = range.to - range.from + 1;
  if (size < 1 || size > span) return undefined;
  const offset0 = Math.min(Math.max(start, range.from), range.to) - range.from;
  for (let i = 0; i < span; i++) {
    const p = range.from + ((offset0 + i) % span);
    if (p + size - 1 > range.to) continue;
    let ok = true;
    for (let q = p; q < p + size; q++) {
      if (avoid.has(q)) {
        ok = false;
        break;
      }
    }
    if (ok) return p;
  }
  return undefined;
}

/** Whether a lease key belongs to `owner` (the owner itself or `owner/...`). */
export const ownedBy = (key: string, owner: string) => key === owner || key.startsWith(`${owner}/`);
