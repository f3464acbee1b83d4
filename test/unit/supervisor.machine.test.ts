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

  it('refuses to start a cluster it could not remember while the state file cannot be written, and starts again once it can', async () => {
    const t = drive(machine, { input });
    t.actor.send({
      type: 'system.stateFile',
      problem: 'EACCES: permission denied',
      file: '/data/clusters.json',
    });
    const refused = await t.ask({
      type: 'cluster.create',
      at: 1,
      local: { spec: { head: {}, workers: [] }, timeoutMs: 1000 },
    });
    expect(refused).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        message: expect.stringMatching(
          /cannot write its state file \/data\/clusters\.json \(EACCES: permission denied\).*Nothing was started/,
        ),
        fix: expect.stringMatching(/--data-dir/),
      },
    });
    expect(t.context().clusters).toEqual({});
    // Connecting to a cluster ray-mcp did not start loses nothing on a restart: allowed.
    const ext = await t.ask({ type: 'cluster.create', at: 1, external: { address: 'http://10.0.0.1:8265' } });
    expect(ext).toMatchObject({ ok: true });
    t.actor.send({ type: 'system.stateFile', file: '/data/clusters.json' });
    expect(t.context().stateFileProblem).toBeUndefined();
  });
});
