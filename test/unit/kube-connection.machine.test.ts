/**
 * The Kubernetes connection machine driven by events. Every invoked actor is a fake: the connect
 * and describe calls answer from handlers the test controls, each informer and health probe is a
 * Subject the test pushes facts into, and a tracked cluster is a callback actor that records what
 * its connection tells it.
 */
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromEventObservable, fromPromise, waitFor } from 'xstate';
import { RayMcpError } from '../../src/domain/errors.js';
import type { KubeTarget } from '../../src/domain/kube.js';
import type { PodSummary, RayClusterSummary, RayJobSummary } from '../../src/domain/kuberay.js';
import {
  type KubeClusterFact,
  type KubeConnected,
  type KubeHealthEvent,
  type KubeInfo,
  type KubeSession,
  kubeConnectionMachine,
  kubeStatusOf,
  kubeSystemId,
} from '../../src/machines/kube-connection.machine.js';
import { type RayJobActor, rayJobMachine, rayJobSystemId } from '../../src/machines/rayjob.machine.js';
import { rayServiceSystemId } from '../../src/machines/rayservice.machine.js';
import type { InformerEvent } from '../../src/watchers/kube-informer.watcher.js';
import { drive, ok, recorder } from '../helpers/machine.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const ID = 'c1';
const TARGET: KubeTarget = { kind: 'kubeconfig', context: ID };
const CLUSTER_ACTOR = 'cluster:rc1';

const SESSION: KubeSession = {
  server: 'https://127.0.0.1:6443',
  context: ID,
  namespace: 'default',
  version: 'v1.31.0',
  clusterWide: true,
  crdsInstalled: true,
};
const NAMESPACED: KubeSession = { ...SESSION, namespace: 'team', clusterWide: false };
/** When the fake API server accepted the session; facts from the world carry their own times. */
const CONNECTED_AT = 1_700_000_000_000;
const AT = CONNECTED_AT + 60_000;

const INFO: KubeInfo = {
  fetchedAt: 1,
  version: 'v1.31.0',
  nodes: { total: 1, ready: 1, cpu: 4, memoryGi: 16, gpus: {}, sample: ['node-1'] },
  namespaces: ['default', 'team'],
  namespacesTruncated: false,
  crds: [],
  problems: [],
  unreadable: [],
};

const rc = (namespace: string, name: string, extra: Partial<RayClusterSummary> = {}): RayClusterSummary => ({
  namespace,
  name,
  uid: `uid-${name}`,
  generation: 1,
  managedByUs: true,
  desiredWorkers: 0,
  readyWorkers: 0,
  availableWorkers: 0,
  headServiceName: `${name}-head-svc`,
  headReady: false,
  conditions: [],
  groups: [],
  deleting: false,
  ...extra,
});

const pod = (
  namespace: string,
  name: string,
  cluster: string,
  extra: Partial<PodSummary> = {},
): PodSummary => ({
  namespace,
  name,
  cluster,
  group: 'headgroup',
  nodeType: 'head',
  phase: 'Running',
  ready: true,
  restarts: 0,
  deleting: false,
  ...extra,
});

const rayJob = (namespace: string, name: string, extra: Partial<RayJobSummary> = {}): RayJobSummary => ({
  namespace,
  name,
  uid: `uid-${name}`,
  managedByUs: true,
  entrypoint: 'python main.py',
  shutdownAfterJobFinishes: true,
  suspend: false,
  deleting: false,
  ...extra,
});

// ---------------------------------------------------------------------------------------------
// The connection runs as `kube:c1` under a parent, next to a recording cluster actor registered as
// `cluster:rc1`, so the connection can reach it through the system as it does in ray-mcp.

interface Informer {
  namespace: string;
  subject: Subject<InformerEvent>;
}

interface Options {
  connect?: () => Promise<KubeSession>;
  describe?: () => Promise<KubeInfo>;
}

