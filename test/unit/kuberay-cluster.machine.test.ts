/**
 * The KubeRay cluster machine driven by events. The API calls (apply, scale patch, delete) are
 * fakes the test controls; the informer facts (k8s.rayCluster, k8s.pods, kube.link) are sent as
 * its connection would send them; the connection itself is a callback actor that records the
 * track and untrack it hears.
 */
import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { RayMcpError } from '../../src/domain/errors.js';
import type { KubeRayClusterSpec, PodSummary, RayClusterSummary } from '../../src/domain/kuberay.js';
import { type KubeTrackEvent, kubeSystemId } from '../../src/machines/kube-connection.machine.js';
import {
  clusterIsReady,
  type KubeRayClusterInput,
  kuberayClusterMachine,
  kuberayStatusOf,
  type ScaleRequest,
} from '../../src/machines/kuberay-cluster.machine.js';
import { deferred, drive, ok, recorder, settle } from '../helpers/machine.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: RayCluster ns/rc1 with one worker group `cpu` of two replicas.

const CONN = 'conn';

const SPEC: KubeRayClusterSpec = {
  namespace: 'ns',
  name: 'rc1',
  rayVersion: '2.60.0',
  image: 'rayproject/ray:2.60.0-py311',
  head: {},
  workerGroups: [{ name: 'cpu', replicas: 2, minReplicas: 0, maxReplicas: 2, resources: {} }],
  serviceType: 'ClusterIP',
};

const cr = (extra: Partial<RayClusterSummary> = {}, replicas = 2, maxReplicas = 2): RayClusterSummary => ({
  namespace: 'ns',
  name: 'rc1',
  uid: 'uid-rc1',
  generation: 1,
  managedByUs: true,
  desiredWorkers: replicas,
  readyWorkers: 0,
  availableWorkers: 0,
  headServiceName: 'rc1-head-svc',
  headReady: false,
  conditions: [],
  groups: [{ name: 'cpu', replicas, minReplicas: 0, maxReplicas, workersToDelete: [] }],
  deleting: false,
  ...extra,
});

/** When the fixture pods got ready, as Kubernetes would record it. */
const READY_AT = 1_700_000_000_000;

const head = (extra: Partial<PodSummary> = {}): PodSummary => ({
  namespace: 'ns',
  name: 'rc1-head',
  cluster: 'rc1',
  group: 'headgroup',
  nodeType: 'head',
  phase: 'Running',
  ready: true,
  readyAt: READY_AT,
  restarts: 0,
  deleting: false,
  ...extra,
});
const worker = (n: number, extra: Partial<PodSummary> = {}): PodSummary =>
  head({ name: `rc1-worker-${n}`, group: 'cpu', nodeType: 'worker', ...extra });

// ---------------------------------------------------------------------------------------------
// The cluster runs under a parent that hears `cluster.stopped` (as the supervisor does), next to a
// stand-in for its connection, registered as `kube:conn`, that records what it is told.

type PatchInput = {
  connectionId: string;
  namespace: string;
  name: string;
  cr: RayClusterSummary;
  scale: ScaleRequest;
};

interface Options {
  input?: Partial<KubeRayClusterInput>;
  apply?: () => Promise<RayClusterSummary>;
  /** Resolves with the RayCluster's generation after the patch. */
  patch?: (input: PatchInput) => Promise<number>;
  delete?: () => Promise<void>;
  delays?: { scaleTimeout?: number; deleteTimeout?: number };
}

