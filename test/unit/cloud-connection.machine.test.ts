/**
 * The cloud connection machine driven by events. Authentication, cloud commands, forgetting
 * credentials and detection answer from handlers the test controls; each operation watcher is a
 * Subject the test pushes facts into.
 */
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromEventObservable, fromPromise } from 'xstate';
import {
  CloudAuthError,
  type CloudDetection,
  type CloudIdentity,
  type CloudOperation,
  type CloudProvider,
  type ClusterCreateSpec,
} from '../../src/domain/cloud.js';
import { RayMcpError } from '../../src/domain/errors.js';
import {
  type CloudAuthenticated,
  type CloudAuthOptions,
  type CloudFact,
  type CloudResult,
  type CloudWorkCommand,
  cloudConnectionMachine,
  cloudStateOf,
  type TrackedOperation,
} from '../../src/machines/cloud-connection.machine.js';
import { type Deferred, deferred, drive, ok, settle } from '../helpers/machine.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const IDENTITY: CloudIdentity = { method: 'application_default', principal: 'me@example.com', project: 'p1' };
/** When the fake cloud accepts the credentials, and when the fake watcher sees an operation end. */
const AUTHENTICATED_AT = '2025-01-07T09:00:00.000Z';
const ENDED_AT = '2025-01-07T09:30:00.000Z';

const SPEC: ClusterCreateSpec = {
  provider: 'gke',
  name: 'ray-1',
  location: 'us-central1',
  project: 'p1',
  node_pools: [{ name: 'pool', machine_type: 'e2-standard-4', node_count: 1 }],
  labels: {},
};

const operation = (extra: Partial<CloudOperation> = {}): CloudOperation => ({
  operation_id: 'op-1',
  provider: 'gke',
  kind: 'create_cluster',
  cluster_name: 'ray-1',
  location: 'us-central1',
  project: 'p1',
  status: 'running',
  detail: 'PROVISIONING',
  started_at: '2025-01-07T10:00:00.000Z',
  polls: 0,
  ...extra,
});

const detection = (provider: CloudProvider, extra: Partial<CloudDetection> = {}): CloudDetection => ({
  provider,
  usable: true,
  sources: [],
  kube_contexts: [],
  checked_at: '2025-01-07T10:00:00.000Z',
  took_ms: 3,
  ...extra,
});

const listed: CloudResult = { kind: 'list', clusters: [], total: 0, offset: 0, location: '-' };
const created = (op = operation()): CloudResult => ({
  kind: 'create',
  outcome: 'new',
  operation: { view: op, gkeOperation: 'operation-123' },
});

// ---------------------------------------------------------------------------------------------
// The connection, each of its invoked actors a fake the test controls

interface Options {
  authenticate?: (options: CloudAuthOptions) => Promise<CloudIdentity>;
  run?: (command: CloudWorkCommand) => Promise<CloudResult>;
  forget?: () => Promise<void>;
  detect?: () => Promise<CloudDetection>;
}

interface Watcher {
  operation: TrackedOperation;
  subject: Subject<CloudFact>;
}

function start(opts: Options = {}, provider: CloudProvider = 'gke') {
  const calls = {
    authenticate: [] as CloudAuthOptions[],
    run: [] as { command: CloudWorkCommand; identity: CloudIdentity }[],
    forget: 0,
    detect: 0,
  };
  const watchers: Watcher[] = [];
  const logic = cloudConnectionMachine.provide({
    actors: {
      authenticate: fromPromise<CloudAuthenticated, { provider: CloudProvider; options: CloudAuthOptions }>(
        async ({ input }) => {
          expect(input.provider).toBe(provider);
          calls.authenticate.push(input.options);
          const identity = opts.authenticate ? await opts.authenticate(input.options) : IDENTITY;
          return { identity, authenticatedAt: AUTHENTICATED_AT };
        },
      ),
      runCloudCommand: fromPromise<
        CloudResult,
        {
          provider: CloudProvider;
          command: CloudWorkCommand;
          identity: CloudIdentity;
          operations: Record<string, TrackedOperation>;
        }
      >(async ({ input }) => {
        calls.run.push({ command: input.command, identity: input.identity });
        return opts.run ? opts.run(input.command) : listed;
      }),
      forgetCredentials: fromPromise<void, { provider: CloudProvider }>(async () => {
        calls.forget++;
        await opts.forget?.();
      }),
      detect: fromPromise<CloudDetection, { provider: CloudProvider }>(async () => {
        calls.detect++;
        return opts.detect ? opts.detect() : detection(provider);
      }),
      operationWatcher: fromEventObservable<
        CloudFact,
        { provider: CloudProvider; operation: TrackedOperation }
      >(({ input }) => {
        const subject = new Subject<CloudFact>();
        watchers.push({ operation: input.operation, subject });
        return subject;
      }),
    },
  });
  const t = drive(logic, { input: { provider }, stateOf: cloudStateOf });
  const live = () => watchers.filter((w) => w.subject.observed);
  const list = () => t.send({ type: 'cloud.list', where: {}, offset: 0, limit: 10 });
  return { ...t, calls, watchers, live, list };
}