function start(opts: Options = {}) {
  const informers: Informer[] = [];
  const probes: Subject<KubeHealthEvent>[] = [];
  const closed: string[] = [];
  /** What the tracked cluster actor heard from its connection. */
  const cluster = recorder<KubeClusterFact>();
  const logic = kubeConnectionMachine.provide({
    actors: {
      connectKube: fromPromise<KubeConnected, { id: string; target: KubeTarget }>(async ({ input }) => {
        expect(input).toEqual({ id: ID, target: TARGET });
        return { session: opts.connect ? await opts.connect() : SESSION, connectedAt: CONNECTED_AT };
      }),
      describeKube: fromPromise<KubeInfo, { id: string }>(async () =>
        opts.describe ? opts.describe() : INFO,
      ),
      closeKube: fromPromise<void, { id: string }>(async ({ input }) => {
        closed.push(input.id);
      }),
      informers: fromEventObservable<InformerEvent, { connectionId: string; namespace: string }>(
        ({ input }) => {
          expect(input.connectionId).toBe(ID);
          const subject = new Subject<InformerEvent>();
          informers.push({ namespace: input.namespace, subject });
          return subject;
        },
      ),
      healthProbe: fromEventObservable<KubeHealthEvent, { connectionId: string }>(() => {
        const subject = new Subject<KubeHealthEvent>();
        probes.push(subject);
        return subject;
      }),
      rayJob: rayJobMachine.provide({
        actors: {
          applyRayJob: fromPromise(async ({ input }) => {
            const meta = (input.manifest as { metadata: { namespace: string; name: string } }).metadata;
            return rayJob(meta.namespace, meta.name);
          }),
          cancelRayJob: fromPromise(async () => {}),
        },
      }),
    },
  });
  const t = drive(logic, {
    input: { id: ID, target: TARGET },
    systemId: kubeSystemId(ID),
    parent: { siblings: { cluster: { logic: cluster.logic, systemId: CLUSTER_ACTOR } } },
    stateOf: kubeStatusOf,
  });
  /** Informers and probes still subscribed. */
  const live = () => informers.filter((i) => i.subject.observed);
  const inform = (namespace: string, event: InformerEvent) => {
    const informer = live().find((i) => i.namespace === namespace);
    if (!informer) throw new Error(`no live informer for namespace '${namespace}'`);
    informer.subject.next(event);
  };
  const health = (event: Omit<KubeHealthEvent, 'type' | 'at'> & { at?: number }) => {
    const probe = probes.find((p) => p.observed);
    if (!probe) throw new Error('no live health probe');
    probe.next({ type: 'kube.health', at: AT, ...event });
  };
  /** Lists every resource of a scope, so the scope counts as synced. */
  const listAll = (namespace: string) => {
    inform(namespace, { type: 'k8s.synced', resource: 'rayclusters', namespace, items: [] });
    inform(namespace, { type: 'k8s.synced', resource: 'rayjobs', namespace, items: [] });
    inform(namespace, { type: 'k8s.synced', resource: 'pods', namespace, items: [] });
  };
  const track = (namespace: string, name: string) =>
    t.actor.send({ type: 'kube.track', namespace, name, systemId: CLUSTER_ACTOR });
  const heard = cluster.heard;
  const links = () => heard.filter((f) => f.type === 'kube.link').map((f) => f.state);
  const rayJobActor = (systemId: string) => t.lookup(systemId) as RayJobActor;
  return {
    ...t,
    informers,
    probes,
    closed,
    heard,
    live,
    inform,
    health,
    listAll,
    track,
    links,
    rayJobActor,
  };
}

/** A connection that is online, with its informers started. */
async function online(opts: Options = {}) {
  const t = start(opts);
  await t.until((s) => s.matches('online'));
  return t;
}

// ---------------------------------------------------------------------------------------------

