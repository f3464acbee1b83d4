import { NEVER, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromCallback, fromEventObservable, fromPromise } from 'xstate';
import type { LocalClusterSpec } from '../../src/domain/cluster.js';
import type {
  ClusterDetails,
  ClusterHealth,
  LocalClusterRecord,
  NodeRecord,
  RayEndpoints,
  RayHealthEvent,
} from '../../src/domain/cluster-record.js';
import type { DashboardTarget } from '../../src/domain/dashboard.js';
import { RayMcpError } from '../../src/domain/errors.js';
import {
  type LocalClusterActor,
  type LocalClusterEvent,
  type LocalClusterInput,
  localClusterMachine,
  type NodeProcessInput,
  type NodesJoined,
  type PrepareOutput,
  recordStatusOf,
  type StepReporter,
  type StopNodesInput,
  type StopNodesOutput,
  statusOf,
} from '../../src/machines/local-cluster.machine.js';
import { deferred, drive, ok, settle } from '../helpers/machine.js';

// ---------------------------------------------------------------------------------------------
// Fakes for every invoked actor: nothing here touches the OS, Ray or the network.

const TEMP = '/tmp/fake-ray/c1-x';
const RAY: RayEndpoints = {
  version: '2.99.0',
  sessionName: 'session_fake',
  dashboardUrl: 'http://127.0.0.1:28265',
  gcsAddress: '127.0.0.1:26379',
  clientAddress: 'ray://127.0.0.1:20001',
};
/** When the fake Ray reports the nodes joined: the cluster's startedAt. */
const JOINED_AT = 1_700_000_000_000;

const portsFor = (names: string[], base: number) =>
  Object.fromEntries(names.map((name, i) => [name, { gcs: base + i * 10, workers: base + i * 10 + 1 }]));

interface FakeOptions {
  /** Replaces prepareLaunch's result (default: resolves at once). */
  prepare?: (input: { clusterId: string; nodes: string[] }) => Promise<PrepareOutput>;
  waitForHead?: (input: { report?: StepReporter }) => Promise<RayEndpoints>;
  /** Replaces checkAlive (default: the cluster is alive). */
  checkAlive?: () => Promise<boolean>;
  reservePorts?: (input: {
    clusterId: string;
    nodes: string[];
  }) => Promise<Record<string, Record<string, number>>>;
  /** Called with every stopNodes input before it resolves. */
  onStop?: (input: StopNodesInput) => void | Promise<void>;
  health?: RayHealthEvent[];
}

