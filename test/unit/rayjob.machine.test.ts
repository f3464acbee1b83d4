/** The RayJob machine driven by events, with its two I/O actors swapped for controlled promises. */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import type { Answer } from '../../src/domain/commands.js';
import { RayMcpError } from '../../src/domain/errors.js';
import type { RayJobSummary } from '../../src/domain/kuberay.js';
import { type RayJobCancelMode, rayJobEnded, rayJobMachine } from '../../src/machines/rayjob.machine.js';

const summary = (extra: Partial<RayJobSummary> = {}): RayJobSummary => ({
  namespace: 'ns',
  name: 'job',
  uid: 'u1',
  managedByUs: true,
  entrypoint: 'python x.py',
  shutdownAfterJobFinishes: true,
  suspend: false,
  deleting: false,
  ...extra,
});

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function start(opts: {
  manifest?: boolean;
  apply?: Promise<RayJobSummary>;
  cancel?: (mode: RayJobCancelMode) => Promise<void>;
}) {
  const cancels: RayJobCancelMode[] = [];
  const machine = rayJobMachine.provide({
    actors: {
      applyRayJob: fromPromise(async () => opts.apply ?? summary()),
      cancelRayJob: fromPromise(async ({ input }) => {
        cancels.push(input.mode);
        await (opts.cancel?.(input.mode) ?? Promise.resolve());
      }),
    },
  });
  const actor = createActor(machine, {
    input: {
      connectionId: 'c',
      namespace: 'ns',
      name: 'job',
      owned: true,
      manifest: opts.manifest === false ? undefined : { metadata: { name: 'job', namespace: 'ns' } },
      summary: opts.manifest === false ? summary() : undefined,
    },
  });
  const answers: Answer[] = [];
  actor.on('answer', (a) => answers.push(a as Answer));
  actor.start();
  const answer = (id: string) => answers.find((a) => a.requestId === id);
  return { actor, answers, answer, cancels };
}

describe('rayJobMachine', () => {
  it('submits, answers the submit waiters, then follows the informer', async () => {
    const apply = deferred<RayJobSummary>();
    const { actor, answer } = start({ apply: apply.promise });
    expect(actor.getSnapshot().value).toBe('submitting');
    actor.send({ type: 'rayjob.awaitSubmitted', requestId: 'r1' });
    expect(answer('r1')).toBeUndefined();
    apply.resolve(summary({ deploymentStatus: 'Initializing' }));
    await waitFor(actor, (s) => s.matches('watching'));
    expect(answer('r1')).toMatchObject({ ok: true });
    actor.send({
      type: 'k8s.rayJob',
      summary: summary({ deploymentStatus: 'Running', jobStatus: 'RUNNING' }),
    });
    expect(actor.getSnapshot().context.summary?.jobStatus).toBe('RUNNING');
  });

  it('answers awaitEnd only once KubeRay reports an end state', async () => {
    const { actor, answer } = start({ manifest: false });
    expect(actor.getSnapshot().value).toBe('watching');
    actor.send({ type: 'rayjob.awaitEnd', requestId: 'e1' });
    actor.send({ type: 'k8s.rayJob', summary: summary({ deploymentStatus: 'Running' }) });
    expect(answer('e1')).toBeUndefined();
    actor.send({
      type: 'k8s.rayJob',
      summary: summary({ deploymentStatus: 'Complete', jobStatus: 'SUCCEEDED' }),
    });
    expect(answer('e1')).toMatchObject({ ok: true });
    // Already ended: answered at once.
    actor.send({ type: 'rayjob.awaitEnd', requestId: 'e2' });
    expect(answer('e2')).toMatchObject({ ok: true });
  });

  it('cancels with the mode asked, and reports a refusal to the caller without leaving watching', async () => {
    let fail = true;
    const { actor, answer, cancels } = start({
      manifest: false,
      cancel: async () => {
        if (fail) throw new RayMcpError('conflict', 'refused', 'do something else');
      },
    });
    actor.send({ type: 'rayjob.cancel', requestId: 'c1', mode: 'stop' });
    await waitFor(actor, () => answer('c1') !== undefined);
    expect(answer('c1')).toMatchObject({ ok: false, error: { code: 'conflict', message: 'refused' } });
    expect(actor.getSnapshot().value).toBe('watching');
    expect(actor.getSnapshot().context.error).toBeUndefined();
    fail = false;
    actor.send({ type: 'rayjob.cancel', requestId: 'c2', mode: 'suspend' });
    await waitFor(actor, () => answer('c2') !== undefined);
    expect(answer('c2')).toMatchObject({ ok: true });
    expect(cancels).toEqual(['stop', 'suspend']);
  });

  it('answers every waiter when the RayJob is deleted', () => {
    const { actor, answer } = start({ manifest: false });
    actor.send({ type: 'rayjob.awaitEnd', requestId: 'e1' });
    actor.send({ type: 'k8s.rayJobGone' });
    expect(actor.getSnapshot().value).toBe('gone');
    expect(answer('e1')).toMatchObject({ ok: true });
    actor.send({ type: 'rayjob.cancel', requestId: 'c1', mode: 'delete' });
    expect(answer('c1')).toMatchObject({ ok: true });
  });

  it('fails a submit the API server refused, and says why to every later command', async () => {
    const apply = deferred<RayJobSummary>();
    const { actor, answer } = start({ apply: apply.promise });
    actor.send({ type: 'rayjob.awaitEnd', requestId: 'e1' });
    apply.reject(new RayMcpError('not_found', 'Namespace ns does not exist.', 'Create it.'));
    await waitFor(actor, (s) => s.matches('failed'));
    expect(answer('e1')).toMatchObject({ ok: false, error: { code: 'not_found' } });
    actor.send({ type: 'rayjob.awaitSubmitted', requestId: 's1' });
    actor.send({ type: 'rayjob.cancel', requestId: 'c1', mode: 'delete' });
    expect(answer('s1')).toMatchObject({ ok: false, error: { message: 'Namespace ns does not exist.' } });
    expect(answer('c1')).toMatchObject({ ok: false });
  });

  it('knows which deployment states are ends', () => {
    for (const s of ['Complete', 'Failed', 'ValidationFailed', 'Suspended'])
      expect(rayJobEnded(summary({ deploymentStatus: s }))).toBe(true);
    for (const s of ['Initializing', 'Running', 'Suspending', 'Retrying', 'Waiting', undefined])
      expect(rayJobEnded(summary({ deploymentStatus: s }))).toBe(false);
  });
});