describe('kube connection: connecting', () => {
  it('connects, answers whoever waited, and runs one informer for all namespaces and a health probe', async () => {
    let release!: (s: KubeSession) => void;
    const t = start({ connect: () => new Promise((resolve) => (release = resolve)) });
    expect(t.state()).toBe('connecting');
    const waiting = t.send({ type: 'kube.awaitConnected' });
    const connect = t.send({ type: 'kube.connect' });
    await Promise.resolve();
    expect(t.answers).toEqual([]);
    expect(t.informers).toEqual([]);

    release(SESSION);
    expect(await t.answered(waiting)).toEqual(ok(waiting));
    expect(t.answerTo(connect)).toEqual(ok(connect));
    expect(t.state()).toBe('connected');
    expect(t.context().session).toEqual(SESSION);
    expect(t.context().connectedAt).toBe(CONNECTED_AT);
    expect(t.live().map((i) => i.namespace)).toEqual(['']);
    expect(t.context().namespaces).toEqual(['']);
    expect(t.probes.filter((p) => p.observed)).toHaveLength(1);

    // Once up, both are answered at once.
    const again = t.send({ type: 'kube.connect' });
    const up = t.send({ type: 'kube.awaitConnected' });
    expect(t.answerTo(again)).toEqual(ok(again));
    expect(t.answerTo(up)).toEqual(ok(up));
  });

  it('a namespaced session watches its own namespace, and watchNamespace adds one informer per new namespace', async () => {
    const t = await online({ connect: async () => NAMESPACED });
    expect(t.live().map((i) => i.namespace)).toEqual(['team']);

    const added = t.send({ type: 'kube.watchNamespace', namespace: 'other' });
    const known = t.send({ type: 'kube.watchNamespace', namespace: 'team' });
    expect(t.answerTo(added)).toEqual(ok(added));
    expect(t.answerTo(known)).toEqual(ok(known));
    expect(t.live().map((i) => i.namespace)).toEqual(['team', 'other']);
    expect(t.context().namespaces).toEqual(['team', 'other']);
  });

  it('a cluster-wide session needs no more informers for a namespace', async () => {
    const t = await online();
    const id = t.send({ type: 'kube.watchNamespace', namespace: 'team' });
    expect(t.answerTo(id)).toEqual(ok(id));
    expect(t.informers.map((i) => i.namespace)).toEqual(['']);
  });

  it('a failed connect nothing depends on answers with the error, closes the client and ends', async () => {
    const refused = new RayMcpError('not_found', 'No context named c1 in the kubeconfig.', 'Pick one.');
    const t = start({
      connect: async () => {
        throw refused;
      },
    });
    const waiting = t.send({ type: 'kube.awaitConnected' });
    expect(await t.answered(waiting)).toEqual({
      type: 'answer',
      requestId: waiting,
      ok: false,
      error: refused.toInfo(),
    });
    // Done: its parent drops it and keeps the error (src/machines/supervisor.machine.ts).
    await t.until((s) => s.status === 'done');
    expect(t.closed).toEqual([ID]);
    expect(t.snapshot().output).toEqual({ error: refused.toInfo() });
    expect(t.toParent.some((e) => e.type === `xstate.done.actor.subject`)).toBe(true);
  });

  it('a failed connect a cluster tracks keeps the error, closes the client, and refuses every command with the error', async () => {
    const refused = new RayMcpError(
      'unavailable',
      'connect ECONNREFUSED 127.0.0.1:6443',
      'Start the cluster.',
    );
    let fail = true;
    const t = start({
      connect: async () => {
        if (fail) throw refused;
        return SESSION;
      },
    });
    t.track('ns', 'rc1');
    const waiting = t.send({ type: 'kube.awaitConnected' });
    expect(await t.answered(waiting)).toEqual({
      type: 'answer',
      requestId: waiting,
      ok: false,
      error: refused.toInfo(),
    });
    expect(t.state()).toBe('failed');
    expect(t.context().error).toEqual(refused.toInfo());
    await t.until(() => t.closed.length > 0);
    expect(t.closed).toEqual([ID]);
    expect(t.informers).toEqual([]);

    const commands = [
      t.send({ type: 'kube.awaitConnected' }),
      t.send({ type: 'kube.describe' }),
      t.send({ type: 'kube.watchNamespace', namespace: 'team' }),
      t.send({ type: 'kube.awaitSynced', namespace: 'team', resource: 'rayjobs' }),
      t.send({ type: 'kube.rayJob', namespace: 'team', name: 'j', owned: false }),
    ];
    for (const id of commands)
      expect(t.answerTo(id)).toEqual({ type: 'answer', requestId: id, ok: false, error: refused.toInfo() });

    // A new connect starts afresh and clears the error.
    fail = false;
    const retry = t.send({ type: 'kube.connect' });
    expect(t.state()).toBe('connecting');
    expect(t.context().error).toBeUndefined();
    expect(await t.answered(retry)).toEqual(ok(retry));
    expect(t.state()).toBe('connected');
  });

  it('a failed connection ends once the last cluster that tracked it lets go', async () => {
    const t = await online();
    t.track('ns', 'rc1');
    t.health({ ok: false, status: 401, message: 'Unauthorized' });
    expect(t.state()).toBe('failed');
    await t.until(() => t.closed.length > 0);
    await t.settle();
    expect(t.snapshot().status).toBe('active');
    t.actor.send({ type: 'kube.untrack', namespace: 'ns', name: 'rc1' });
    await t.until((s) => s.status === 'done');
    expect(t.snapshot().output).toMatchObject({ error: { code: 'unauthenticated' } });
  });

  it('answers a describe from the API, and a failed describe with its error', async () => {
    let fail = false;
    const t = await online({
      describe: async () => {
        if (fail) throw new RayMcpError('forbidden', 'nodes is forbidden', 'Ask for node list rights.');
        return INFO;
      },
    });
    const first = t.send({ type: 'kube.describe' });
    const joined = t.send({ type: 'kube.describe' });
    expect(await t.answered(first)).toEqual(ok(first));
    expect(t.answerTo(joined)).toEqual(ok(joined));
    expect(t.context().info).toEqual(INFO);

    fail = true;
    const second = t.send({ type: 'kube.describe' });
    expect(await t.answered(second)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(t.state()).toBe('connected');
  });
});

describe('kube connection: the informer caches', () => {
  it('a listing replaces its scope; an upsert or a delete changes one entry', async () => {
    const t = await online();
    t.inform('', {
      type: 'k8s.synced',
      resource: 'rayclusters',
      namespace: '',
      items: [rc('a', 'one'), rc('b', 'two')],
    });
    t.inform('', { type: 'k8s.upsert', resource: 'rayclusters', item: rc('a', 'three') });
    t.inform('', { type: 'k8s.upsert', resource: 'rayclusters', item: rc('b', 'two', { state: 'ready' }) });
    t.inform('', { type: 'k8s.delete', resource: 'rayclusters', namespace: 'a', name: 'one' });
    expect(t.context().rayClusters).toEqual({
      'a/three': rc('a', 'three'),
      'b/two': rc('b', 'two', { state: 'ready' }),
    });

    t.inform('', { type: 'k8s.synced', resource: 'rayjobs', namespace: '', items: [rayJob('a', 'j1')] });
    t.inform('', { type: 'k8s.upsert', resource: 'rayjobs', item: rayJob('a', 'j2') });
    t.inform('', { type: 'k8s.delete', resource: 'rayjobs', namespace: 'a', name: 'j1' });
    expect(Object.keys(t.context().rayJobs)).toEqual(['a/j2']);

    t.inform('', { type: 'k8s.synced', resource: 'pods', namespace: '', items: [pod('a', 'p1', 'three')] });
    t.inform('', { type: 'k8s.upsert', resource: 'pods', item: pod('a', 'p2', 'three') });
    t.inform('', { type: 'k8s.delete', resource: 'pods', namespace: 'a', name: 'p1' });
    expect(Object.keys(t.context().pods)).toEqual(['a/p2']);

    // A relist of all namespaces replaces everything.
    t.inform('', { type: 'k8s.synced', resource: 'rayclusters', namespace: '', items: [rc('c', 'four')] });
    expect(Object.keys(t.context().rayClusters)).toEqual(['c/four']);
    expect(t.context().synced).toEqual({ 'rayclusters@': true, 'rayjobs@': true, 'pods@': true });
  });

  it('a listing of one namespace leaves the other namespaces alone', async () => {
    const t = await online({ connect: async () => NAMESPACED });
    t.send({ type: 'kube.watchNamespace', namespace: 'other' });
    t.inform('team', {
      type: 'k8s.synced',
      resource: 'rayclusters',
      namespace: 'team',
      items: [rc('team', 'a')],
    });
    t.inform('other', {
      type: 'k8s.synced',
      resource: 'rayclusters',
      namespace: 'other',
      items: [rc('other', 'b')],
    });
    t.inform('team', {
      type: 'k8s.synced',
      resource: 'rayclusters',
      namespace: 'team',
      items: [rc('team', 'c')],
    });
    expect(Object.keys(t.context().rayClusters).sort()).toEqual(['other/b', 'team/c']);
  });

  it('tells a RayCluster tracked while the API server is away that the link is lost', async () => {
    const t = await online();
    t.health({ ok: false });
    expect(t.state()).toBe('lost');
    t.track('ns', 'rc1');
    expect(t.links()).toEqual(['lost']);
  });

  it('tells a tracked RayCluster what it has, then every change to it and to its pods', async () => {
    const t = await online();
    t.inform('', { type: 'k8s.synced', resource: 'rayclusters', namespace: '', items: [rc('ns', 'rc1')] });
    t.inform('', {
      type: 'k8s.synced',
      resource: 'pods',
      namespace: '',
      items: [pod('ns', 'rc1-head', 'rc1'), pod('ns', 'other-head', 'other')],
    });

    t.track('ns', 'rc1');
    expect(t.heard).toEqual([
      { type: 'kube.link', state: 'connected', server: SESSION.server, context: SESSION.context },
      { type: 'k8s.rayCluster', summary: rc('ns', 'rc1') },
      { type: 'k8s.pods', pods: [pod('ns', 'rc1-head', 'rc1')] },
    ]);
    expect(t.context().tracked).toEqual({ 'ns/rc1': CLUSTER_ACTOR });
    t.heard.length = 0;

    // Only what concerns rc1 reaches it.
    const worker = pod('ns', 'rc1-worker', 'rc1', { nodeType: 'worker', group: 'cpu' });
    t.inform('', { type: 'k8s.upsert', resource: 'rayclusters', item: rc('ns', 'rc1', { state: 'ready' }) });
    t.inform('', { type: 'k8s.upsert', resource: 'rayclusters', item: rc('ns', 'other') });
    t.inform('', { type: 'k8s.upsert', resource: 'pods', item: worker });
    t.inform('', { type: 'k8s.upsert', resource: 'pods', item: pod('ns', 'other-worker', 'other') });
    t.inform('', { type: 'k8s.delete', resource: 'pods', namespace: 'ns', name: 'rc1-head' });
    t.inform('', { type: 'k8s.delete', resource: 'pods', namespace: 'ns', name: 'never-seen' });
    expect(t.heard).toEqual([
      { type: 'k8s.rayCluster', summary: rc('ns', 'rc1', { state: 'ready' }) },
      { type: 'k8s.pods', pods: [pod('ns', 'rc1-head', 'rc1'), worker] },
      { type: 'k8s.pods', pods: [worker] },
    ]);
    t.heard.length = 0;

    // A relist tells it the whole truth: its pods, and that its RayCluster is gone.
    t.inform('', { type: 'k8s.synced', resource: 'pods', namespace: '', items: [] });
    t.inform('', { type: 'k8s.synced', resource: 'rayclusters', namespace: '', items: [rc('ns', 'other')] });
    expect(t.heard).toEqual([{ type: 'k8s.pods', pods: [] }, { type: 'k8s.rayClusterGone' }]);
    t.heard.length = 0;

    t.inform('', { type: 'k8s.upsert', resource: 'rayclusters', item: rc('ns', 'rc1') });
    t.inform('', { type: 'k8s.delete', resource: 'rayclusters', namespace: 'ns', name: 'rc1' });
    expect(t.heard).toEqual([
      { type: 'k8s.rayCluster', summary: rc('ns', 'rc1') },
      { type: 'k8s.rayClusterGone' },
    ]);
    t.heard.length = 0;

    // Untracked: it hears nothing more.
    t.actor.send({ type: 'kube.untrack', namespace: 'ns', name: 'rc1' });
    t.inform('', { type: 'k8s.upsert', resource: 'rayclusters', item: rc('ns', 'rc1') });
    expect(t.heard).toEqual([]);
    expect(t.context().tracked).toEqual({});
  });

  it('a namespace listing tells only the tracked clusters of that namespace', async () => {
    const t = await online({ connect: async () => NAMESPACED });
    t.send({ type: 'kube.watchNamespace', namespace: 'other' });
    t.track('team', 'rc1');
    t.heard.length = 0;
    t.inform('other', { type: 'k8s.synced', resource: 'rayclusters', namespace: 'other', items: [] });
    t.inform('other', { type: 'k8s.synced', resource: 'pods', namespace: 'other', items: [] });
    expect(t.heard).toEqual([]);
    t.inform('team', {
      type: 'k8s.synced',
      resource: 'rayclusters',
      namespace: 'team',
      items: [rc('team', 'rc1')],
    });
    expect(t.heard).toEqual([{ type: 'k8s.rayCluster', summary: rc('team', 'rc1') }]);
  });

  it('forwards RayJob changes to the rayjob actor that follows it', async () => {
    const t = await online();
    t.inform('', { type: 'k8s.synced', resource: 'rayjobs', namespace: '', items: [rayJob('ns', 'j1')] });
    const id = t.send({ type: 'kube.rayJob', namespace: 'ns', name: 'j1', owned: false });
    const systemId = rayJobSystemId(ID, 'ns', 'j1');
    expect(t.answerTo(id)).toEqual({ type: 'answer', requestId: id, ok: true, data: { systemId } });
    const job = t.rayJobActor(systemId);
    expect(job.getSnapshot().value).toBe('watching');
    expect(job.getSnapshot().context).toMatchObject({ owned: false, summary: rayJob('ns', 'j1') });
    expect(job.getSnapshot().context.server).toBe(SESSION.server);

    t.inform('', {
      type: 'k8s.upsert',
      resource: 'rayjobs',
      item: rayJob('ns', 'j1', { jobStatus: 'RUNNING' }),
    });
    expect(job.getSnapshot().context.summary?.jobStatus).toBe('RUNNING');
    // Another RayJob's change is not its business.
    t.inform('', {
      type: 'k8s.upsert',
      resource: 'rayjobs',
      item: rayJob('ns', 'j9', { jobStatus: 'FAILED' }),
    });
    expect(job.getSnapshot().context.summary?.jobStatus).toBe('RUNNING');

    t.inform('', {
      type: 'k8s.synced',
      resource: 'rayjobs',
      namespace: '',
      items: [rayJob('ns', 'j1', { jobStatus: 'SUCCEEDED' })],
    });
    expect(job.getSnapshot().context.summary?.jobStatus).toBe('SUCCEEDED');
    t.inform('', { type: 'k8s.delete', resource: 'rayjobs', namespace: 'ns', name: 'j1' });
    expect(job.getSnapshot().value).toBe('gone');
  });

  it('a relist without the RayJob tells its actor it is gone', async () => {
    const t = await online();
    t.inform('', { type: 'k8s.synced', resource: 'rayjobs', namespace: '', items: [rayJob('ns', 'j1')] });
    t.send({ type: 'kube.rayJob', namespace: 'ns', name: 'j1', owned: true });
    t.inform('', { type: 'k8s.synced', resource: 'rayjobs', namespace: '', items: [] });
    expect(t.rayJobActor(rayJobSystemId(ID, 'ns', 'j1')).getSnapshot().value).toBe('gone');
  });
});

describe('kube connection: kube.awaitSynced', () => {
  it('answers at once once listed, else when the listing of that resource and namespace arrives', async () => {
    const t = await online({ connect: async () => NAMESPACED });
    const jobs = t.send({ type: 'kube.awaitSynced', namespace: 'team', resource: 'rayjobs' });
    const pods = t.send({ type: 'kube.awaitSynced', namespace: 'team', resource: 'pods' });
    t.inform('team', { type: 'k8s.synced', resource: 'rayclusters', namespace: 'team', items: [] });
    expect(t.answers).toEqual([]);
    t.inform('team', { type: 'k8s.synced', resource: 'rayjobs', namespace: 'team', items: [] });
    expect(t.answers).toEqual([ok(jobs)]);
    expect(t.context().syncWaiting).toEqual([{ requestId: pods, key: 'pods@team' }]);

    const now = t.send({ type: 'kube.awaitSynced', namespace: 'team', resource: 'rayclusters' });
    expect(t.answerTo(now)).toEqual(ok(now));
  });

  it('on a cluster-wide session, waits for the all-namespaces listing whatever namespace is asked', async () => {
    const t = await online();
    const id = t.send({ type: 'kube.awaitSynced', namespace: 'team', resource: 'rayjobs' });
    expect(t.context().syncWaiting).toEqual([{ requestId: id, key: 'rayjobs@' }]);
    t.inform('', { type: 'k8s.synced', resource: 'rayjobs', namespace: '', items: [] });
    expect(t.answerTo(id)).toEqual(ok(id));
  });

  it('a 403 on that scope answers the waiters with forbidden; other scopes keep waiting', async () => {
    const t = await online({ connect: async () => NAMESPACED });
    t.send({ type: 'kube.watchNamespace', namespace: 'other' });
    const refused = t.send({ type: 'kube.awaitSynced', namespace: 'other', resource: 'rayjobs' });
    const elsewhere = t.send({ type: 'kube.awaitSynced', namespace: 'team', resource: 'rayjobs' });
    const otherResource = t.send({ type: 'kube.awaitSynced', namespace: 'other', resource: 'pods' });
    t.inform('other', {
      type: 'k8s.watchError',
      resource: 'rayjobs',
      namespace: 'other',
      status: 403,
      message: 'rayjobs.ray.io is forbidden: User "dev" cannot list resource "rayjobs"',
      retryInMs: 500,
      at: AT,
    });
    expect(t.answerTo(refused)).toEqual({
      type: 'answer',
      requestId: refused,
      ok: false,
      error: {
        code: 'forbidden',
        message: expect.stringContaining('listing rayjobs in namespace other is forbidden'),
        fix: expect.any(String),
      },
    });
    expect(t.answerTo(elsewhere)).toBeUndefined();
    expect(t.answerTo(otherResource)).toBeUndefined();
    expect(t.context().syncWaiting.map((w) => w.requestId)).toEqual([elsewhere, otherResource]);
    expect(t.context().lastWatchError).toMatchObject({ resource: 'rayjobs', namespace: 'other', at: AT });
    expect(t.context().synced['rayjobs@other']).toBe(false);
    // Forbidden is not a broken connection.
    expect(t.state()).toBe('connected');
  });

  it('a scope whose list was forbidden answers later asks at once, with the whole message, until a list succeeds', async () => {
    const t = await online({ connect: async () => NAMESPACED });
    t.send({ type: 'kube.watchNamespace', namespace: 'other' });
    const message =
      'rayjobs.ray.io is forbidden: User "dev" cannot list resource "rayjobs" in API group "ray.io" in the namespace "other" ' +
      'because the cluster admin has not bound any Role that grants it to this user in that namespace yet';
    t.inform('other', {
      type: 'k8s.watchError',
      resource: 'rayjobs',
      namespace: 'other',
      status: 403,
      message,
      retryInMs: 30_000,
      at: AT,
    });
    // Asked after the 403, while the informer waits out its backoff: no waiting for its retry.
    const later = t.send({ type: 'kube.awaitSynced', namespace: 'other', resource: 'rayjobs' });
    expect(t.answerTo(later)).toMatchObject({
      ok: false,
      error: { code: 'forbidden', message: expect.stringContaining(`${message}`) },
    });
    t.inform('other', { type: 'k8s.synced', resource: 'rayjobs', namespace: 'other', items: [] });
    const granted = t.send({ type: 'kube.awaitSynced', namespace: 'other', resource: 'rayjobs' });
    expect(t.answerTo(granted)).toEqual(ok(granted));
  });

  it('any other watch error notes the problem and keeps the waiters waiting', async () => {
    const t = await online();
    const id = t.send({ type: 'kube.awaitSynced', namespace: '', resource: 'pods' });
    t.inform('', {
      type: 'k8s.watchError',
      resource: 'pods',
      namespace: '',
      status: 500,
      message: 'etcdserver: request timed out',
      retryInMs: 2000,
      at: AT,
    });
    expect(t.answers).toEqual([]);
    expect(t.context().lastWatchError?.message).toBe('etcdserver: request timed out');
    t.inform('', { type: 'k8s.synced', resource: 'pods', namespace: '', items: [] });
    expect(t.answerTo(id)).toEqual(ok(id));
  });
});

describe('kube connection: the link', () => {
  it('unreachable → lost; reachable → reconnecting; connected only once every informer scope relisted', async () => {
    const t = await online({ connect: async () => NAMESPACED });
    t.send({ type: 'kube.watchNamespace', namespace: 'other' });
    t.listAll('team');
    t.listAll('other');
    t.track('team', 'rc1');
    expect(t.links()).toEqual(['connected']);

    t.health({ ok: false, message: 'connect ECONNREFUSED', at: AT + 5000 });
    expect(t.state()).toBe('lost');
    expect(t.context().lostAt).toBe(AT + 5000);
    expect(t.links()).toEqual(['connected', 'lost']);
    const waiting = t.send({ type: 'kube.awaitConnected' });

    // The informers fail while the server is down: those scopes are no longer whole.
    const down = {
      status: undefined,
      message: 'connect ECONNREFUSED',
      retryInMs: 2000,
      at: AT + 6000,
    } as const;
    t.inform('team', { type: 'k8s.watchError', resource: 'rayclusters', namespace: 'team', ...down });
    t.inform('other', { type: 'k8s.watchError', resource: 'pods', namespace: 'other', ...down });

    t.health({ ok: true });
    expect(t.state()).toBe('reconnecting');
    t.inform('team', { type: 'k8s.synced', resource: 'rayclusters', namespace: 'team', items: [] });
    expect(t.state()).toBe('reconnecting');
    expect(t.answerTo(waiting)).toBeUndefined();
    expect(t.links()).toEqual(['connected', 'lost']);

    t.inform('other', { type: 'k8s.synced', resource: 'pods', namespace: 'other', items: [] });
    expect(t.state()).toBe('connected');
    expect(t.answerTo(waiting)).toEqual(ok(waiting));
    expect(t.context().lostAt).toBeUndefined();
    expect(t.links()).toEqual(['connected', 'lost', 'connected']);
    // The informers ran on throughout.
    expect(t.live().map((i) => i.namespace)).toEqual(['team', 'other']);
  });

  it('reconnecting falls back to lost when the server goes away again', async () => {
    const t = await online();
    t.health({ ok: false });
    t.inform('', {
      type: 'k8s.watchError',
      resource: 'pods',
      namespace: '',
      message: 'EHOSTUNREACH',
      retryInMs: 2000,
      at: AT,
    });
    t.health({ ok: true });
    expect(t.state()).toBe('reconnecting');
    t.health({ ok: false });
    expect(t.state()).toBe('lost');
  });

  it('a 401 from the health probe fails the connection, stops the informers, and says why', async () => {
    const t = await online();
    t.track('ns', 'rc1');
    const sync = t.send({ type: 'kube.awaitSynced', namespace: '', resource: 'rayjobs' });
    t.health({ ok: false, status: 401, message: 'Unauthorized' });
    expect(t.state()).toBe('failed');
    expect(t.context().error).toMatchObject({
      code: 'unauthenticated',
      message: expect.stringContaining('401 Unauthorized'),
    });
    expect(t.live()).toEqual([]);
    expect(t.probes.some((p) => p.observed)).toBe(false);
    await t.until(() => t.closed.length > 0);
    expect(t.answerTo(sync)).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(t.heard.at(-1)).toEqual({
      type: 'kube.link',
      state: 'failed',
      message: t.context().error!.message,
      server: SESSION.server,
      context: SESSION.context,
    });
    const id = t.send({ type: 'kube.awaitConnected' });
    expect(t.answerTo(id)).toMatchObject({ ok: false, error: { code: 'unauthenticated' } });
  });

  it('a 401 while lost, or from an informer, fails the connection too', async () => {
    const lost = await online();
    lost.health({ ok: false });
    const waiting = lost.send({ type: 'kube.awaitConnected' });
    lost.health({ ok: false, status: 401 });
    expect(lost.state()).toBe('failed');
    expect(lost.answerTo(waiting)).toMatchObject({ ok: false, error: { code: 'unauthenticated' } });

    const watched = await online();
    watched.inform('', {
      type: 'k8s.watchError',
      resource: 'rayclusters',
      namespace: '',
      status: 401,
      message: 'Unauthorized',
      retryInMs: 500,
      at: AT,
    });
    expect(watched.state()).toBe('failed');
    expect(watched.context().error?.code).toBe('unauthenticated');
  });
});

describe('kube connection: kube.rayJob', () => {
  it('submits a manifest through a rayjob child, and refuses a second manifest of the same name', async () => {
    const t = await online();
    const manifest = { metadata: { namespace: 'ns', name: 'train' } };
    const id = t.send({ type: 'kube.rayJob', namespace: 'ns', name: 'train', manifest, owned: true });
    const systemId = rayJobSystemId(ID, 'ns', 'train');
    expect(t.answerTo(id)).toEqual({ type: 'answer', requestId: id, ok: true, data: { systemId } });
    expect(t.context().rayJobActors).toEqual({ 'ns/train': systemId });
    const job = t.rayJobActor(systemId);
    expect(job.getSnapshot().context).toMatchObject({ connectionId: ID, manifest, owned: true });
    await waitFor(job, (s) => s.matches('watching'), { timeout: 1000 });
    // The apply's answer is in the cache before any watch event brings it.
    expect(t.context().rayJobs['ns/train']).toEqual(rayJob('ns', 'train'));

    const again = t.send({ type: 'kube.rayJob', namespace: 'ns', name: 'train', manifest, owned: true });
    expect(t.answerTo(again)).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: 'ray-mcp already follows a RayJob ns/train.' },
    });
    // Following it (no manifest) is fine: the same actor.
    const follow = t.send({ type: 'kube.rayJob', namespace: 'ns', name: 'train', owned: false });
    expect(t.answerTo(follow)).toEqual({ type: 'answer', requestId: follow, ok: true, data: { systemId } });
    expect(t.context().rayJobActors).toEqual({ 'ns/train': systemId });
    expect(t.lookup(systemId)).toBe(job);
  });

  it('follows a RayJob made again under the name of one that was deleted with a new actor', async () => {
    const t = await online();
    const manifest = { metadata: { namespace: 'ns', name: 'train' } };
    t.send({ type: 'kube.rayJob', namespace: 'ns', name: 'train', manifest, owned: true });
    const first = t.rayJobActor(rayJobSystemId(ID, 'ns', 'train'));
    await waitFor(first, (s) => s.matches('watching'), { timeout: 1000 });
    first.send({ type: 'k8s.rayJobGone' });
    expect(first.getSnapshot().value).toBe('gone');

    const again = t.send({ type: 'kube.rayJob', namespace: 'ns', name: 'train', manifest, owned: true });
    const answer = t.answerTo(again) as unknown as { ok: boolean; data: { systemId: string } };
    expect(answer.ok).toBe(true);
    expect(answer.data.systemId).toBe(`${rayJobSystemId(ID, 'ns', 'train')}#1`);
    const second = t.rayJobActor(answer.data.systemId);
    expect(second).not.toBe(first);
    expect(first.getSnapshot().status).toBe('stopped');
    // The stopped actor is gone from the connection's children; the new one is among them.
    expect(Object.values(t.children())).not.toContain(first);
    expect(Object.values(t.children())).toContain(second);
    expect(t.context().rayJobActors).toEqual({ 'ns/train': answer.data.systemId });
    await waitFor(second, (s) => s.matches('watching'), { timeout: 1000 });
  });
});

