/**
 * The port allocator against the real OS: 20 concurrent cluster-sized reservations, real bind
 * probes, and a port an unrelated program holds.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askActor } from '../../src/actors/ask.js';
import { RaySystem } from '../../src/actors/system.js';
import { loadConfig } from '../../src/config.js';
import { leasedPorts } from '../../src/domain/ports.js';
import { HEAD_BLOCKS, WORKER_BLOCKS } from '../../src/domain/ray-start.js';
import { createLogger } from '../../src/logger.js';
import type { PortAllocatorActor } from '../../src/machines/port-allocator.machine.js';
import { baseEnv } from '../helpers/mcp.js';

let system: RaySystem;
let ports: PortAllocatorActor;
const foreign = createServer();
const FOREIGN_PORT = 25_000;

beforeAll(async () => {
  await new Promise<void>((r) => foreign.listen(FOREIGN_PORT, '127.0.0.1', r));
  const config = loadConfig({ portRange: '25000-29999' }, baseEnv());
  system = await RaySystem.create({ config, log: createLogger({ logLevel: 'silent' }) });
  ports = system.get<PortAllocatorActor>('ports')!;
});
afterAll(async () => {
  await system.shutdown('test done');
  foreign.close();
});

describe('port allocator (real binds)', () => {
  it('gives 20 concurrent cluster reservations disjoint, free ports, skipping one held by another program', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        askActor(
          ports,
          { type: 'ports.reserve', owner: `cluster:c${i}/head`, blocks: i % 2 ? HEAD_BLOCKS : WORKER_BLOCKS },
          { timeoutMs: 60_000 },
        ),
      ),
    );
    const leases = Object.values(answers.at(-1)!.context.leases);
    expect(leases).toHaveLength(20);
    const all = leases.flatMap(leasedPorts);
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain(FOREIGN_PORT);
    expect(all.every((p) => p >= 25_000 && p <= 29_999)).toBe(true);

    for (let i = 0; i < 20; i++)
      await askActor(ports, { type: 'ports.release', owner: `cluster:c${i}` }, { timeoutMs: 5000 });
    expect(ports.getSnapshot().context.leases).toEqual({});
  });
});