async function authenticated(opts: Options = {}) {
  const t = start(opts);
  await t.answered(t.send({ type: 'cloud.authenticate', options: {} }));
  expect(t.state()).toBe('authenticated');
  return t;
}

const rejected = new CloudAuthError(
  'rejected',
  'Google rejected the credentials: invalid_grant (reauth related error).',
  'Run `gcloud auth application-default login`, then authenticate_cloud_provider again.',
);

// ---------------------------------------------------------------------------------------------

describe('cloud connection: authentication', () => {
  it('starts unconfigured; authenticates with the options given and answers everyone who asked', async () => {
    const auth = deferred<CloudIdentity>();
    const t = start({ authenticate: () => auth.promise });
    expect(t.state()).toBe('unconfigured');
    const first = t.send({ type: 'cloud.authenticate', options: { projectId: 'p1' } });
    expect(t.state()).toBe('authenticating');
    const joined = t.send({ type: 'cloud.authenticate', options: { projectId: 'ignored' } });
    await settle();
    expect(t.calls.authenticate).toEqual([{ projectId: 'p1' }]);
    expect(t.answers).toEqual([]);

    auth.resolve(IDENTITY);
    expect(await t.answered(first)).toEqual(ok(first));
    expect(t.answerTo(joined)).toEqual(ok(joined));
    expect(t.state()).toBe('authenticated');
    expect(t.context()).toMatchObject({
      identity: IDENTITY,
      authOptions: { projectId: 'p1' },
      authWaiting: [],
    });
    expect(t.context().authenticatedAt).toBe(AUTHENTICATED_AT);
  });

  it('fails keeping the reason, refuses cluster commands with it, and a new authenticate recovers', async () => {
    let fail = true;
    const t = start({
      authenticate: async () => {
        if (fail)
          throw new CloudAuthError('missing', 'No Google credentials found.', 'Run gcloud auth login.');
        return IDENTITY;
      },
    });
    const auth = t.send({ type: 'cloud.authenticate', options: {} });
    expect(await t.answered(auth)).toEqual({
      type: 'answer',
      requestId: auth,
      ok: false,
      error: {
        code: 'unauthenticated',
        message: 'No Google credentials found.',
        fix: 'Run gcloud auth login.',
      },
    });
    expect(t.state()).toBe('failed');
    expect(t.context().error).toEqual({
      code: 'unauthenticated',
      message: 'No Google credentials found.',
      fix: 'Run gcloud auth login.',
      problem: 'missing',
    });

    const refused = t.list();
    expect(t.answerTo(refused)).toEqual({
      type: 'answer',
      requestId: refused,
      ok: false,
      error: {
        code: 'unauthenticated',
        message: 'No Google credentials found.',
        fix: 'Run gcloud auth login.',
      },
    });
    expect(t.calls.run).toEqual([]);

    fail = false;
    const again = t.send({ type: 'cloud.authenticate', options: { serviceAccountPath: '/k.json' } });
    expect(await t.answered(again)).toEqual(ok(again));
    expect(t.state()).toBe('authenticated');
    expect(t.context().error).toBeUndefined();
  });

  it('an unexpected authentication error fails too, without a credential problem', async () => {
    const t = start({ authenticate: async () => Promise.reject(new Error('socket hang up')) });
    const auth = t.send({ type: 'cloud.authenticate', options: {} });
    expect(await t.answered(auth)).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(t.state()).toBe('failed');
    expect(t.context().error?.problem).toBeUndefined();
  });

  it('a cluster command while unconfigured authenticates with the default credentials, then runs', async () => {
    const t = start();
    const id = t.list();
    expect(t.state()).toBe('authenticating');
    expect(await t.answered(id)).toEqual({ type: 'answer', requestId: id, ok: true, data: listed });
    expect(t.calls.authenticate).toEqual([{}]);
    expect(t.calls.run).toEqual([
      { command: { type: 'cloud.list', requestId: id, where: {}, offset: 0, limit: 10 }, identity: IDENTITY },
    ]);
  });

  it('a failed default authentication answers that command only, and leaves the connection unconfigured', async () => {
    let fail = true;
    const t = start({ authenticate: async () => (fail ? Promise.reject(rejected) : IDENTITY) });
    // The call's own project (a typo, say) is tried with the default credentials.
    const typo = t.send({ type: 'cloud.list', where: { project: 'my-projetc' }, offset: 0, limit: 10 });
    expect(await t.answered(typo)).toEqual({
      type: 'answer',
      requestId: typo,
      ok: false,
      error: rejected.toInfo(),
    });
    // Neither the error nor the project stays: the next call starts afresh, with its own.
    expect(t.state()).toBe('unconfigured');
    expect(t.context().queue).toEqual([]);
    expect(t.context().authOptions).toBeUndefined();
    expect(t.context().error).toBeUndefined();
    fail = false;
    const fixed = t.send({ type: 'cloud.list', where: { project: 'my-project' }, offset: 0, limit: 10 });
    expect(await t.answered(fixed)).toMatchObject({ ok: true });
    expect(t.calls.authenticate).toEqual([{ projectId: 'my-projetc' }, { projectId: 'my-project' }]);
    expect(t.state()).toBe('authenticated');
  });

  it('an authenticate that joins a failing default authentication fails the connection, keeping why', async () => {
    const gate = deferred<CloudIdentity>();
    const t = start({ authenticate: () => gate.promise });
    const listId = t.list();
    const authId = t.send({ type: 'cloud.authenticate', options: {} });
    gate.reject(rejected);
    expect(await t.answered(listId)).toMatchObject({ ok: false, error: rejected.toInfo() });
    expect(await t.answered(authId)).toMatchObject({ ok: false, error: rejected.toInfo() });
    expect(t.state()).toBe('failed');
    expect(t.context().error).toMatchObject({ message: rejected.message });
  });
});

