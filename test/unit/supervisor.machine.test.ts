import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import type { EnvironmentReport } from '../../src/domain/environment.js';
import { environmentMachine } from '../../src/machines/environment.machine.js';
import { SYSTEM_IDS, supervisorMachine } from '../../src/machines/supervisor.machine.js';

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
    const root = createActor(machine, { input }).start();
    expect(root.system.get(SYSTEM_IDS.environment)).toBeDefined();
    expect(root.getSnapshot().value).toBe('running');
    root.stop();
  });

  it('stops its children and completes on system.shutdown', () => {
    const root = createActor(machine, { input }).start();
    const env = root.system.get(SYSTEM_IDS.environment)!;
    env.send({ type: 'env.check', requestId: 'r1' });
    root.send({ type: 'system.shutdown', reason: 'test' });
    expect(root.getSnapshot().status).toBe('done');
    expect(root.getSnapshot().context.shutdownReason).toBe('test');
    expect(env.getSnapshot().status).toBe('stopped');
  });
});