function start(opts: Options = {}) {
  const calls = { apply: 0, patch: [] as PatchInput[], delete: [] as unknown[] };
  const connection = recorder<KubeTrackEvent>();
  const logic = kuberayClusterMachine.provide({
    actors: {
      applyRayCluster: fromPromise<RayClusterSummary, { connectionId: string; spec: KubeRayClusterSpec }>(
        async ({ input }) => {
          expect(input).toEqual({ connectionId: CONN, spec: SPEC });
          calls.apply++;
          return opts.apply ? opts.apply() : cr();
        },
      ),
      patchScale: fromPromise<number, PatchInput>(async ({ input }) => {
        calls.patch.push(input);
        return opts.patch ? opts.patch(input) : input.cr.generation + 1;
      }),
      deleteRayCluster: fromPromise<void, { connectionId: string; namespace: string; name: string }>(
        async ({ input }) => {
          calls.delete.push(input);
          await opts.delete?.();
        },
      ),
    },
    delays: { ...opts.delays },
  });
  const input: KubeRayClusterInput = {
    id: 'rc1',
    connectionId: CONN,
    namespace: 'ns',
    name: 'rc1',
    spec: SPEC,
    owned: true,
    createdAt: 1,
    timeoutMs: 10_000,
    ...opts.input,
  };
  const t = drive(logic, {
    input,
    parent: { siblings: { connection: { logic: connection.logic, systemId: kubeSystemId(CONN) } } },
    stateOf: kuberayStatusOf,
  });
  const sees = (summary: RayClusterSummary) => t.actor.send({ type: 'k8s.rayCluster', summary });
  const pods = (...list: PodSummary[]) => t.actor.send({ type: 'k8s.pods', pods: list });
  /** The clusters the parent was told stopped. */
  const stoppedTold = () => t.toParent.filter((e) => e.type === 'cluster.stopped').map((e) => e.clusterId);
  return { ...t, calls, heardByConnection: connection.heard, sees, pods, stoppedTold };
}

/** An owned cluster, applied and running with its head and two workers. */
async function running(opts: Options = {}) {
  const t = start(opts);
  await t.until((s) => s.matches('starting'));
  t.pods(head(), worker(1), worker(2));
  expect(t.state()).toBe('running');
  return t;
}

// ---------------------------------------------------------------------------------------------