describe('cloud connection: the work queue', () => {
  it('runs commands one at a time, in order, including those sent while authenticating', async () => {
    const auth = deferred<CloudIdentity>();
    const gates: Deferred<CloudResult>[] = [];
    const t = start({
      authenticate: () => auth.promise,
      run: () => {
        const d = deferred<CloudResult>();
        gates.push(d);
        return d.promise;
      },
    });
    t.send({ type: 'cloud.authenticate', options: {} });
    const first = t.list();
    const second = t.send({ type: 'cloud.describe', where: { location: 'us-central1' }, name: 'ray-1' });
    expect(t.context().queue.map((c) => c.requestId)).toEqual([first, second]);
    auth.resolve(IDENTITY);
    await t.until(() => t.calls.run.length === 1);
    const third = t.send({ type: 'cloud.target', where: {}, name: 'ray-1' });
    await settle();
    expect(t.calls.run.map((r) => r.command.requestId)).toEqual([first]);

    gates[0]!.resolve(listed);
    await t.answered(first);
    await t.until(() => t.calls.run.length === 2);
    expect(t.answerTo(second)).toBeUndefined();
    gates[1]!.reject(new RayMcpError('not_found', 'No cluster ray-1 in us-central1.', 'List the clusters.'));
    expect(await t.answered(second)).toMatchObject({ ok: false, error: { code: 'not_found' } });
    // A failing command does not stop the queue, nor the connection.
    await t.until(() => t.calls.run.length === 3);
    expect(t.state()).toBe('authenticated');
    gates[2]!.resolve(listed);
    expect(await t.answered(third)).toMatchObject({ ok: true });
    expect(t.calls.run.map((r) => r.command.requestId)).toEqual([first, second, third]);
    expect(t.context().queue).toEqual([]);
  });

  it('a command the cloud rejects for its credentials fails the connection and answers the whole queue', async () => {
    const t = await authenticated({ run: async () => Promise.reject(rejected) });
    const first = t.list();
    const second = t.list();
    expect(await t.answered(first)).toEqual({
      type: 'answer',
      requestId: first,
      ok: false,
      error: rejected.toInfo(),
    });
    expect(t.answerTo(second)).toEqual({
      type: 'answer',
      requestId: second,
      ok: false,
      error: rejected.toInfo(),
    });
    expect(t.state()).toBe('failed');
    expect(t.context()).toMatchObject({ error: { ...rejected.toInfo(), problem: 'rejected' }, queue: [] });
    expect(t.context().identity).toBeUndefined();
    expect(t.calls.run).toHaveLength(1);
  });
});

