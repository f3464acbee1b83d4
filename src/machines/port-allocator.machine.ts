/**
 * One actor owns every port ray-mcp hands to Ray. Reservations are served one at a time from a
 * queue, each against the full set of leases, so concurrent cluster starts can never be given the
 * same port. Probing by bind (I/O) is the invoked `findFreePorts`; ports an unrelated program
 * holds are skipped there.
 */
import { type ActorRefFrom, assign, enqueueActions, fromPromise, setup } from 'xstate';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { toErrorInfo } from '../domain/errors.js';
import { type Lease, ownedBy, type PortBlock, type PortRange, takenPorts } from '../domain/ports.js';

export type PortCommand =
  | { type: 'ports.reserve'; requestId: string; owner: string; blocks: PortBlock[] }
  | { type: 'ports.release'; requestId: string; owner: string }
  /** Re-registers ports of a cluster adopted after a restart; they are in use, so no probe. */
  | { type: 'ports.adopt'; requestId: string; lease: Lease };

type Reserve = Extract<PortCommand, { type: 'ports.reserve' }>;

export interface FindPortsInput {
  blocks: PortBlock[];
  taken: number[];
  range: PortRange;
  cursor: number;
}

export interface FindPortsOutput {
  ports: Record<string, number>;
  cursor: number;
}

export interface PortAllocatorContext {
  range: PortRange;
  leases: Record<string, Lease>;
  queue: Reserve[];
  /** Where the next search starts, so recently released ports rest before reuse. */
  cursor: number;
}

export const portAllocatorMachine = setup({
  types: {
    context: {} as PortAllocatorContext,
    input: {} as { range: PortRange },
    events: {} as PortCommand,
    emitted: {} as Answer,
  },
  actors: {
    findFreePorts: fromPromise<FindPortsOutput, FindPortsInput>(async () => {
      throw new Error('findFreePorts is provided by src/actors/ports.actor.ts');
    }),
  },
  guards: {
    hasQueue: ({ context }) => context.queue.length > 0,
  },
  actions: {
    enqueue: assign({
      queue: ({ context, event }) =>
        event.type === 'ports.reserve' ? [...context.queue, event] : context.queue,
    }),
    release: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ports.release') return;
      const leases = Object.fromEntries(
        Object.entries(context.leases).filter(([k]) => !ownedBy(k, event.owner)),
      );
      enqueue.assign({ leases });
      enqueue.emit(answerOk(event.requestId));
    }),
    adopt: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ports.adopt') return;
      enqueue.assign({ leases: { ...context.leases, [event.lease.owner]: event.lease } });
      enqueue.emit(answerOk(event.requestId));
    }),
  },
}).createMachine({
  id: 'ports',
  context: ({ input }) => ({ range: input.range, leases: {}, queue: [], cursor: input.range.from }),
  on: {
    'ports.reserve': { actions: 'enqueue' },
    'ports.release': { actions: 'release' },
    'ports.adopt': { actions: 'adopt' },
  },
  initial: 'idle',
  states: {
    idle: {
      always: { guard: 'hasQueue', target: 'allocating' },
    },
    retrying: { always: 'allocating' },
    allocating: {
      invoke: {
        src: 'findFreePorts',
        input: ({ context }) => {
          const request = context.queue[0]!;
          const taken: number[] = [];
          for (const lease of Object.values(context.leases)) {
            for (const b of lease.blocks) {
              const first = lease.ports[b.name]!;
              for (let p = first; p < first + b.size; p++) taken.push(p);
            }
          }
          return { blocks: request.blocks, taken, range: context.range, cursor: context.cursor };
        },
        onDone: [
          {
            // A lease adopted during the search may hold a port it picked: search again.
            guard: ({ context, event }) => {
              const taken = takenPorts(Object.values(context.leases));
              const blocks = context.queue[0]?.blocks ?? [];
              return blocks.some((b) => {
                const first = event.output.ports[b.name]!;
                for (let p = first; p < first + b.size; p++) if (taken.has(p)) return true;
                return false;
              });
            },
            target: 'retrying',
          },
          {
            target: 'idle',
            actions: enqueueActions(({ context, event, enqueue }) => {
              const [request, ...rest] = context.queue;
              if (!request) return;
              const lease: Lease = {
                owner: request.owner,
                ports: event.output.ports,
                blocks: request.blocks,
              };
              enqueue.assign({
                leases: { ...context.leases, [request.owner]: lease },
                queue: rest,
                cursor: event.output.cursor,
              });
              enqueue.emit(answerOk(request.requestId));
            }),
          },
        ],
        onError: {
          target: 'idle',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const [request, ...rest] = context.queue;
            if (!request) return;
            enqueue.assign({ queue: rest });
            enqueue.emit(answerError(request.requestId, toErrorInfo(event.error)));
          }),
        },
      },
    },
  },
});

export type PortAllocatorActor = ActorRefFrom<typeof portAllocatorMachine>;
