import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { findFreePorts } from '../../src/actors/ports.actor.js';
import type { Answer } from '../../src/domain/commands.js';
import { RayMcpError } from '../../src/domain/errors.js';
import {
  type Lease,
  leasedPorts,
  nextFreeRun,
  type PortBlock,
  type PortRange,
} from '../../src/domain/ports.js';
import { HEAD_BLOCKS, WORKER_BLOCKS } from '../../src/domain/ray-start.js';
import {
  type FindPortsInput,
  type FindPortsOutput,
  portAllocatorMachine,
} from '../../src/machines/port-allocator.machine.js';
import { type CommandOf, type Driven, drive } from '../helpers/machine.js';

// ---------------------------------------------------------------------------------------------
// Helpers

type Probe = (port: number) => Promise<boolean>;

/** An in-memory stand-in for bind(): ports in `foreign` are held by some unrelated program. */
function memoryProbe(foreign: Iterable<number> = []) {
  const busy = new Set(foreign);
  const calls: number[] = [];
  const probe: Probe = async (port) => {
    calls.push(port);
    return !busy.has(port);
  };
  return { probe, calls, busy };
}

const portsOf = (start: number, size: number) => Array.from({ length: size }, (_, i) => start + i);

/** Every port the search hands out, block by block. */
function allocated(blocks: PortBlock[], ports: Record<string, number>): number[][] {
  return blocks.map((b) => portsOf(ports[b.name]!, b.size));
}

/** The order nextFreeRun promises: from the clamped start, wrapping once around the range. */
function referenceRun(avoid: ReadonlySet<number>, range: PortRange, size: number, start: number) {
  const span = range.to - range.from + 1;
  if (size < 1 || size > span) return undefined;
  const first = Math.min(Math.max(start, range.from), range.to);
  for (let i = 0; i < span; i++) {
    const p = range.from + ((first - range.from + i) % span);
    if (p + size - 1 > range.to) continue;
    if (portsOf(p, size).every((q) => !avoid.has(q))) return p;
  }
  return undefined;
}

/** A range, with a start somewhere around it and a subset of its ports to avoid. */
const rangeAndAvoid = fc
  .record({ from: fc.integer({ min: 1024, max: 60_000 }), span: fc.integer({ min: 1, max: 120 }) })
  .chain(({ from, span }) =>
    fc.record({
      range: fc.constant({ from, to: from + span - 1 }),
      avoid: fc.uniqueArray(fc.integer({ min: from, max: from + span - 1 }), { maxLength: span }),
      start: fc.integer({ min: from - 20, max: from + span + 20 }),
      size: fc.integer({ min: 1, max: Math.min(span + 2, 40) }),
    }),
  );

/** A search request: blocks, a range, ports already leased (`taken`) and ports foreign programs hold. */
const searchCase = fc
  .record({
    from: fc.integer({ min: 1024, max: 60_000 }),
    span: fc.integer({ min: 10, max: 300 }),
    sizes: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
  })
  .chain(({ from, span, sizes }) => {
    const port = fc.integer({ min: from, max: from + span - 1 });
    return fc.record({
      range: fc.constant({ from, to: from + span - 1 }),
      blocks: fc.constant(sizes.map((size, i) => ({ name: `block${i}`, size }))),
      taken: fc.uniqueArray(port, { maxLength: Math.floor(span / 2) }),
      foreign: fc.uniqueArray(port, { maxLength: Math.floor(span / 3) }),
      cursor: port,
    });
  });

// ---------------------------------------------------------------------------------------------