function fakes(opts: FakeOptions = {}) {
  const calls = {
    prepare: [] as { clusterId: string; nodes: string[] }[],
    spawned: [] as NodeProcessInput[],
    /** Node processes whose actor was stopped (its cleanup ran). */
    cleanedUp: [] as string[],
    waitForNodes: [] as string[][],
    stopNodes: [] as StopNodesInput[],
    adoptPorts: [] as NodeRecord[][],
    reservePorts: [] as string[][],
    pick: [] as { candidates: { name: string; nodeId?: string }[]; count: number }[],
    checkAlive: 0,
  };
  let pid = 4000;
  const logic = localClusterMachine.provide({
    actors: {
      prepareLaunch: fromPromise<PrepareOutput, { clusterId: string; nodes: string[]; rayBin?: string }>(
        async ({ input }) => {
          calls.prepare.push(input);
          if (opts.prepare) return opts.prepare(input);
          return { rayBin: '/fake/bin/ray', tempDir: TEMP, ports: portsFor(input.nodes, 26_000) };
        },
      ),
      checkAlive: fromPromise<boolean, { tempDir?: string; nodes: NodeRecord[] }>(async () => {
        calls.checkAlive++;
        return opts.checkAlive ? opts.checkAlive() : true;
      }),
      adoptPorts: fromPromise<void, { clusterId: string; nodes: NodeRecord[] }>(async ({ input }) => {
        calls.adoptPorts.push(input.nodes);
      }),
      reservePorts: fromPromise<
        Record<string, Record<string, number>>,
        { clusterId: string; nodes: string[] }
      >(async ({ input }) => {
        calls.reservePorts.push(input.nodes);
        if (opts.reservePorts) return opts.reservePorts(input);
        return portsFor(input.nodes, 27_000);
      }),
      nodeProcess: fromCallback<LocalClusterEvent, NodeProcessInput>(({ input, sendBack }) => {
        calls.spawned.push(input);
        // A started process reports itself; an adopted one is only watched.
        if (input.adoptPid === undefined)
          sendBack({ type: 'node.launched', node: input.node.name, pid: ++pid });
        return () => {
          calls.cleanedUp.push(input.node.name);
        };
      }),
      waitForHead: fromPromise<
        RayEndpoints,
        { tempDir: string; ports: Record<string, number>; owner: string; report?: StepReporter }
      >(async ({ input }) => (opts.waitForHead ? opts.waitForHead(input) : RAY)),
      waitForNodes: fromPromise<NodesJoined, { dashboard: DashboardTarget; names: string[] }>(
        async ({ input }) => {
          calls.waitForNodes.push(input.names);
          return { nodeIds: Object.fromEntries(input.names.map((n) => [n, `node-id-${n}`])), at: JOINED_AT };
        },
      ),
      pickWorkersToRemove: fromPromise<
        string[],
        { dashboard: DashboardTarget; candidates: { name: string; nodeId?: string }[]; count: number }
      >(async ({ input }) => {
        calls.pick.push({ candidates: input.candidates, count: input.count });
        return input.candidates.slice(-input.count).map((c) => c.name);
      }),
      stopNodes: fromPromise<StopNodesOutput, StopNodesInput>(async ({ input }) => {
        calls.stopNodes.push(input);
        await opts.onStop?.(input);
        return { headExcerpt: input.headLog ? `last words of ${input.headLog}` : undefined };
      }),
      describeCluster: fromPromise<ClusterDetails, { dashboard: DashboardTarget }>(async () => ({
        fetchedAt: 1,
        nodes: [],
        usage: { CPU: { used: 1, total: 4 } },
        jobs: { RUNNING: 1 },
      })),
      healthWatcher: fromEventObservable<RayHealthEvent, { dashboard: DashboardTarget }>(() =>
        opts.health ? of(...opts.health) : NEVER,
      ),
    },
  });
  return { logic, calls };
}

const SPEC: LocalClusterSpec = {
  head: { num_cpus: 1 },
  workers: [{ nodeType: 'cpu', count: 2, resources: { num_cpus: 1 } }],
};

/**
 * The cluster actor under a parent: the machine tells its parent `cluster.stopped`, as it tells
 * the supervisor in the real system.
 */
function start(opts: FakeOptions & { input?: Partial<LocalClusterInput> } = {}) {
  const { logic, calls } = fakes(opts);
  const input: LocalClusterInput = { id: 'c1', spec: SPEC, timeoutMs: 10_000, createdAt: 1, ...opts.input };
  const t = drive(logic, { input, parent: true, stateOf: statusOf });
  /** The clusters the parent was told stopped. */
  const stoppedTold = () => t.toParent.filter((e) => e.type === 'cluster.stopped').map((e) => e.clusterId);
  return { ...t, calls, stoppedTold };
}

// ---------------------------------------------------------------------------------------------

