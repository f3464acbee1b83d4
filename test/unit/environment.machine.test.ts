import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import type { EnvironmentReport } from '../../src/domain/environment.js';
import { RayMcpError } from '../../src/domain/errors.js';
import { environmentMachine } from '../../src/machines/environment.machine.js';
import { drive, ok } from '../helpers/machine.js';

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

/** The environment actor, its probe swapped for one the test settles. */
function start() {
  const probe = controlledProbe();
  const t = drive(environmentMachine.provide({ actors: { probeEnvironment: probe.logic } }));
  return { ...t, probe };
}

describe('environment machine', () => {
  it('answers every request that arrived during one probe, and runs the probe once', async () => {
    const t = start();
    const a = t.send({ type: 'env.check' });
    const b = t.send({ type: 'env.check' });
    expect(t.state()).toBe('checking');
    expect(t.probe.calls()).toBe(1);

    t.probe.settle().resolve(report);
    await t.settle();

    expect(t.answers).toEqual([ok(a), ok(b)]);
    expect(t.state()).toBe('idle');
    expect(t.context().report).toEqual(report);
    expect(t.context().waiting).toEqual([]);
  });

  it('turns a failed probe into an error answer and can check again', async () => {
    const t = start();
    const a = t.send({ type: 'env.check' });
    t.probe.settle().reject(new RayMcpError('unavailable', 'probe broke', 'try again'));
    await t.settle();
    expect(t.answers).toEqual([
      {
        type: 'answer',
        requestId: a,
        ok: false,
        error: { code: 'unavailable', message: 'probe broke', fix: 'try again' },
      },
    ]);

    const b = t.send({ type: 'env.check' });
    t.probe.settle().resolve(report);
    await t.settle();
    expect(t.answers.at(-1)).toEqual(ok(b));
    expect(t.context().error).toBeUndefined();
  });
});