describe('kuberay cluster: start', () => {
  it('applies the spec, then is running once the head and every worker are ready', async () => {
    const apply = deferred<RayClusterSummary>();
    const t = start({ apply: () => apply.promise });
    expect(t.snapshot().value).toBe('applying');
    expect(t.state()).toBe('starting');
    expect(t.heardByConnection).toEqual([
      { type: 'kube.track', namespace: 'ns', name: 'rc1', systemId: 'cluster:rc1' },
    ]);
    const waiting = t.send({ type: 'cluster.awaitReady' });

    apply.resolve(cr());
    await t.until((s) => s.matches('starting'));
    expect(t.context()).toMatchObject({ applied: true, cr: cr() });
    t.pods(head({ ready: false }), worker(1), worker(2));
    t.pods(head(), worker(1), worker(2, { ready: false }));
    expect(t.snapshot().value).toBe('starting');
    expect(t.answerTo(waiting)).toBeUndefined();

    t.pods(head(), worker(1), worker(2, { readyAt: READY_AT + 5000 }));
    expect(t.snapshot().matches({ up: { health: 'running', ops: 'idle' } })).toBe(true);
    expect(t.state()).toBe('running');
    expect(t.answerTo(waiting)).toEqual(ok(waiting));
    // Up since the last of its pods got ready.
    expect(t.context().startedAt).toBe(READY_AT + 5000);
    const now = t.send({ type: 'cluster.awaitReady' });
    expect(t.answerTo(now)).toEqual(ok(now));
  });

  it('keeps a RayCluster the watch reported before its apply answered', async () => {
    const apply = deferred<RayClusterSummary>();
    const t = start({ apply: () => apply.promise });
    t.sees(cr({ generation: 2, state: 'ready' }));
    apply.resolve(cr());
    await t.until((s) => s.matches('starting'));
    expect(t.context().cr).toEqual(cr({ generation: 2, state: 'ready' }));
  });

  it('ready: the head and as many ready workers as the groups ask for, none being deleted', () => {
    const ready = (c: RayClusterSummary | undefined, ...pods: PodSummary[]) =>
      clusterIsReady({ cr: c, pods });
    expect(ready(cr(), head(), worker(1), worker(2))).toBe(true);
    expect(ready(cr(), head(), worker(1), worker(2), worker(3))).toBe(true);
    expect(ready(undefined, head(), worker(1), worker(2))).toBe(false);
    expect(ready(cr({ deleting: true }), head(), worker(1), worker(2))).toBe(false);
    expect(ready(cr(), worker(1), worker(2))).toBe(false);
    expect(ready(cr(), head({ ready: false }), worker(1), worker(2))).toBe(false);
    expect(ready(cr(), head({ deleting: true }), worker(1), worker(2))).toBe(false);
    expect(ready(cr(), head(), worker(1))).toBe(false);
    expect(ready(cr(), head(), worker(1), worker(2, { deleting: true }))).toBe(false);
    expect(ready(cr(), head(), worker(1), worker(2, { ready: false }))).toBe(false);
    expect(ready(cr({}, 0), head())).toBe(true);
  });

  it('attaches to a RayCluster it was not given a spec for', () => {
    const t = start({ input: { spec: undefined, owned: false } });
    expect(t.snapshot().value).toBe('starting');
    expect(t.calls.apply).toBe(0);
    // Gone before it was ever seen: nothing to conclude yet.
    t.actor.send({ type: 'k8s.rayClusterGone' });
    expect(t.snapshot().value).toBe('starting');
    t.sees(cr({ managedByUs: false }));
    t.pods(head(), worker(1), worker(2));
    expect(t.state()).toBe('running');
    expect(t.context().applied).toBe(false);
  });

  it('a RayCluster deleted outside ray-mcp while starting stops the cluster, with a note', async () => {
    const t = start();
    await t.until((s) => s.matches('starting'));
    const waiting = t.send({ type: 'cluster.awaitReady' });
    t.actor.send({ type: 'k8s.rayClusterGone' });
    expect(t.state()).toBe('stopped');
    expect(t.context().note).toBe('RayCluster ns/rc1 was deleted outside ray-mcp.');
    expect(t.answerTo(waiting)).toEqual(ok(waiting));
    expect(t.stoppedTold()).toEqual(['rc1']);
  });

  it('a refused apply fails with its error, and deletes nothing', async () => {
    const refused = new RayMcpError('not_found', 'Namespace ns does not exist.', 'Create it.');
    const t = start({ apply: async () => Promise.reject(refused) });
    const waiting = t.send({ type: 'cluster.awaitReady' });
    expect(await t.answered(waiting)).toEqual({
      type: 'answer',
      requestId: waiting,
      ok: false,
      error: refused.toInfo(),
    });
    expect(t.state()).toBe('failed');
    expect(t.snapshot().matches({ failed: 'done' })).toBe(true);
    expect(t.calls.delete).toEqual([]);
    const later = t.send({ type: 'cluster.awaitReady' });
    expect(t.answerTo(later)).toEqual({
      type: 'answer',
      requestId: later,
      ok: false,
      error: refused.toInfo(),
    });
  });

  it('a start timeout fails with the pod reasons, and deletes the RayCluster it created', async () => {
    const t = start({ input: { timeoutMs: 30 } });
    const waiting = t.send({ type: 'cluster.awaitReady' });
    await t.until((s) => s.matches('starting'));
    t.sees(cr({ state: 'suspended' }));
    t.pods(
      head(),
      worker(1, {
        phase: 'Pending',
        ready: false,
        reason: 'Unschedulable',
        message: '0/3 nodes: Insufficient cpu.',
      }),
      worker(2, {
        phase: 'Pending',
        ready: false,
        reason: 'Unschedulable',
        message: '0/3 nodes: Insufficient cpu.',
      }),
    );
    const answer = await t.answered(waiting);
    expect(t.state()).toBe('failed');
    expect(answer).toEqual({
      type: 'answer',
      requestId: waiting,
      ok: false,
      error: {
        code: 'timeout',
        message:
          'RayCluster ns/rc1 was not ready within 0 s (state suspended). Pods: rc1-worker-1, rc1-worker-2: Pending/Unschedulable (0/3 nodes: Insufficient cpu.)',
        fix: expect.stringContaining('Unschedulable'),
      },
    });
    await t.until((s) => s.matches({ failed: 'done' }));
    expect(t.calls.delete).toEqual([{ connectionId: CONN, namespace: 'ns', name: 'rc1', uid: 'uid-rc1' }]);

    // Failed is kept until a stop, which succeeds: the start's failure was the start's answer.
    const stop = t.send({ type: 'cluster.stop' });
    expect(t.answerTo(stop)).toMatchObject({ ok: true });
    expect(t.state()).toBe('stopped');
    expect(t.snapshot().context.error).toBeUndefined();
  });

  it('a stop while a failed start is still deleting what it made waits for the delete, then succeeds', async () => {
    const gate = deferred<void>();
    const t = start({ input: { timeoutMs: 30 }, delete: () => gate.promise });
    const waiting = t.send({ type: 'cluster.awaitReady' });
    await t.until((s) => s.matches('starting'));
    t.sees(cr({ state: 'suspended' }));
    expect(await t.answered(waiting)).toMatchObject({ ok: false, error: { code: 'timeout' } });
    await t.until((s) => s.matches({ failed: 'cleaning' }));
    const stop = t.send({ type: 'cluster.stop' });
    await settle();
    expect(t.answerTo(stop)).toBeUndefined();
    gate.resolve();
    expect(await t.answered(stop)).toMatchObject({ ok: true });
    expect(t.state()).toBe('stopped');
  });

  it('an attached cluster that times out is left alone, and the reason says what is missing', async () => {
    const never = start({ input: { spec: undefined, owned: false, timeoutMs: 20 } });
    await never.until((s) => s.matches('failed'));
    expect(never.context().error?.message).toBe(
      'RayCluster ns/rc1 was not ready within 0 s (the KubeRay operator never reported on it: is it running?).',
    );

    const noPods = start({ input: { spec: undefined, owned: false, timeoutMs: 20 } });
    noPods.sees(cr());
    await noPods.until((s) => s.matches('failed'));
    expect(noPods.context().error?.message).toBe(
      'RayCluster ns/rc1 was not ready within 0 s. No pods were created.',
    );
    await settle();
    expect(never.calls.delete).toEqual([]);
    expect(noPods.calls.delete).toEqual([]);
  });
});