describe('local cluster machine: start', () => {
  it('goes starting → up (running), launching the head before the workers, and answers awaitReady', async () => {
    const t = start();
    expect(t.state()).toBe('starting');
    const early = t.send({ type: 'cluster.awaitReady' });
    expect(t.answerTo(early)).toBeUndefined();

    await t.until((s) => s.matches('up'));
    expect(t.state()).toBe('running');
    expect(t.answerTo(early)).toEqual(ok(early));

    // Once up, awaitReady is answered at once.
    const late = t.send({ type: 'cluster.awaitReady' });
    expect(t.answerTo(late)).toEqual(ok(late));

    const ctx = t.snapshot().context;
    expect(t.calls.prepare).toEqual([{ clusterId: 'c1', nodes: ['head', 'cpu-1', 'cpu-2'] }]);
    expect(t.calls.spawned.map((s) => s.node.name)).toEqual(['head', 'cpu-1', 'cpu-2']);
    // The head starts before Ray is known; workers get the head's endpoints and their own ports.
    expect(t.calls.spawned[0]!.ray).toBeUndefined();
    for (const s of t.calls.spawned.slice(1)) {
      expect(s.ray).toEqual(RAY);
      expect(s.node.ports).toEqual(ctx.nodes[s.node.name]!.ports);
      expect(s.rayBin).toBe('/fake/bin/ray');
      expect(s.tempDir).toBe(TEMP);
    }
    expect(t.calls.waitForNodes).toEqual([['head', 'cpu-1', 'cpu-2']]);
    expect(ctx.ray).toEqual(RAY);
    expect(ctx.startedAt).toBe(JOINED_AT);
    expect(ctx.counters).toEqual({ cpu: 2 });
    for (const name of ['head', 'cpu-1', 'cpu-2']) {
      expect(ctx.nodes[name]).toMatchObject({
        state: 'up',
        nodeId: `node-id-${name}`,
        pid: expect.any(Number),
        logFile: `${TEMP}/${name}.log`,
      });
    }
  });

  it('records what the health watcher reports', async () => {
    const health: ClusterHealth = { ok: true, checkedAt: 5, nodes: [] };
    const t = start({ health: [{ type: 'ray.health', health }] });
    await t.until((s) => s.matches('up'));
    await settle();
    expect(t.snapshot().context.health).toEqual(health);
  });

  it('answers describe with fresh details while up', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    const a = await t.ask({ type: 'cluster.describe' });
    expect(a.ok).toBe(true);
    expect(t.snapshot().context.details?.jobs).toEqual({ RUNNING: 1 });
  });

  it('answers a describe while up once, after the fetch, never at once from the root handler', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    const id = t.send({ type: 'cluster.describe' });
    expect(t.answerTo(id)).toBeUndefined();
    await t.until((s) => s.context.details !== undefined);
    await settle();
    expect(t.answers.filter((x) => x.requestId === id)).toHaveLength(1);
  });

  it('refuses to scale while starting, with code conflict', async () => {
    const head = deferred<RayEndpoints>();
    const t = start({ waitForHead: () => head.promise });
    await t.until((s) => s.matches({ starting: 'launchingHead' }));
    const id = t.send({ type: 'cluster.scale', nodeType: 'cpu', workers: 4 });
    expect(t.answerTo(id)).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringContaining('c1 is starting') },
    });
    expect(t.state()).toBe('starting');
    head.resolve(RAY);
    await t.until((s) => s.matches('up'));
  });

  it('ends failed when prepareLaunch fails, and awaitReady answers with that error', async () => {
    const failure = new RayMcpError('ray_missing', 'No Ray CLI found.', 'Run npm run setup.');
    const t = start({ prepare: async () => Promise.reject(failure) });
    const ready = t.send({ type: 'cluster.awaitReady' });
    await t.until((s) => s.matches('failed'));

    expect(t.state()).toBe('failed');
    expect(t.answerTo(ready)).toEqual({
      type: 'answer',
      requestId: ready,
      ok: false,
      error: failure.toInfo(),
    });
    expect(t.snapshot().context.error).toEqual(failure.toInfo());
    // Whatever was reserved is given back; logs (the temp dir) are kept.
    expect(t.calls.stopNodes).toHaveLength(1);
    expect(t.calls.stopNodes[0]).toMatchObject({ release: ['cluster:c1'], removeTempDir: false });
    expect(t.calls.spawned).toEqual([]);
  });

  it('fails with a timeout error when the cluster is not usable in time', async () => {
    const t = start({ waitForHead: () => new Promise(() => {}), input: { timeoutMs: 20 } });
    const ready = t.send({ type: 'cluster.awaitReady' });
    await t.until((s) => s.matches('failed'));
    expect(t.answerTo(ready)).toMatchObject({ ok: false, error: { code: 'timeout' } });
    // The head that was launched is among the nodes stopped.
    expect(t.calls.stopNodes[0]!.nodes.map((n) => n.name)).toContain('head');
    // With no exit to explain the timeout, the report carries what the head printed.
    expect(t.snapshot().context.error?.excerpt).toMatch(/^last words of .*head\.log$/);
  });

  it('a start that times out names the readiness step not reached, and keeps its logs until a stop', async () => {
    const t = start({
      waitForHead: async ({ report }) => {
        // The dashboard came up and is ours; the job API never answers.
        report?.send({ type: 'start.step', step: 'session' });
        report?.send({ type: 'start.step', step: 'jobApi' });
        return new Promise(() => {});
      },
      input: { timeoutMs: 50 },
    });
    const ready = t.send({ type: 'cluster.awaitReady' });
    await t.until((s) => s.matches('failed'));
    const answer = t.answerTo(ready);
    expect(answer).toMatchObject({
      ok: false,
      error: {
        code: 'timeout',
        step: 'jobApi',
        logDir: TEMP,
        message: expect.stringMatching(/not usable within 0 s: "job API answers" was not reached/),
        fix: expect.stringContaining(`The logs are kept in ${TEMP} until you stop the cluster`),
      },
    });
    expect(t.state()).toBe('failed');
    // Failing stops the processes but keeps the temp dir; only the user's stop removes it.
    expect(t.calls.stopNodes.map((c) => c.removeTempDir)).toEqual([false]);
    await t.ask({ type: 'cluster.stop' });
    expect(t.calls.stopNodes.map((c) => c.removeTempDir)).toEqual([false, true]);
  });

  it('a start that times out while workers join says which have not', async () => {
    const { logic, calls } = fakes();
    const slow = logic.provide({
      actors: {
        waitForNodes: fromPromise<
          NodesJoined,
          { dashboard: DashboardTarget; names: string[]; report?: StepReporter }
        >(async ({ input }) => {
          input.report?.send({
            type: 'start.step',
            step: 'workers',
            detail: '1 of 2 ALIVE; waiting for cpu-2',
          });
          return new Promise(() => {});
        }),
      },
    });
    const t = drive(slow, {
      input: { id: 'c1', spec: SPEC, timeoutMs: 50, createdAt: 1 },
      parent: true,
      stateOf: statusOf,
    });
    await t.until((s) => s.matches('failed'));
    expect(t.snapshot().context.error).toMatchObject({
      step: 'workers',
      message: expect.stringContaining(
        '"every worker node ALIVE" was not reached (1 of 2 ALIVE; waiting for cpu-2)',
      ),
    });
    expect(calls.stopNodes).toHaveLength(1);
  });

  it('a head that exits while starting fails the start with its exit and excerpt', async () => {
    const head = deferred<RayEndpoints>();
    const t = start({ waitForHead: () => head.promise });
    const ready = t.send({ type: 'cluster.awaitReady' });
    await t.until((s) => s.matches({ starting: 'launchingHead' }));
    t.actor.send({ type: 'node.exited', node: 'head', exit: 'exit code 1', excerpt: 'port in use' });
    await t.until((s) => s.matches('failed'));
    expect(t.answerTo(ready)).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        message: expect.stringMatching(/head node.*exit code 1/),
        excerpt: 'port in use',
      },
    });
  });

  it('a stop while starting goes to stopped, and a pending awaitReady is told why', async () => {
    const head = deferred<RayEndpoints>();
    const t = start({ waitForHead: () => head.promise });
    const ready = t.send({ type: 'cluster.awaitReady' });
    await t.until((s) => s.matches({ starting: 'launchingHead' }));
    const stop = await t.ask({ type: 'cluster.stop' });
    expect(stop.ok).toBe(true);
    expect(t.state()).toBe('stopped');
    expect(t.answerTo(ready)).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringContaining('stopped before it became ready') },
    });
    expect(t.calls.stopNodes[0]).toMatchObject({
      release: ['cluster:c1'],
      removeTempDir: true,
      tempDir: TEMP,
    });
    expect(t.calls.cleanedUp).toContain('head');
  });
});

