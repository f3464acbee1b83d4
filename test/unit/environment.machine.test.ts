import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import type { Answer } from '../../src/domain/commands.js';
import type { EnvironmentReport } from '../../src/domain/environment.js';
import { RayMcpError } from '../../src/domain/errors.js';
import { environmentMachine } from '../../src/machines/environment.machine.js';

const report: EnvironmentReport = {
  checkedAt: '2026-01-01T00:00:00.000Z',
  ready: { localRay: true, kubernetes: false, gcp: false, aws: false },
  fixes: [],
};

function controlledProbe() {
  let calls = 0;
  let settle: { resolve(r: EnvironmentReport): void; reject(e: unknown): void } | undefined;
  const logic = fromPromise<EnvironmentReport>(() => {
    calls++;
    return new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
  });
  return { logic, calls: () => calls, settle: () => settle! };
}

describe('environment machine', () => {
  it('answers every request that arrived during one probe, and runs the probe once', async () => {
    const probe = controlledProbe();
    const actor = createActor(
      environmentMachine.provide({ actors: { probeEnvironment: probe.logic } }),
    ).start();
    const answers: Answer[] = [];
    actor.on('answer', (a) => answers.push(a));

    actor.send({ type: 'env.check', requestId: 'a' });
    actor.send({ type: 'env.check', requestId: 'b' });
    expect(actor.getSnapshot().value).toBe('checking');
    expect(probe.calls()).toBe(1);

    probe.settle().resolve(report);
    await new Promise((r) => setTimeout(r, 0));

    expect(answers).toEqual([
      { type: 'answer', requestId: 'a', ok: true },
      { type: 'answer', requestId: 'b', ok: true },
    ]);
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context.report).toEqual(report);
    expect(actor.getSnapshot().context.waiting).toEqual([]);
  });

  it('turns a failed probe into an error answer and can check again', async () => {
    const probe = controlledProbe();
    const actor = createActor(
      environmentMachine.provide({ actors: { probeEnvironment: probe.logic } }),
    ).start();
    const answers: Answer[] = [];
    actor.on('answer', (a) => answers.push(a));

    actor.send({ type: 'env.check', requestId: 'a' });
    probe.settle().reject(new RayMcpError('unavailable', 'probe broke', 'try again'));
    await new Promise((r) => setTimeout(r, 0));
    expect(answers).toEqual([
      {
        type: 'answer',
        requestId: 'a',
        ok: false,
        error: { code: 'unavailable', message: 'probe broke', fix: 'try again' },
      },
    ]);

    actor.send({ type: 'env.check', requestId: 'b' });
    probe.settle().resolve(report);
    await new Promise((r) => setTimeout(r, 0));
    expect(answers.at(-1)).toEqual({ type: 'answer', requestId: 'b', ok: true });
    expect(actor.getSnapshot().context.error).toBeUndefined();
  });
});
