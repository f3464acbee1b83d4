/** The RayJob machine driven by events, with its two I/O actors swapped for controlled promises. */
import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { RayMcpError } from '../../src/domain/errors.js';
import type { RayJobSummary } from '../../src/domain/kuberay.js';
import { type RayJobCancelMode, rayJobEnded, rayJobMachine } from '../../src/machines/rayjob.machine.js';
import { deferred, drive } from '../helpers/machine.js';

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
  const t = drive(machine, {
    input: {
      connectionId: 'c',
      namespace: 'ns',
      name: 'job',
      owned: true,
      manifest: opts.manifest === false ? undefined : { metadata: { name: 'job', namespace: 'ns' } },
      summary: opts.manifest === false ? summary() : undefined,
    },
  });
  return { ...t, cancels };
}

describe('rayJobMachine', () => {
  it('submits, answers the submit waiters, then follows the informer', async () => {
    const apply = deferred<RayJobSummary>();
    const t = start({ apply: apply.promise });
    expect(t.state()).toBe('submitting');
    const submitted = t.send({ type: 'rayjob.awaitSubmitted' });
    expect(t.answerTo(submitted)).toBeUndefined();
    apply.resolve(summary({ deploymentStatus: 'Initializing' }));
    await t.until((s) => s.matches('watching'));
    expect(t.answerTo(submitted)).toMatchObject({ ok: true });
    t.actor.send({
      type: 'k8s.rayJob',
      summary: summary({ deploymentStatus: 'Running', jobStatus: 'RUNNING' }),
    });
    expect(t.context().summary?.jobStatus).toBe('RUNNING');
  });

  it('answers awaitEnd only once KubeRay reports an end state', async () => {
    const t = start({ manifest: false });
    expect(t.state()).toBe('watching');
    const first = t.send({ type: 'rayjob.awaitEnd' });
    t.actor.send({ type: 'k8s.rayJob', summary: summary({ deploymentStatus: 'Running' }) });
    expect(t.answerTo(first)).toBeUndefined();
    t.actor.send({
      type: 'k8s.rayJob',
      summary: summary({ deploymentStatus: 'Complete', jobStatus: 'SUCCEEDED' }),
    });
    expect(t.answerTo(first)).toMatchObject({ ok: true });
    // Already ended: answered at once.
    const second = t.send({ type: 'rayjob.awaitEnd' });
    expect(t.answerTo(second)).toMatchObject({ ok: true });
  });

  it('cancels with the mode asked, and reports a refusal to the caller without leaving watching', async () => {
    let fail = true;
    const t = start({
      manifest: false,
      cancel: async () => {
        if (fail) throw new RayMcpError('conflict', 'refused', 'do something else');
      },
    });
    const stop = t.send({ type: 'rayjob.cancel', mode: 'stop' });
    expect(await t.answered(stop)).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: 'refused' },
    });
    expect(t.state()).toBe('watching');
    expect(t.context().error).toBeUndefined();
    fail = false;
    const suspend = t.send({ type: 'rayjob.cancel', mode: 'suspend' });
    expect(await t.answered(suspend)).toMatchObject({ ok: true });
    expect(t.cancels).toEqual(['stop', 'suspend']);
  });

  it('reaches gone when the watch reports the deletion before the DELETE request answers', async () => {
    const never = deferred<void>();
    const t = start({ manifest: false, cancel: () => never.promise });
    const end = t.send({ type: 'rayjob.awaitEnd' });
    const del = t.send({ type: 'rayjob.cancel', mode: 'delete' });
    await t.settle();
    expect(t.state()).toBe('cancelling');
    t.actor.send({ type: 'k8s.rayJobGone' });
    expect(t.state()).toBe('gone');
    expect(t.answerTo(del)).toMatchObject({ ok: true });
    expect(t.answerTo(end)).toMatchObject({ ok: true });
  });

  it('answers every waiter when the RayJob is deleted', () => {
    const t = start({ manifest: false });
    const end = t.send({ type: 'rayjob.awaitEnd' });
    t.actor.send({ type: 'k8s.rayJobGone' });
    expect(t.state()).toBe('gone');
    expect(t.answerTo(end)).toMatchObject({ ok: true });
    const cancel = t.send({ type: 'rayjob.cancel', mode: 'delete' });
    expect(t.answerTo(cancel)).toMatchObject({ ok: true });
  });

  it('fails a submit the API server refused, and says why to every later command', async () => {
    const apply = deferred<RayJobSummary>();
    const t = start({ apply: apply.promise });
    const end = t.send({ type: 'rayjob.awaitEnd' });
    apply.reject(new RayMcpError('not_found', 'Namespace ns does not exist.', 'Create it.'));
    await t.until((s) => s.matches('failed'));
    expect(t.answerTo(end)).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const submitted = t.send({ type: 'rayjob.awaitSubmitted' });
    const cancel = t.send({ type: 'rayjob.cancel', mode: 'delete' });
    expect(t.answerTo(submitted)).toMatchObject({
      ok: false,
      error: { message: 'Namespace ns does not exist.' },
    });
    expect(t.answerTo(cancel)).toMatchObject({ ok: false });
  });

  it('knows which deployment states are ends', () => {
    for (const s of ['Complete', 'Failed', 'ValidationFailed', 'Suspended'])
      expect(rayJobEnded(summary({ deploymentStatus: s }))).toBe(true);
    for (const s of ['Initializing', 'Running', 'Suspending', 'Retrying', 'Waiting', undefined])
      expect(rayJobEnded(summary({ deploymentStatus: s }))).toBe(false);
  });
});