describe('local cluster machine: up', () => {
  it('a head exit while up ends failed, with an error naming the head and its exit', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    t.actor.send({ type: 'node.exited', node: 'head', exit: 'killed by SIGKILL', excerpt: 'OOM' });
    await t.until((s) => s.matches('failed'));

    expect(t.state()).toBe('failed');
    const { error, nodes } = t.snapshot().context;
    expect(error).toMatchObject({ code: 'unavailable', excerpt: 'OOM' });
    expect(error!.message).toMatch(/head node/i);
    expect(error!.message).toContain('killed by SIGKILL');
    expect(nodes.head).toMatchObject({ state: 'exited', exit: 'killed by SIGKILL' });
    // The workers still running are stopped (the dead head is not signalled again).
    expect(t.calls.stopNodes[0]!.nodes.map((n) => n.name).sort()).toEqual(['cpu-1', 'cpu-2']);
    // With the head gone nothing can drain: the grace is short.
    expect(t.calls.stopNodes[0]).toMatchObject({
      release: ['cluster:c1'],
      removeTempDir: false,
      graceMs: 2000,
    });
    expect([...t.calls.cleanedUp].sort()).toEqual(['cpu-1', 'cpu-2', 'head']);

    // A failed cluster can still be stopped; that answers ok and removes the temp dir.
    const stop = await t.ask({ type: 'cluster.stop' });
    expect(stop.ok).toBe(true);
    expect(t.state()).toBe('stopped');
    expect(t.calls.stopNodes.at(-1)).toMatchObject({ removeTempDir: true });
  });

  // An awaitReady that arrives once the cluster has failed must get the failure at once, not wait
  // out the tool's timeout.
  it('answers awaitReady on a failed cluster at once, with the failure', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    t.actor.send({ type: 'node.exited', node: 'head', exit: 'exit code 1' });
    await t.until((s) => s.matches('failed'));
    const ready = t.send({ type: 'cluster.awaitReady' });
    await settle();
    expect(t.answerTo(ready)).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('a worker exit degrades the cluster; scaling that type back up makes it running again', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    t.actor.send({ type: 'node.exited', node: 'cpu-2', exit: 'exit code 137' });
    expect(t.state()).toBe('degraded');
    expect(t.snapshot().context.nodes['cpu-2']).toMatchObject({
      state: 'exited',
      exit: 'exit code 137',
    });
    // A degraded cluster is still usable.
    const ready = t.send({ type: 'cluster.awaitReady' });
    expect(t.answerTo(ready)).toEqual(ok(ready));

    const scaled = await t.ask({ type: 'cluster.scale', nodeType: 'cpu', workers: 2 });
    expect(scaled).toEqual(ok(scaled.requestId));
    expect(t.state()).toBe('running');

    const { nodes, counters, scale } = t.snapshot().context;
    // The dead worker is replaced by a new one with a fresh name, ports and process.
    expect(Object.keys(nodes).sort()).toEqual(['cpu-1', 'cpu-3', 'head']);
    expect(nodes['cpu-3']).toMatchObject({
      state: 'up',
      nodeId: 'node-id-cpu-3',
      nodeType: 'cpu',
      resources: { num_cpus: 1 },
      ports: portsFor(['cpu-3'], 27_000)['cpu-3'],
      logFile: `${TEMP}/cpu-3.log`,
    });
    expect(counters).toEqual({ cpu: 3 });
    expect(scale).toBeUndefined();
    expect(t.calls.reservePorts).toEqual([['cpu-3']]);
    expect(t.calls.waitForNodes.at(-1)).toEqual(['cpu-3']);
    expect(t.calls.spawned.at(-1)).toMatchObject({ node: { name: 'cpu-3' }, ray: RAY });
  });

  it('scales a new node type up with the given resources, and to the same size answers at once', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    const same = t.send({ type: 'cluster.scale', nodeType: 'cpu', workers: 2 });
    expect(t.answerTo(same)).toEqual(ok(same));

    const a = await t.ask({ type: 'cluster.scale', nodeType: 'gpu', workers: 2, resources: { num_gpus: 1 } });
    expect(a.ok).toBe(true);
    const { nodes } = t.snapshot().context;
    expect(nodes['gpu-1']).toMatchObject({ state: 'up', nodeType: 'gpu', resources: { num_gpus: 1 } });
    expect(nodes['gpu-2']).toMatchObject({ state: 'up', nodeType: 'gpu', resources: { num_gpus: 1 } });
    expect(t.state()).toBe('running');
  });

  it('refuses a second scale while one is under way', async () => {
    const ports = deferred<Record<string, Record<string, number>>>();
    const t = start({ reservePorts: () => ports.promise });
    await t.until((s) => s.matches('up'));
    const first = t.ask({ type: 'cluster.scale', nodeType: 'cpu', workers: 3 });
    const second = t.send({ type: 'cluster.scale', nodeType: 'cpu', workers: 5 });
    expect(t.answerTo(second)).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringContaining('already scaling') },
    });
    ports.resolve(portsFor(['cpu-3'], 27_000));
    expect((await first).ok).toBe(true);
    expect(Object.keys(t.snapshot().context.nodes)).toHaveLength(4);
  });

  it('a failed port reservation fails the scale and drops the planned nodes', async () => {
    const t = start({
      reservePorts: async () => {
        throw new RayMcpError('unavailable', 'No run of 100 free ports left.', 'widen --port-range');
      },
    });
    await t.until((s) => s.matches('up'));
    const a = await t.ask({ type: 'cluster.scale', nodeType: 'cpu', workers: 3 });
    expect(a).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(Object.keys(t.snapshot().context.nodes).sort()).toEqual(['cpu-1', 'cpu-2', 'head']);
    expect(t.state()).toBe('running');
  });

  it('scales down by stopping the chosen workers; their exits are not faults', async () => {
    let cluster: LocalClusterActor | undefined;
    const t = start({
      onStop: (input) => {
        // The removed node's process ends while it is being stopped.
        if (!input.removeTempDir)
          for (const n of input.nodes)
            cluster?.send({ type: 'node.exited', node: n.name, exit: 'exit code 0' });
      },
    });
    cluster = t.actor;
    await t.until((s) => s.matches('up'));
    const a = await t.ask({ type: 'cluster.scale', nodeType: 'cpu', workers: 1 });
    expect(a.ok).toBe(true);
    expect(t.calls.pick).toEqual([
      {
        candidates: [
          { name: 'cpu-1', nodeId: 'node-id-cpu-1' },
          { name: 'cpu-2', nodeId: 'node-id-cpu-2' },
        ],
        count: 1,
      },
    ]);
    expect(t.calls.stopNodes).toEqual([
      {
        clusterId: 'c1',
        nodes: [{ name: 'cpu-2', role: 'worker', pid: expect.any(Number) }],
        release: ['cluster:c1/cpu-2'],
        removeTempDir: false,
        graceMs: 15_000,
      },
    ]);
    expect(Object.keys(t.snapshot().context.nodes).sort()).toEqual(['cpu-1', 'head']);
    expect(t.calls.cleanedUp).toEqual(['cpu-2']);
    expect(t.state()).toBe('running');
  });

  it('stop while up → stopped and answers ok; a second stop answers ok again', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    const first = await t.ask({ type: 'cluster.stop' });
    expect(first).toEqual(ok(first.requestId));
    expect(t.state()).toBe('stopped');

    expect(t.calls.stopNodes).toHaveLength(1);
    const stop = t.calls.stopNodes[0]!;
    expect(stop).toMatchObject({
      clusterId: 'c1',
      tempDir: TEMP,
      release: ['cluster:c1'],
      removeTempDir: true,
    });
    expect(stop.nodes.map((n) => [n.name, n.role]).sort()).toEqual([
      ['cpu-1', 'worker'],
      ['cpu-2', 'worker'],
      ['head', 'head'],
    ]);
    expect(stop.nodes.every((n) => typeof n.pid === 'number')).toBe(true);
    expect([...t.calls.cleanedUp].sort()).toEqual(['cpu-1', 'cpu-2', 'head']);
    // The parent hears about it once.
    expect(t.stoppedTold()).toEqual(['c1']);

    const second = t.send({ type: 'cluster.stop' });
    expect(t.answerTo(second)).toEqual(ok(second));
    expect(t.calls.stopNodes).toHaveLength(1);
    expect(t.stoppedTold()).toEqual(['c1']);
  });

  it('concurrent stops are all answered once the cluster is stopped', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    const [a, b] = await Promise.all([t.ask({ type: 'cluster.stop' }), t.ask({ type: 'cluster.stop' })]);
    expect(a!.ok && b!.ok).toBe(true);
    expect(t.calls.stopNodes).toHaveLength(1);
  });

  it('cluster.shutdown from the supervisor stops it like a stop', async () => {
    const t = start();
    await t.until((s) => s.matches('up'));
    t.actor.send({ type: 'cluster.shutdown' });
    await t.until((s) => s.matches('stopped'));
    expect(t.stoppedTold()).toEqual(['c1']);
  });
});