describe('cloud connection: operations', () => {
  it('a create starts a watcher; progress and the end update the operation; awaitOperation is answered on the end', async () => {
    const t = await authenticated({ run: async () => created() });
    const create = t.send({ type: 'cloud.create', spec: SPEC });
    expect((await t.answered(create)) as unknown).toMatchObject({ data: { kind: 'create', outcome: 'new' } });
    expect(t.watchers).toHaveLength(1);
    expect(t.watchers[0]!.operation).toEqual({ view: operation(), gkeOperation: 'operation-123' });
    expect(t.context().operations['op-1']).toMatchObject({ view: operation(), watcherId: 'watch:op-1:1' });

    const waiting = t.send({ type: 'cloud.awaitOperation', operationId: 'op-1' });
    expect(t.answerTo(waiting)).toBeUndefined();
    const watcher = t.watchers[0]!.subject;
    watcher.next({
      type: 'cloud.operationProgress',
      operationId: 'op-1',
      detail: 'cluster PROVISIONING',
      polls: 1,
    });
    expect(t.context().operations['op-1']!.view).toMatchObject({ detail: 'cluster PROVISIONING', polls: 1 });
    watcher.next({ type: 'cloud.operationPollFailed', operationId: 'op-1', error: 'ETIMEDOUT', polls: 2 });
    expect(t.context().operations['op-1']!.view).toMatchObject({
      detail: 'cluster PROVISIONING',
      polls: 2,
      error: 'last check failed: ETIMEDOUT',
      status: 'running',
    });
    expect(t.answerTo(waiting)).toBeUndefined();

    watcher.next({
      type: 'cloud.operationEnded',
      operationId: 'op-1',
      ok: true,
      detail: 'cluster RUNNING',
      polls: 3,
      endedAt: ENDED_AT,
    });
    expect(t.answerTo(waiting)).toEqual(ok(waiting));
    const view = t.context().operations['op-1']!.view;
    expect(view).toMatchObject({ status: 'done', detail: 'cluster RUNNING', polls: 3, error: undefined });
    expect(view.ended_at).toBe(ENDED_AT);
    expect(t.context().operations['op-1']!.watcherId).toBeUndefined();
    expect(t.context().awaiting).toEqual({});

    // Ended: answered at once; late progress changes nothing.
    const late = t.send({ type: 'cloud.awaitOperation', operationId: 'op-1' });
    expect(t.answerTo(late)).toEqual(ok(late));
    watcher.next({ type: 'cloud.operationProgress', operationId: 'op-1', detail: 'stale', polls: 9 });
    expect(t.context().operations['op-1']!.view.detail).toBe('cluster RUNNING');
  });

  it('a failed operation keeps its error', async () => {
    const t = await authenticated({ run: async () => created() });
    await t.answered(t.send({ type: 'cloud.create', spec: SPEC }));
    const waiting = t.send({ type: 'cloud.awaitOperation', operationId: 'op-1' });
    t.watchers[0]!.subject.next({
      type: 'cloud.operationEnded',
      operationId: 'op-1',
      ok: false,
      error: 'QUOTA_EXCEEDED: Insufficient regional quota',
      polls: 4,
      endedAt: ENDED_AT,
    });
    expect(t.answerTo(waiting)).toEqual(ok(waiting));
    expect(t.context().operations['op-1']!.view).toMatchObject({
      status: 'failed',
      error: 'QUOTA_EXCEEDED: Insufficient regional quota',
      detail: 'PROVISIONING',
    });
  });

  it('a create that finds its operation still running starts no second watcher', async () => {
    const t = await authenticated({ run: async () => ({ ...created(), outcome: 'running' }) as CloudResult });
    await t.answered(t.send({ type: 'cloud.create', spec: SPEC }));
    await t.answered(t.send({ type: 'cloud.create', spec: SPEC }));
    expect(t.watchers).toHaveLength(1);
    expect(t.live()).toHaveLength(1);
  });

  it('awaitOperation of an unknown operation is not_found', () => {
    const t = start();
    const id = t.send({ type: 'cloud.awaitOperation', operationId: 'nope' });
    expect(t.answerTo(id)).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('credentials rejected while watching: failed keeping the reason, watchers paused until re-authentication', async () => {
    const t = await authenticated({ run: async () => created() });
    await t.answered(t.send({ type: 'cloud.create', spec: SPEC }));
    const waiting = t.send({ type: 'cloud.awaitOperation', operationId: 'op-1' });
    t.watchers[0]!.subject.next({ type: 'cloud.credentialsRejected', error: rejected.toInfo() });

    expect(t.state()).toBe('failed');
    expect(t.context().error).toEqual({ ...rejected.toInfo(), problem: 'rejected' });
    expect(t.live()).toEqual([]);
    expect(t.context().operations['op-1']).toMatchObject({
      watcherId: undefined,
      view: { status: 'running', detail: 'PROVISIONING (tracking paused until re-authentication)' },
    });
    const refused = t.list();
    expect(t.answerTo(refused)).toEqual({
      type: 'answer',
      requestId: refused,
      ok: false,
      error: rejected.toInfo(),
    });
    // Whoever awaits the operation keeps waiting: it is still running in the cloud.
    expect(t.answerTo(waiting)).toBeUndefined();

    // Authenticated again: the operation is followed by a new watcher.
    await t.answered(t.send({ type: 'cloud.authenticate', options: {} }));
    expect(t.watchers).toHaveLength(2);
    expect(t.live()).toEqual([t.watchers[1]]);
    expect(t.context().operations['op-1']!.watcherId).toBe('watch:op-1:2');
    t.watchers[1]!.subject.next({
      type: 'cloud.operationEnded',
      operationId: 'op-1',
      ok: true,
      polls: 7,
      endedAt: ENDED_AT,
    });
    expect(t.answerTo(waiting)).toEqual(ok(waiting));
  });
});

describe('cloud connection: disconnect', () => {
  it('forgets identity, queue and operations, stops the watchers, and answers everyone', async () => {
    const forget = deferred<void>();
    const gate = deferred<CloudResult>();
    let calls = 0;
    const t = await authenticated({
      run: () => (++calls === 1 ? Promise.resolve(created()) : gate.promise),
      forget: () => forget.promise,
    });
    await t.answered(t.send({ type: 'cloud.create', spec: SPEC }));
    const awaiting = t.send({ type: 'cloud.awaitOperation', operationId: 'op-1' });
    const running = t.list();
    const queued = t.list();
    await t.until(() => t.calls.run.length === 2);

    const bye = t.send({ type: 'cloud.disconnect' });
    expect(t.state()).toBe('disconnecting');
    const gone = { ok: false, error: { code: 'unavailable', message: 'Disconnected from GKE.' } };
    for (const id of [awaiting, running, queued]) expect(t.answerTo(id)).toMatchObject(gone);
    expect(t.live()).toEqual([]);
    expect(t.context()).toMatchObject({
      identity: undefined,
      authOptions: undefined,
      queue: [],
      operations: {},
      awaiting: {},
    });
    // While the credentials are being forgotten, other commands are refused as busy.
    const busy = t.list();
    expect(t.answerTo(busy)).toMatchObject({ ok: false, error: { code: 'conflict' } });
    const joined = t.send({ type: 'cloud.disconnect' });

    forget.resolve();
    expect(await t.answered(bye)).toEqual(ok(bye));
    expect(t.answerTo(joined)).toEqual(ok(joined));
    expect(t.state()).toBe('disconnected');
    expect(t.calls.forget).toBe(1);

    const refused = t.list();
    expect(t.answerTo(refused)).toMatchObject({
      ok: false,
      error: { code: 'unavailable', message: 'Not connected to GKE (disconnected).' },
    });
    const again = t.send({ type: 'cloud.disconnect' });
    expect(t.answerTo(again)).toEqual(ok(again));
    // A late answer of the command that was cut off changes nothing.
    gate.resolve(listed);
    await settle();
    expect(t.context().queue).toEqual([]);
  });

  it('disconnected even when forgetting the credentials fails, and can authenticate again', async () => {
    const t = await authenticated({ forget: async () => Promise.reject(new Error('EACCES')) });
    const bye = t.send({ type: 'cloud.disconnect' });
    expect(await t.answered(bye)).toEqual(ok(bye));
    expect(t.state()).toBe('disconnected');
    await t.answered(t.send({ type: 'cloud.authenticate', options: {} }));
    expect(t.state()).toBe('authenticated');
  });

  it('a disconnect while unconfigured is answered at once', () => {
    const t = start();
    const bye = t.send({ type: 'cloud.disconnect' });
    expect(t.answerTo(bye)).toEqual(ok(bye));
    expect(t.state()).toBe('unconfigured');
  });
});

describe('cloud connection: detection', () => {
  it('needs no authentication, and answers every detect asked while one runs', async () => {
    const found = deferred<CloudDetection>();
    const t = start({ detect: () => found.promise }, 'eks');
    const a = t.send({ type: 'cloud.detect' });
    const b = t.send({ type: 'cloud.detect' });
    found.resolve(detection('eks', { sources: [{ kind: 'profile', detail: 'default' }] }));
    expect(await t.answered(a)).toEqual(ok(a));
    expect(t.answerTo(b)).toEqual(ok(b));
    expect(t.calls.detect).toBe(1);
    expect(t.context().detection?.sources).toEqual([{ kind: 'profile', detail: 'default' }]);
    expect(t.state()).toBe('unconfigured');
  });
});