describe('kuberay cluster: health', () => {
  it('is degraded while the link is lost or a pod is not ready, and running again once healthy', async () => {
    const t = await running();
    t.actor.send({ type: 'kube.link', state: 'lost', message: 'connect ECONNREFUSED' });
    expect(t.state()).toBe('degraded');
    expect(t.context()).toMatchObject({ link: 'lost', linkMessage: 'connect ECONNREFUSED' });
    t.actor.send({ type: 'kube.link', state: 'connected', server: 'https://api:6443', context: 'kind-x' });
    expect(t.state()).toBe('running');
    expect(t.context()).toMatchObject({
      link: 'connected',
      server: 'https://api:6443',
      kubeContext: 'kind-x',
    });

    t.pods(head(), worker(1), worker(2, { ready: false, restarts: 1 }));
    expect(t.state()).toBe('degraded');
    t.pods(head(), worker(1), worker(2));
    expect(t.state()).toBe('running');
  });

  it('a RayCluster deleted outside ray-mcp while up stops the cluster, with a note', async () => {
    const t = await running();
    t.actor.send({ type: 'k8s.rayClusterGone' });
    expect(t.state()).toBe('stopped');
    expect(t.context().note).toBe('RayCluster ns/rc1 was deleted outside ray-mcp.');
    expect(t.heardByConnection.at(-1)).toEqual({ type: 'kube.untrack', namespace: 'ns', name: 'rc1' });
  });
});