describe('kube connection: kube.rayService', () => {
  const svc = (namespace: string, name: string) =>
    ({ namespace, name, uid: `uid-${name}`, generation: 1, managedByUs: true }) as never;

  it('drops the actor of a RayService that is not there when released; keeps one whose object exists', async () => {
    const t = await online();
    const follow = (name: string) => t.send({ type: 'kube.rayService', namespace: 'ns', name });
    // A dry run (or a failed apply) of a new name: the actor has no object, the release drops it.
    follow('typo');
    expect(t.context().rayServiceActors).toEqual({ 'ns/typo': rayServiceSystemId(ID, 'ns', 'typo') });
    const typo = t.lookup(rayServiceSystemId(ID, 'ns', 'typo'))!;
    t.actor.send({ type: 'kube.releaseRayService', namespace: 'ns', name: 'typo' });
    expect(t.context().rayServiceActors).toEqual({});
    expect(typo.getSnapshot().status).toBe('stopped');
    expect(Object.values(t.children())).not.toContain(typo);

    // One that exists stays, whatever releases it, until it is gone.
    t.inform('', { type: 'k8s.upsert', resource: 'rayservices', item: svc('ns', 'live') } as never);
    follow('live');
    t.actor.send({ type: 'kube.releaseRayService', namespace: 'ns', name: 'live' });
    expect(Object.keys(t.context().rayServiceActors)).toEqual(['ns/live']);
    t.inform('', { type: 'k8s.delete', resource: 'rayservices', namespace: 'ns', name: 'live' } as never);
    t.actor.send({ type: 'kube.releaseRayService', namespace: 'ns', name: 'live' });
    expect(t.context().rayServiceActors).toEqual({});
    // Held by two calls (a dry run and a deploy at once, say): the first release leaves it to the other.
    follow('both');
    follow('both');
    t.actor.send({ type: 'kube.releaseRayService', namespace: 'ns', name: 'both' });
    expect(Object.keys(t.context().rayServiceActors)).toContain('ns/both');
    t.actor.send({ type: 'kube.releaseRayService', namespace: 'ns', name: 'both' });
    expect(Object.keys(t.context().rayServiceActors)).not.toContain('ns/both');

    // Released while its object was still there (a delete waiting on finalizers): it goes with the object.
    t.inform('', { type: 'k8s.upsert', resource: 'rayservices', item: svc('ns', 'slow') } as never);
    follow('slow');
    t.actor.send({ type: 'kube.releaseRayService', namespace: 'ns', name: 'slow' });
    expect(Object.keys(t.context().rayServiceActors)).toContain('ns/slow');
    t.inform('', { type: 'k8s.delete', resource: 'rayservices', namespace: 'ns', name: 'slow' } as never);
    expect(Object.keys(t.context().rayServiceActors)).not.toContain('ns/slow');

    // Followed again later: a fresh actor.
    const again = follow('live');
    expect(t.answerTo(again)).toMatchObject({
      ok: true,
      data: { systemId: rayServiceSystemId(ID, 'ns', 'live') },
    });
  });
});

