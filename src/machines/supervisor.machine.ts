/**
 * The root of the actor system. It owns the long-lived actors (environment, and later the port
 * allocator, clusters, jobs and connections, each registered under a systemId) and leads the
 * shutdown: `system.shutdown` moves it to `stopping`, where its children get the chance to stop
 * what they own, and then to the final `stopped`. Leaving `running` stops every invoked child.
 */
import { assign, setup } from 'xstate';
import { environmentMachine } from './environment.machine.js';

export type SupervisorCommand = { type: 'system.shutdown'; reason: string };

export interface SupervisorContext {
  startedAt: number;
  shutdownReason?: string;
}

export const SYSTEM_IDS = {
  environment: 'environment',
} as const;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as { startedAt: number },
    events: {} as SupervisorCommand,
  },
  actors: {
    environment: environmentMachine,
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ startedAt: input.startedAt }),
  initial: 'running',
  states: {
    running: {
      invoke: { id: SYSTEM_IDS.environment, systemId: SYSTEM_IDS.environment, src: 'environment' },
      on: {
        'system.shutdown': {
          target: 'stopped',
          actions: assign({ shutdownReason: ({ event }) => event.reason }),
        },
      },
    },
    stopped: { type: 'final' },
  },
});
