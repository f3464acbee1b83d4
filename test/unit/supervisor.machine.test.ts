import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import type { EnvironmentReport } from '../../src/domain/environment.js';
import { environmentMachine } from '../../src/machines/environment.machine.js';
import { SYSTEM_IDS, supervisorMachine } from '../../src/machines/supervisor.machine.js';
import { drive } from '../helpers/machine.js';

const never = fromPromise<EnvironmentReport>(() => new Promise(() => {}));
const input = {
  startedAt: 1,
  onExit: 'stop' as const,
  shutdownTimeoutMs: 5000,
  portRange: { from: 20000, to: 21000 },
};
const machine = supervisorMachine.provide({
  actors: { environment: environmentMachine.provide({ actors: { probeEnvironment: never } }) },
});

describe('supervisor machine', () => {
  it('registers the environment actor under its systemId while running', () => {
    const t = drive(machine, { input });
    expect(t.lookup(SYSTEM_IDS.environment)).toBeDefined();
    expect(t.state()).toBe('running');
  });

  it('stops its children and completes on system.shutdown', () => {
    const t = drive(machine, { input });
    const env = t.lookup(SYSTEM_IDS.environment)!;
    env.send({ type: 'env.check', requestId: 'r1' });
    t.actor.send({ type: 'system.shutdown', reason: 'test' });
    expect(t.snapshot().status).toBe('done');
    expect(t.context().shutdownReason).toBe('test');
    expect(env.getSnapshot().status).toBe('stopped');
  });
});