describe('kuberay cluster: scale', () => {
  it('patches, converges, and answers once the group has the replicas and its pods are ready', async () => {
    const patch = deferred<number>();
    const t = await running({ patch: () => patch.promise });
    const scale = t.send({ type: 'cluster.scale', scale: { group: 'cpu', replicas: 3 } });
    expect(t.snapshot().matches({ up: { ops: 'patching' } })).toBe(true);
    expect(t.calls.patch).toMatchObject([
      { connectionId: CONN, namespace: 'ns', name: 'rc1', cr: cr(), scale: { group: 'cpu', replicas: 3 } },
    ]);
    const busy = t.send({ type: 'cluster.scale', scale: { group: 'cpu', replicas: 5 } });
    expect(t.answerTo(busy)).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: 'Cluster rc1 is scaling worker group cpu.' },
    });

    patch.resolve(2);
    await t.until((s) => s.matches({ up: { ops: 'converging' } }));
    expect(t.context().scaleTarget).toEqual({ group: 'cpu', replicas: 3, replicasAfter: 3, generation: 2 });
    t.actor.send({ type: 'cluster.scale', requestId: 'late', scale: { group: 'cpu', replicas: 1 } });
    expect(t.answerTo('late')).toMatchObject({ ok: false, error: { code: 'conflict' } });

    t.sees(cr({ generation: 2 }, 3, 3));
    t.pods(head(), worker(1), worker(2), worker(3, { ready: false, phase: 'Pending' }));
    expect(t.answerTo(scale)).toBeUndefined();
    t.pods(head(), worker(1), worker(2), worker(3));
    expect(t.answerTo(scale)).toEqual(ok(scale));
    expect(t.snapshot().matches({ up: { ops: 'idle', health: 'running' } })).toBe(true);
    expect(t.context().scaleTarget).toBeUndefined();
  });

  it('a stale RayCluster view from before the patch does not answer the scale; the patched generation does', async () => {
    // Changing only the bounds leaves replicas and pods as they were: only the generation shows the patch.
    const t = await running({ patch: async () => 4 });
    t.sees(cr({ generation: 3 }));
    const scale = t.send({ type: 'cluster.scale', scale: { group: 'cpu', maxReplicas: 5 } });
    await t.until((s) => s.matches({ up: { ops: 'converging' } }));
    expect(t.context().scaleTarget).toEqual({
      group: 'cpu',
      maxReplicas: 5,
      replicasAfter: 2,
      generation: 4,
    });
    expect(t.answerTo(scale)).toBeUndefined();

    // The watch delivers an event from before the patch: replicas match, generation is older.
    t.sees(cr({ generation: 3 }));
    t.pods(head(), worker(1), worker(2));
    expect(t.answerTo(scale)).toBeUndefined();
    expect(t.snapshot().matches({ up: { ops: 'converging' } })).toBe(true);

    t.sees(cr({ generation: 4 }, 2, 5));
    expect(t.answerTo(scale)).toEqual(ok(scale));
    expect(t.snapshot().matches({ up: { ops: 'idle' } })).toBe(true);
  });

  it('a view newer than the patched generation answers too', async () => {
    const t = await running({ patch: async () => 2 });
    const scale = t.send({ type: 'cluster.scale', scale: { group: 'cpu', minReplicas: 1 } });
    await t.until((s) => s.matches({ up: { ops: 'converging' } }));
    t.sees(cr({ generation: 5 }));
    expect(t.answerTo(scale)).toEqual(ok(scale));
  });

  it('workersToDelete shrinks the group by the workers named, and waits until they are gone', async () => {
    const t = await running();
    const scale = t.send({
      type: 'cluster.scale',
      scale: { group: 'cpu', workersToDelete: ['rc1-worker-2'] },
    });
    await t.until((s) => s.matches({ up: { ops: 'converging' } }));
    expect(t.calls.patch[0]!.scale).toMatchObject({
      group: 'cpu',
      workersToDelete: ['rc1-worker-2'],
      replicas: 1,
    });

    t.sees(cr({ generation: 2 }, 1));
    t.pods(head(), worker(1), worker(2, { deleting: true }));
    expect(t.answerTo(scale)).toBeUndefined();
    t.pods(head(), worker(1));
    expect(t.answerTo(scale)).toEqual(ok(scale));
  });

  it('a refused patch answers the scale with its error, and the next scale runs', async () => {
    let refuse = true;
    const t = await running({
      patch: async (input) => {
        if (refuse)
          throw new RayMcpError('invalid_input', 'RayCluster ns/rc1 has no worker group gpu.', 'Pick one.');
        return input.cr.generation + 1;
      },
    });
    const bad = t.send({ type: 'cluster.scale', scale: { group: 'gpu', replicas: 1 } });
    expect(await t.answered(bad)).toEqual({
      type: 'answer',
      requestId: bad,
      ok: false,
      error: {
        code: 'invalid_input',
        message: 'RayCluster ns/rc1 has no worker group gpu.',
        fix: 'Pick one.',
      },
    });
    expect(t.snapshot().matches({ up: { ops: 'idle' } })).toBe(true);
    expect(t.context().scaleTarget).toBeUndefined();
    expect(t.context().error).toBeUndefined();
    expect(t.state()).toBe('running');

    refuse = false;
    t.send({ type: 'cluster.scale', scale: { group: 'cpu', replicas: 1 } });
    await t.until((s) => s.matches({ up: { ops: 'converging' } }));
    expect(t.calls.patch).toHaveLength(2);
  });

  it('a scale that does not converge in time is answered with a timeout and the pod reasons', async () => {
    const t = await running({ delays: { scaleTimeout: 30 } });
    const scale = t.send({ type: 'cluster.scale', scale: { group: 'cpu', replicas: 3 } });
    await t.until((s) => s.matches({ up: { ops: 'converging' } }));
    t.sees(cr({ generation: 2 }, 3));
    t.pods(
      head(),
      worker(1),
      worker(2),
      worker(3, { phase: 'Pending', ready: false, reason: 'Unschedulable' }),
    );
    expect(await t.answered(scale)).toMatchObject({
      ok: false,
      error: {
        code: 'timeout',
        message:
          'Worker group cpu did not reach 3 ready worker(s) within 180 s. Pods: rc1-worker-3: Pending/Unschedulable.',
      },
    });
    expect(t.snapshot().matches({ up: { ops: 'idle' } })).toBe(true);
    expect(t.context().scaleTarget).toBeUndefined();
  });

  it('is refused while the cluster is not up', async () => {
    const t = start({ apply: () => new Promise(() => {}) });
    const id = t.send({ type: 'cluster.scale', scale: { group: 'cpu', replicas: 3 } });
    expect(t.answerTo(id)).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: 'Cluster rc1 is not running.' },
    });
    expect(t.calls.patch).toEqual([]);
  });
});