describe('local cluster machine: adoption', () => {
  const nodes: NodeRecord[] = [
    {
      name: 'head',
      nodeType: 'head',
      role: 'head',
      resources: { num_cpus: 1 },
      logFile: `${TEMP}/head.log`,
      state: 'up',
      pid: 111,
      ports: { gcs: 26_000 },
      nodeId: 'h',
    },
    {
      name: 'cpu-1',
      nodeType: 'cpu',
      role: 'worker',
      resources: { num_cpus: 1 },
      logFile: `${TEMP}/cpu-1.log`,
      state: 'up',
      pid: 222,
      ports: { workers: 26_010 },
      nodeId: 'w1',
    },
    {
      name: 'cpu-2',
      nodeType: 'cpu',
      role: 'worker',
      resources: { num_cpus: 1 },
      logFile: `${TEMP}/cpu-2.log`,
      state: 'exited',
      exit: 'exit code 1',
    },
  ];
  const record: LocalClusterRecord = {
    id: 'old',
    kind: 'local',
    status: 'running',
    spec: SPEC,
    createdAt: 7,
    startedAt: 8,
    tempDir: TEMP,
    rayBin: '/fake/bin/ray',
    ray: RAY,
    nodes,
    counters: { cpu: 2 },
  };

  it('a dead cluster from the state file reads stopped at once (never current), is cleaned up by its temp dir, with a note', async () => {
    const cleanup = deferred<void>();
    const t = start({ input: { id: 'old', adopt: { record, alive: false } }, onStop: () => cleanup.promise });
    await t.until((s) => s.matches('reaping'));
    // Still cleaning up, already stopped for every reader (and so never the current cluster).
    expect(t.state()).toBe('stopped');
    cleanup.resolve();
    await t.until((s) => s.matches('stopped'));
    expect(t.state()).toBe('stopped');
    const ctx = t.snapshot().context;
    expect(ctx.adopted).toBe('dead');
    expect(ctx.note).toMatch(/exited while ray-mcp was not running/);
    expect(ctx.createdAt).toBe(7);
    expect(t.calls.prepare).toEqual([]);
    expect(t.calls.adoptPorts).toEqual([]);
    expect(t.calls.spawned).toEqual([]);
    expect(t.calls.stopNodes).toEqual([
      {
        clusterId: 'old',
        // Its pids may be strangers' by now: only what mentions its temp dir is killed.
        nodes: [],
        tempDir: TEMP,
        release: ['cluster:old'],
        removeTempDir: true,
        graceMs: 2000,
        headLog: `${TEMP}/head.log`,
      },
    ]);
    expect(t.stoppedTold()).toEqual(['old']);
    const stop = t.send({ type: 'cluster.stop' });
    expect(t.answerTo(stop)).toEqual(ok(stop));
  });

  it('a dead cluster whose cleanup fails still ends stopped, and the note says so', async () => {
    const t = start({
      input: { id: 'old', adopt: { record, alive: false } },
      onStop: async () => {
        throw new Error('EPERM');
      },
    });
    await t.until((s) => s.matches('stopped'));
    expect(t.snapshot().context.note).toMatch(/^Cleanup was incomplete: .*EPERM.* Its processes exited/);
  });

  it('a process table that cannot be read is unknown, never dead: nothing is touched, stop is refused, the check is repeated', async () => {
    let reads = 0;
    const t = start({
      input: { id: 'old', adopt: { record } },
      checkAlive: async () => {
        reads++;
        if (reads === 1) throw new Error('the process table could not be read (spawn ps EAGAIN)');
        return true;
      },
    });
    await t.until((s) => s.matches('unsure'));
    expect(t.snapshot().context.note).toMatch(
      /Whether its processes still run is unknown: .*EAGAIN.*Nothing was touched/,
    );
    // The state file keeps what it said: running, not starting nor stopped.
    expect(recordStatusOf(t.snapshot())).toBe('running');
    const stop = await t.ask({ type: 'cluster.stop' });
    expect(stop).toMatchObject({
      ok: false,
      error: { code: 'unavailable', message: expect.stringMatching(/cannot be stopped yet/) },
    });
    expect(t.calls.stopNodes).toEqual([]);
    // Checked again after the backoff: alive, adopted.
    await t.until((s) => s.matches('up'), 5000);
    expect(t.calls.checkAlive).toBe(2);
    expect(t.calls.stopNodes).toEqual([]);
    expect(t.snapshot().context.note).toBeUndefined();
  });

  it('a cluster recorded as failed comes back failed with its error and logs; only a stop removes them', async () => {
    const error = {
      code: 'timeout' as const,
      message: 'Cluster old was not usable within 120 s: "job API answers" was not reached.',
      fix: 'Try again.',
      step: 'jobApi' as const,
      logDir: TEMP,
      excerpt: 'last words',
    };
    const t = start({ input: { id: 'old', adopt: { record: { ...record, status: 'failed', error } } } });
    await t.until((s) => s.matches('failed'));
    expect(t.snapshot().context.error).toMatchObject(error);
    expect(t.calls.stopNodes.map((c) => [c.nodes, c.removeTempDir])).toEqual([[[], false]]);
    await t.ask({ type: 'cluster.stop' });
    expect(t.calls.stopNodes.map((c) => c.removeTempDir)).toEqual([false, true]);
  });

  it('a live cluster from the state file is adopted: ports re-registered, processes watched, up', async () => {
    const t = start({ input: { id: 'old', adopt: { record, alive: true } } });
    await t.until((s) => s.matches('up'));
    expect(t.state()).toBe('degraded'); // cpu-2 had exited
    expect(t.calls.prepare).toEqual([]);
    expect(t.calls.adoptPorts).toEqual([nodes]);
    expect(t.calls.spawned.map((s) => [s.node.name, s.adoptPid])).toEqual([
      ['head', 111],
      ['cpu-1', 222],
    ]);
    const ready = t.send({ type: 'cluster.awaitReady' });
    expect(t.answerTo(ready)).toEqual(ok(ready));
  });
});

describe('local cluster: status of every state', () => {
  it('maps each top-level state to the status users see (a state it forgets would read as stopped, and be dropped from the state file)', async () => {
    const { localClusterMachine: m, statusOf: status } = await import(
      '../../src/machines/local-cluster.machine.js'
    );
    const expected: Record<string, string> = {
      init: 'starting',
      checkingAlive: 'starting',
      unsure: 'starting',
      reaping: 'stopped',
      adopting: 'starting',
      starting: 'starting',
      up: 'running',
      failing: 'failed',
      failed: 'failed',
      stopping: 'stopping',
      stopped: 'stopped',
    };
    expect(Object.keys(m.root.states).sort()).toEqual(Object.keys(expected).sort());
    for (const [state, want] of Object.entries(expected))
      expect(status({ matches: (s: unknown) => s === state }), state).toBe(want);
  });
});