describe('nextFreeRun', () => {
  it('returns the first free run from the start, wrapping once, inside the range', () => {
    fc.assert(
      fc.property(rangeAndAvoid, ({ range, avoid, start, size }) => {
        const avoidSet = new Set(avoid);
        const got = nextFreeRun(avoidSet, range, size, start);
        expect(got).toBe(referenceRun(avoidSet, range, size, start));
        if (got === undefined) return;
        expect(got).toBeGreaterThanOrEqual(range.from);
        expect(got + size - 1).toBeLessThanOrEqual(range.to);
        for (const p of portsOf(got, size)) expect(avoidSet.has(p)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('is undefined exactly when no run of that size fits around the avoided ports', () => {
    fc.assert(
      fc.property(rangeAndAvoid, ({ range, avoid, start, size }) => {
        const avoidSet = new Set(avoid);
        const fits = portsOf(range.from, range.to - range.from + 1).some(
          (p) => p + size - 1 <= range.to && portsOf(p, size).every((q) => !avoidSet.has(q)),
        );
        expect(nextFreeRun(avoidSet, range, size, start) !== undefined).toBe(fits);
      }),
      { numRuns: 500 },
    );
  });

  it('handles the edges: a block as wide as the range, wider, or empty', () => {
    const range = { from: 100, to: 109 };
    expect(nextFreeRun(new Set(), range, 10, 105)).toBe(100);
    expect(nextFreeRun(new Set(), range, 11, 100)).toBeUndefined();
    expect(nextFreeRun(new Set(), range, 0, 100)).toBeUndefined();
    // A run that would cross the top of the range wraps to the bottom instead.
    expect(nextFreeRun(new Set(), range, 3, 108)).toBe(100);
    expect(nextFreeRun(new Set([100, 101]), range, 3, 108)).toBe(102);
  });
});

describe('findFreePorts', () => {
  it('hands out contiguous, disjoint blocks inside the range, avoiding leased and foreign-busy ports', async () => {
    await fc.assert(
      fc.asyncProperty(searchCase, async ({ range, blocks, taken, foreign, cursor }) => {
        const { probe, calls } = memoryProbe(foreign);
        const input: FindPortsInput = { blocks, taken, range, cursor };
        let out: FindPortsOutput;
        try {
          out = await findFreePorts(input, probe);
        } catch (err) {
          // Only a genuinely exhausted range may fail, and it says so.
          expect(err).toBeInstanceOf(RayMcpError);
          expect((err as RayMcpError).code).toBe('unavailable');
          return;
        }
        expect(Object.keys(out.ports).sort()).toEqual(blocks.map((b) => b.name).sort());
        const leased = new Set(taken);
        const held = new Set(foreign);
        const inRange = (p: number) => p >= range.from && p <= range.to;
        const seen = new Set<number>();
        const bad: string[] = [];
        for (const run of allocated(blocks, out.ports)) {
          for (const p of run) {
            if (!inRange(p)) bad.push(`${p} is outside the range`);
            if (leased.has(p)) bad.push(`${p} is leased already`);
            if (held.has(p)) bad.push(`${p} is held by another program`);
            // No two blocks of one request share a port.
            if (seen.has(p)) bad.push(`${p} is in two blocks`);
            seen.add(p);
          }
        }
        // Leased ports are never even probed, and nothing outside the range is.
        for (const p of calls) if (leased.has(p) || !inRange(p)) bad.push(`${p} was probed`);
        expect(bad).toEqual([]);
        expect(inRange(out.cursor)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('fails only when the named block really has no room left, with a fix naming --port-range', async () => {
    await fc.assert(
      fc.asyncProperty(searchCase, async ({ range, blocks, taken, foreign, cursor }) => {
        const input: FindPortsInput = { blocks, taken, range, cursor };
        const err = await findFreePorts(input, memoryProbe(foreign).probe).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err === undefined) return;
        expect(err).toBeInstanceOf(RayMcpError);
        const e = err as RayMcpError;
        expect(e.code).toBe('unavailable');
        expect(e.fix).toMatch(/--port-range/);
        expect(e.message).toContain(`${range.from}-${range.to}`);
        const failed = blocks.findIndex((b) => e.message.endsWith(`for ${b.name}.`));
        expect(failed).toBeGreaterThanOrEqual(0);
        const block = blocks[failed]!;
        expect(e.message).toMatch(block.size === 1 ? /No free port left/ : `run of ${block.size} free ports`);
        // The blocks before it fit (the search is deterministic); after them, and with every
        // foreign-busy port known, there is indeed no run of the failed block's size.
        const before = await findFreePorts(
          { ...input, blocks: blocks.slice(0, failed) },
          memoryProbe(foreign).probe,
        );
        const avoid = new Set([
          ...taken,
          ...foreign,
          ...allocated(blocks.slice(0, failed), before.ports).flat(),
        ]);
        expect(nextFreeRun(avoid, range, block.size, range.from)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('skips a foreign-busy port in the middle of a run and looks past it', async () => {
    const { probe } = memoryProbe([30_003]);
    const out = await findFreePorts(
      {
        blocks: [
          { name: 'a', size: 1 },
          { name: 'workers', size: 5 },
        ],
        taken: [],
        range: { from: 30_000, to: 30_099 },
        cursor: 30_000,
      },
      probe,
    );
    // a=30000; 30001..30005 holds the busy 30003, so the run starts after it.
    expect(out.ports).toEqual({ a: 30_000, workers: 30_004 });
    expect(out.cursor).toBe(30_009);
  });

  it('throws unavailable, naming the block, when the range is exhausted', async () => {
    const range = { from: 30_000, to: 30_009 };
    const tooBig = findFreePorts(
      { blocks: [{ name: 'workers', size: 11 }], taken: [], range, cursor: 30_000 },
      memoryProbe().probe,
    );
    await expect(tooBig).rejects.toBeInstanceOf(RayMcpError);
    await expect(tooBig).rejects.toMatchObject({
      code: 'unavailable',
      message: 'No run of 11 free ports left in 30000-30009 for workers.',
      fix: expect.stringContaining('--port-range'),
    });

    // Every port leased or held by someone else: a single port cannot be found either.
    const full = findFreePorts(
      { blocks: [{ name: 'gcs', size: 1 }], taken: portsOf(30_000, 5), range, cursor: 30_000 },
      memoryProbe(portsOf(30_005, 5)).probe,
    );
    await expect(full).rejects.toMatchObject({
      code: 'unavailable',
      message: 'No free port left in 30000-30009 for gcs.',
      fix: expect.stringContaining('--port-range'),
    });
  });
});

// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The allocator with the real search over an in-memory probe. With `jitter`, each search first
 * waits a random 0-2 ms and yields between probes, so the requests interleave with new commands.
 */
function allocator(range: PortRange, foreign: Iterable<number> = [], jitter = false) {
  const mem = memoryProbe(foreign);
  let searches = 0;
  const probe: Probe = async (port) => {
    if (jitter) await Promise.resolve();
    return mem.probe(port);
  };
  const machine = portAllocatorMachine.provide({
    actors: {
      findFreePorts: fromPromise<FindPortsOutput, FindPortsInput>(async ({ input }) => {
        searches++;
        if (jitter) await sleep(Math.floor(Math.random() * 3));
        return findFreePorts(input, probe);
      }),
    },
  });
  return { ...drive(machine, { input: { range } }), mem, searches: () => searches };
}

type Allocator = Driven<typeof portAllocatorMachine>;

/** Sends commands without waiting; resolves with their answers, in the order sent, each given once. */
async function send(t: Allocator, commands: CommandOf<typeof portAllocatorMachine>[]): Promise<Answer[]> {
  const ids = commands.map((c) => t.send(c));
  const answers = await Promise.all(ids.map((id) => t.answered(id)));
  for (const id of ids) expect(t.answers.filter((a) => a.requestId === id)).toHaveLength(1);
  return answers;
}

const leasesOf = (t: Allocator) => t.context().leases;

function expectDisjoint(leases: Lease[]) {
  const owners = new Map<number, string>();
  for (const lease of leases) {
    for (const p of leasedPorts(lease)) {
      expect(owners.get(p), `port ${p} leased by ${owners.get(p)} and ${lease.owner}`).toBeUndefined();
      owners.set(p, lease.owner);
    }
  }
  return owners;
}

describe('port allocator machine', () => {
  it('serves 20 concurrent head reservations with no port in two leases', async () => {
    const range = { from: 20_000, to: 24_999 };
    const foreign = [20_000, 20_004, 20_150, 21_111, 22_000, 22_001, 23_500];
    const t = allocator(range, foreign, true);
    const owners = Array.from({ length: 20 }, (_, i) => `cluster:c${i}/head`);

    const answers = await send(
      t,
      owners.map((owner) => ({ type: 'ports.reserve', owner, blocks: HEAD_BLOCKS })),
    );

    expect(answers.every((a) => a.ok)).toBe(true);
    const leases = Object.values(leasesOf(t));
    expect(leases.map((l) => l.owner).sort()).toEqual([...owners].sort());
    const used = expectDisjoint(leases);
    const perHead = HEAD_BLOCKS.reduce((n, b) => n + b.size, 0);
    expect(used.size).toBe(20 * perHead);
    for (const p of used.keys()) {
      expect(foreign).not.toContain(p);
      expect(p).toBeGreaterThanOrEqual(range.from);
      expect(p).toBeLessThanOrEqual(range.to);
    }
    expect(t.context().queue).toEqual([]);
    expect(t.state()).toBe('idle');
  });

  it('keeps leases disjoint for any mix of concurrent reservations (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
        fc.uniqueArray(fc.integer({ min: 25_000, max: 26_999 }), { maxLength: 40 }),
        async (heads, foreign) => {
          const t = allocator({ from: 25_000, to: 26_999 }, foreign);
          const answers = await send(
            t,
            heads.map((head, i) => ({
              type: 'ports.reserve',
              owner: `cluster:p/n${i}`,
              blocks: head ? HEAD_BLOCKS : WORKER_BLOCKS,
            })),
          );
          expect(answers.every((a) => a.ok)).toBe(true);
          const used = expectDisjoint(Object.values(leasesOf(t)));
          for (const p of foreign) expect(used.has(p)).toBe(false);
          t.actor.stop();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('release frees an owner and its sub-leases only, and the ports can be handed out again', async () => {
    // Room for exactly three blocks of 10.
    const t = allocator({ from: 40_000, to: 40_029 });
    const ten = (name: string): PortBlock[] => [{ name, size: 10 }];
    const first = await send(t, [
      { type: 'ports.reserve', owner: 'cluster:a/head', blocks: ten('x') },
      { type: 'ports.reserve', owner: 'cluster:a', blocks: ten('x') },
      { type: 'ports.reserve', owner: 'cluster:ab/head', blocks: ten('x') },
    ]);
    expect(first.every((a) => a.ok)).toBe(true);
    const freed = [...leasedPorts(leasesOf(t)['cluster:a/head']!), ...leasedPorts(leasesOf(t)['cluster:a']!)];

    const [full] = await send(t, [{ type: 'ports.reserve', owner: 'cluster:c', blocks: ten('x') }]);
    expect(full).toMatchObject({ ok: false, error: { code: 'unavailable' } });

    const [released] = await send(t, [{ type: 'ports.release', owner: 'cluster:a' }]);
    expect(released).toEqual({ type: 'answer', requestId: released!.requestId, ok: true });
    // `cluster:ab` merely starts with the same letters: it is not owned by `cluster:a`.
    expect(Object.keys(leasesOf(t))).toEqual(['cluster:ab/head']);

    const again = await send(t, [
      { type: 'ports.reserve', owner: 'cluster:c', blocks: ten('x') },
      { type: 'ports.reserve', owner: 'cluster:d/head', blocks: ten('x') },
    ]);
    expect(again.every((a) => a.ok)).toBe(true);
    const reused = [
      ...leasedPorts(leasesOf(t)['cluster:c']!),
      ...leasedPorts(leasesOf(t)['cluster:d/head']!),
    ];
    expect(reused.sort()).toEqual(freed.sort());
    expectDisjoint(Object.values(leasesOf(t)));
  });

  it('release of an unknown owner is answered ok and changes nothing', async () => {
    const t = allocator({ from: 40_000, to: 40_099 });
    await send(t, [{ type: 'ports.reserve', owner: 'cluster:a/head', blocks: [{ name: 'gcs', size: 1 }] }]);
    const [a] = await send(t, [{ type: 'ports.release', owner: 'cluster:zzz' }]);
    expect(a!.ok).toBe(true);
    expect(Object.keys(leasesOf(t))).toEqual(['cluster:a/head']);
  });

  it('adopt registers a lease without probing, and later reservations avoid it', async () => {
    const t = allocator({ from: 40_000, to: 40_019 });
    const adopted: Lease = {
      owner: 'cluster:old/head',
      ports: { gcs: 40_005, workers: 40_016 },
      blocks: [
        { name: 'gcs', size: 1 },
        { name: 'workers', size: 3 },
      ],
    };
    const [a] = await send(t, [{ type: 'ports.adopt', lease: adopted }]);
    expect(a!.ok).toBe(true);
    expect(t.mem.calls).toEqual([]);
    expect(t.searches()).toBe(0);
    expect(leasesOf(t)['cluster:old/head']).toEqual(adopted);

    const [b] = await send(t, [
      { type: 'ports.reserve', owner: 'cluster:new/head', blocks: [{ name: 'run', size: 10 }] },
    ]);
    expect(b!.ok).toBe(true);
    // 40000-40009 holds the adopted 40005: the first free run of 10 starts right after it.
    expect(leasesOf(t)['cluster:new/head']!.ports).toEqual({ run: 40_006 });
    expect(t.mem.calls).not.toContain(40_005);
    expectDisjoint(Object.values(leasesOf(t)));
  });

  it('answers a reservation the range cannot hold with an error, and keeps serving the queue', async () => {
    const t = allocator({ from: 40_000, to: 40_004 });
    const answers = await send(t, [
      { type: 'ports.reserve', owner: 'cluster:big/head', blocks: HEAD_BLOCKS },
      { type: 'ports.reserve', owner: 'cluster:s/one', blocks: [{ name: 'gcs', size: 1 }] },
      { type: 'ports.reserve', owner: 'cluster:s/two', blocks: [{ name: 'pair', size: 2 }] },
    ]);
    expect(answers[0]).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        message: expect.stringMatching(/No free port left in 40000-40004 for agentGrpc\./),
        fix: expect.stringContaining('--port-range'),
      },
    });
    expect(answers[1]!.ok).toBe(true);
    expect(answers[2]!.ok).toBe(true);
    // A failed reservation holds nothing.
    expect(Object.keys(leasesOf(t)).sort()).toEqual(['cluster:s/one', 'cluster:s/two']);
    expectDisjoint(Object.values(leasesOf(t)));
    expect(t.state()).toBe('idle');
  });

  // An adopt applied while a search is under way: the search did not know those ports, so its
  // result is checked against the leases again and, on a clash, searched anew.
  it('never lets an adopt that arrives during a search overlap the reservation', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const machine = portAllocatorMachine.provide({
      actors: {
        findFreePorts: fromPromise<FindPortsOutput, FindPortsInput>(async ({ input }) => {
          await gate;
          return findFreePorts(input, memoryProbe().probe);
        }),
      },
    });
    const t = drive(machine, { input: { range: { from: 40_000, to: 40_099 } } });
    const answers = send(t, [
      { type: 'ports.reserve', owner: 'cluster:new/head', blocks: [{ name: 'run', size: 5 }] },
      {
        type: 'ports.adopt',
        lease: { owner: 'cluster:old/head', ports: { gcs: 40_002 }, blocks: [{ name: 'gcs', size: 1 }] },
      },
    ]);
    open();
    await answers;
    expectDisjoint(Object.values(leasesOf(t)));
  });

  it('moves the cursor on, so a released port rests before it is handed out again', async () => {
    const t = allocator({ from: 40_000, to: 40_099 });
    const one = (owner: string) => ({
      type: 'ports.reserve' as const,
      owner,
      blocks: [{ name: 'p', size: 1 }],
    });
    await send(t, [one('a')]);
    expect(leasesOf(t).a!.ports.p).toBe(40_000);
    await send(t, [{ type: 'ports.release', owner: 'a' }]);
    await send(t, [one('b')]);
    expect(leasesOf(t).b!.ports.p).toBe(40_001);
  });
});