describe('kuberay cluster: stop', () => {
  it('deletes an owned RayCluster, and is stopped once it and its pods are gone', async () => {
    const t = await running();
    const stop = t.send({ type: 'cluster.stop' });
    expect(t.state()).toBe('stopping');
    expect(t.context().deleteRequested).toBe(true);
    await settle();
    expect(t.calls.delete).toEqual([{ connectionId: CONN, namespace: 'ns', name: 'rc1', uid: 'uid-rc1' }]);
    const again = t.send({ type: 'cluster.stop' });
    const ready = t.send({ type: 'cluster.awaitReady' });
    expect(t.answerTo(ready)).toMatchObject({ ok: false, error: { message: 'Cluster rc1 is stopped.' } });

    t.actor.send({ type: 'k8s.rayClusterGone' });
    t.pods(head({ deleting: true }));
    expect(t.state()).toBe('stopping');
    expect(t.answerTo(stop)).toBeUndefined();
    t.pods();
    expect(t.state()).toBe('stopped');
    expect(t.answerTo(stop)).toEqual(ok(stop));
    expect(t.answerTo(again)).toEqual(ok(again));
    expect(t.heardByConnection.at(-1)).toEqual({ type: 'kube.untrack', namespace: 'ns', name: 'rc1' });
    expect(t.stoppedTold()).toEqual(['rc1']);

    const late = t.send({ type: 'cluster.stop' });
    expect(t.answerTo(late)).toEqual(ok(late));
  });

  it('only forgets a RayCluster it did not create, unless asked to delete it', async () => {
    const attached = () => {
      const t = start({ input: { spec: undefined, owned: false } });
      t.sees(cr({ managedByUs: false }));
      t.pods(head(), worker(1), worker(2));
      expect(t.state()).toBe('running');
      return t;
    };
    const forget = attached();
    const stop = forget.send({ type: 'cluster.stop' });
    expect(forget.state()).toBe('stopped');
    expect(forget.answerTo(stop)).toEqual(ok(stop));
    await settle();
    expect(forget.calls.delete).toEqual([]);

    const remove = attached();
    remove.send({ type: 'cluster.stop', delete: true });
    expect(remove.state()).toBe('stopping');
    await settle();
    expect(remove.calls.delete).toHaveLength(1);
  });

  it('stop while starting follows the same rule', async () => {
    const owned = start();
    await owned.until((s) => s.matches('starting'));
    owned.send({ type: 'cluster.stop' });
    expect(owned.state()).toBe('stopping');

    const attached = start({ input: { spec: undefined, owned: false } });
    attached.send({ type: 'cluster.stop' });
    expect(attached.state()).toBe('stopped');
  });

  // The apply is aborted, yet its PATCH may have reached the API server: the delete must run
  // before the cluster counts as gone (it once went straight to stopped, leaving it behind).
  it('stop while applying deletes what the apply may have created', async () => {
    const t = start({ apply: () => new Promise(() => {}) });
    const stop = t.send({ type: 'cluster.stop' });
    await settle();
    expect(t.calls.delete).toEqual([{ connectionId: CONN, namespace: 'ns', name: 'rc1' }]);
    expect(t.answerTo(stop)).toEqual(ok(stop));
  });

  it('a refused delete answers the stop with its error and the cluster stays up', async () => {
    const t = await running({
      delete: async () =>
        Promise.reject(new RayMcpError('forbidden', 'rayclusters is forbidden', 'Ask for rights.')),
    });
    const stop = t.send({ type: 'cluster.stop' });
    expect(await t.answered(stop)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(t.state()).toBe('running');
    expect(t.context()).toMatchObject({ deleteRequested: false, error: undefined });
  });

  it('gives up waiting for terminating pods after the delete timeout, with a note', async () => {
    const t = await running({ delays: { deleteTimeout: 30 } });
    const stop = t.send({ type: 'cluster.stop' });
    t.actor.send({ type: 'k8s.rayClusterGone' });
    t.pods(head({ deleting: true }));
    expect(await t.answered(stop)).toEqual(ok(stop));
    expect(t.state()).toBe('stopped');
    expect(t.context().note).toBe('Deleted RayCluster ns/rc1; 1 pod(s) were still terminating after 120 s.');
  });

  it('shutdown detaches: the RayCluster stays, the connection forgets it', async () => {
    const t = await running();
    t.actor.send({ type: 'cluster.shutdown' });
    expect(t.snapshot().status).toBe('done');
    expect(t.heardByConnection.at(-1)).toEqual({ type: 'kube.untrack', namespace: 'ns', name: 'rc1' });
    expect(t.stoppedTold()).toEqual(['rc1']);
    await settle();
    expect(t.calls.delete).toEqual([]);
  });
});
