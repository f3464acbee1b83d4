/**
 * The I/O half of the port allocator: a candidate port is free when we can bind it on every
 * interface. Ports an unrelated program holds are skipped, and the search goes on.
 */
import { createServer } from 'node:net';
import { fromPromise } from 'xstate';
import { RayMcpError } from '../domain/errors.js';
import { nextFreeRun } from '../domain/ports.js';
import type { FindPortsInput, FindPortsOutput } from '../machines/port-allocator.machine.js';

export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function findFreePorts(
  input: FindPortsInput,
  probe: (port: number) => Promise<boolean> = canBind,
): Promise<FindPortsOutput> {
  const avoid = new Set(input.taken);
  const ports: Record<string, number> = {};
  let cursor = input.cursor;
  for (const block of input.blocks) {
    for (;;) {
      const start = nextFreeRun(avoid, input.range, block.size, cursor);
      if (start === undefined) {
        throw new RayMcpError(
          'unavailable',
          `No ${block.size === 1 ? 'free port' : `run of ${block.size} free ports`} left in ${input.range.from}-${input.range.to} for ${block.name}.`,
          'Stop clusters you no longer need (stop_ray_cluster), or widen the range with --port-range.',
        );
      }
      let busy: number | undefined;
      for (let p = start; p < start + block.size; p++) {
        if (!(await probe(p))) {
          busy = p;
          break;
        }
      }
      if (busy === undefined) {
        ports[block.name] = start;
        for (let p = start; p < start + block.size; p++) avoid.add(p);
        cursor = start + block.size > input.range.to ? input.range.from : start + block.size;
        break;
      }
      // Held by someone else: never hand it out in this search, and look past it.
      avoid.add(busy);
      cursor = busy + 1 > input.range.to ? input.range.from : busy + 1;
    }
  }
  return { ports, cursor };
}

export const findFreePortsLogic = fromPromise<FindPortsOutput, FindPortsInput>(({ input }) =>
  findFreePorts(input),
);