describe('kube connection: disconnect', () => {
  it('answers the sync waiters, stops the informers, forgets the caches and tells tracked clusters', async () => {
    const t = await online();
    t.inform('', { type: 'k8s.synced', resource: 'rayclusters', namespace: '', items: [rc('ns', 'rc1')] });
    t.track('ns', 'rc1');
    const sync = t.send({ type: 'kube.awaitSynced', namespace: '', resource: 'pods' });
    const bye = t.send({ type: 'kube.disconnect' });
    expect(t.state()).toBe('disconnected');
    expect(t.answerTo(bye)).toEqual(ok(bye));
    expect(t.answerTo(sync)).toMatchObject({
      ok: false,
      error: { code: 'unavailable', message: `Kubernetes connection ${ID} went away before it listed pods.` },
    });
    expect(t.live()).toEqual([]);
    expect(t.probes.some((p) => p.observed)).toBe(false);
    expect(t.context()).toMatchObject({ rayClusters: {}, rayJobs: {}, pods: {}, synced: {}, namespaces: [] });
    expect(t.links()).toEqual(['connected', 'disconnected']);

    const later = t.send({ type: 'kube.awaitSynced', namespace: '', resource: 'pods' });
    expect(t.answerTo(later)).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const twice = t.send({ type: 'kube.disconnect' });
    expect(t.answerTo(twice)).toEqual(ok(twice));

    // And it can connect again.
    const back = t.send({ type: 'kube.connect' });
    expect(await t.answered(back)).toEqual(ok(back));
    expect(t.live().map((i) => i.namespace)).toEqual(['']);
  });

  it('a disconnect while connecting answers at once', async () => {
    const t = start({ connect: () => new Promise(() => {}) });
    const bye = t.send({ type: 'kube.disconnect' });
    expect(t.answerTo(bye)).toEqual(ok(bye));
    expect(t.state()).toBe('disconnected');
  });

  // A disconnect answers every waiter (it once answered only itself, leaving them to time out).
  it('answers an awaitConnected that was waiting through a loss', async () => {
    const t = await online();
    t.health({ ok: false });
    const waiting = t.send({ type: 'kube.awaitConnected' });
    t.send({ type: 'kube.disconnect' });
    expect(t.answerTo(waiting)).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('answers a connect that was waiting when the connection is disconnected mid-connect', async () => {
    const t = start({ connect: () => new Promise(() => {}) });
    const connect = t.send({ type: 'kube.connect' });
    t.send({ type: 'kube.disconnect' });
    expect(t.answerTo(connect)).toMatchObject({ ok: false });
  });
});

describe('kube connection: describe and awaitConnected wait apart', () => {
  // They once shared one list, so a describe finishing while the link was lost answered the
  // awaitConnected waiters too, though the link was not back.
  it('a describe finishing while the link is lost does not answer awaitConnected', async () => {
    const t = await online();
    t.health({ ok: false });
    const waiting = t.send({ type: 'kube.awaitConnected' });
    const describe = t.send({ type: 'kube.describe' });
    await t.answered(describe);
    expect(t.state()).toBe('lost');
    expect(t.answerTo(waiting)).toBeUndefined();
  });
});
