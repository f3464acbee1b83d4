/**
 * The root of the actor system. It owns the long-lived actors (environment, port allocator) and
 * registers every cluster actor under `cluster:<id>`. It leads the shutdown: `system.shutdown`
 * moves it to `stopping`, where (with --on-exit=stop) every cluster is told to stop what it owns,
 * and then, once all have stopped or the time is up, to the final `stopped`.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { LocalClusterSpec } from '../domain/cluster.js';
import type { ClusterRecord } from '../domain/cluster-record.js';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import type { KubeTarget } from '../domain/kube.js';
import type { KubeRayClusterSpec } from '../domain/kuberay.js';
import type { PortRange } from '../domain/ports.js';
import { cloudConnectionMachine, cloudSystemId } from './cloud-connection.machine.js';
import { environmentMachine } from './environment.machine.js';
import { externalClusterMachine } from './external-cluster.machine.js';
import { jobsMachine, jobsSystemId } from './jobs.machine.js';
import { kubeConnectionMachine, kubeSystemId } from './kube-connection.machine.js';
import { kuberayClusterMachine } from './kuberay-cluster.machine.js';
import { localClusterMachine } from './local-cluster.machine.js';
import { portAllocatorMachine } from './port-allocator.machine.js';

export type SupervisorCommand =
  | { type: 'system.shutdown'; reason: string }
  | {
      type: 'cluster.create';
      requestId: string;
      /** Chosen by the user, or `local-N` / `ext-N`. */
      id?: string;
      local?: { spec: LocalClusterSpec; timeoutMs: number };
      external?: { address: string };
      kuberay?: KubeRayClusterRequest;
    }
  /** Make sure a Kubernetes connection actor exists for `id`, (re)connecting it if it is not online. */
  | { type: 'kube.ensure'; requestId: string; id: string; target: KubeTarget }
  /** At start-up, for each cluster in the state file. */
  | { type: 'cluster.adopt'; record: ClusterRecord; alive: boolean; timeoutMs: number };

export type SupervisorFact = { type: 'cluster.stopped'; clusterId: string };

export interface KubeRayClusterRequest {
  connectionId: string;
  namespace: string;
  name: string;
  /** Absent: attach to an existing RayCluster. */
  spec?: KubeRayClusterSpec;
  owned: boolean;
  timeoutMs: number;
}

export interface SupervisorInput {
  startedAt: number;
  onExit: 'stop' | 'keep';
  shutdownTimeoutMs: number;
  portRange: PortRange;
}

export interface ClusterEntry {
  kind: 'local' | 'external' | 'kuberay';
  createdAt: number;
}

export interface SupervisorContext extends SupervisorInput {
  clusters: Record<string, ClusterEntry>;
  /** Kubernetes connection ids with an actor (`kube:<id>`). */
  connections: string[];
  /** Clusters whose actor reached `stopped`. */
  stopped: string[];
  counter: number;
  shutdownReason?: string;
}

export const SYSTEM_IDS = {
  environment: 'environment',
  ports: 'ports',
  cluster: (id: string) => `cluster:${id}`,
} as const;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as SupervisorInput,
    events: {} as SupervisorCommand | SupervisorFact,
    emitted: {} as Answer,
  },
  actors: {
    environment: environmentMachine,
    ports: portAllocatorMachine,
    localCluster: localClusterMachine,
    externalCluster: externalClusterMachine,
    kuberayCluster: kuberayClusterMachine,
    kubeConnection: kubeConnectionMachine,
    jobs: jobsMachine,
    cloudConnection: cloudConnectionMachine,
  },
  delays: {
    shutdownTimeout: ({ context }) => Math.max(0, context.shutdownTimeoutMs - 1000),
  },
  guards: {
    keepOnExit: ({ context }) => context.onExit === 'keep',
    allStopped: ({ context }) => Object.keys(context.clusters).every((id) => context.stopped.includes(id)),
  },
  actions: {
    create: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'cluster.create') return;
      const id = event.id ?? nextId(context, event.local ? 'local' : event.kuberay ? 'ray' : 'ext');
      const n = /^(?:local|ext|ray)-(\d+)$/.exec(id);
      const counter = n ? Math.max(context.counter, Number(n[1])) : context.counter;
      if (context.clusters[id] && !context.stopped.includes(id)) {
        enqueue.emit(
          answerError(event.requestId, {
            code: 'conflict',
            message: `A cluster named ${id} already exists.`,
            fix: 'Pick another name, or stop that cluster first (stop_ray_cluster).',
          }),
        );
        return;
      }
      const createdAt = Date.now();
      // A stopped cluster of the same name makes room for the new one.
      if (context.clusters[id]) {
        enqueue.stopChild(SYSTEM_IDS.cluster(id));
        enqueue.stopChild(jobsSystemId(id));
      }
      enqueue.spawnChild('jobs', {
        id: jobsSystemId(id),
        systemId: jobsSystemId(id),
        input: { clusterId: id },
      });
      if (event.local) {
        enqueue.spawnChild('localCluster', {
          id: SYSTEM_IDS.cluster(id),
          systemId: SYSTEM_IDS.cluster(id),
          input: { id, spec: event.local.spec, timeoutMs: event.local.timeoutMs, createdAt },
        });
      } else if (event.external) {
        enqueue.spawnChild('externalCluster', {
          id: SYSTEM_IDS.cluster(id),
          systemId: SYSTEM_IDS.cluster(id),
          input: { id, address: event.external.address, createdAt },
        });
      } else if (event.kuberay) {
        enqueue.spawnChild('kuberayCluster', {
          id: SYSTEM_IDS.cluster(id),
          systemId: SYSTEM_IDS.cluster(id),
          input: { id, createdAt, ...event.kuberay },
        });
      }
      const kind = event.local ? 'local' : event.kuberay ? 'kuberay' : 'external';
      enqueue.assign({
        counter,
        clusters: { ...context.clusters, [id]: { kind, createdAt } },
        stopped: context.stopped.filter((s) => s !== id),
      });
      enqueue.emit(answerOk(event.requestId, { clusterId: id }));
    }),
    adopt: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'cluster.adopt') return;
      const r = event.record;
      if (r.kind === 'kuberay') {
        if (!context.connections.includes(r.connectionId)) {
          enqueue.spawnChild('kubeConnection', {
            id: kubeSystemId(r.connectionId),
            systemId: kubeSystemId(r.connectionId),
            input: { id: r.connectionId, target: r.target },
          });
          enqueue.assign({ connections: [...context.connections, r.connectionId] });
        }
        enqueue.spawnChild('kuberayCluster', {
          id: SYSTEM_IDS.cluster(r.id),
          systemId: SYSTEM_IDS.cluster(r.id),
          input: {
            id: r.id,
            connectionId: r.connectionId,
            namespace: r.namespace,
            name: r.name,
            owned: r.owned,
            createdAt: r.createdAt,
            timeoutMs: event.timeoutMs,
          },
        });
      } else if (r.kind === 'local') {
        enqueue.spawnChild('localCluster', {
          id: SYSTEM_IDS.cluster(r.id),
          systemId: SYSTEM_IDS.cluster(r.id),
          input: {
            id: r.id,
            spec: r.spec,
            timeoutMs: event.timeoutMs,
            createdAt: r.createdAt,
            adopt: { record: r, alive: event.alive },
          },
        });
      } else {
        enqueue.spawnChild('externalCluster', {
          id: SYSTEM_IDS.cluster(r.id),
          systemId: SYSTEM_IDS.cluster(r.id),
          input: { id: r.id, address: r.address, createdAt: r.createdAt },
        });
      }
      enqueue.spawnChild('jobs', {
        id: jobsSystemId(r.id),
        systemId: jobsSystemId(r.id),
        input: { clusterId: r.id },
      });
      const n = /^(?:local|ext|ray)-(\d+)$/.exec(r.id);
      enqueue.assign({
        clusters: { ...context.clusters, [r.id]: { kind: r.kind, createdAt: r.createdAt } },
        counter: n ? Math.max(context.counter, Number(n[1])) : context.counter,
      });
    }),
    ensureConnection: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'kube.ensure') return;
      if (!context.connections.includes(event.id)) {
        enqueue.spawnChild('kubeConnection', {
          id: kubeSystemId(event.id),
          systemId: kubeSystemId(event.id),
          input: { id: event.id, target: event.target },
        });
        enqueue.assign({ connections: [...context.connections, event.id] });
      } else {
        enqueue.sendTo(kubeSystemId(event.id), {
          type: 'kube.connect',
          requestId: `${event.requestId}:reconnect`,
        });
      }
      enqueue.emit(answerOk(event.requestId, { connectionId: event.id }));
    }),
    assignReason: assign({
      shutdownReason: ({ event }) => (event.type === 'system.shutdown' ? event.reason : undefined),
    }),
    noteStopped: assign({
      stopped: ({ context, event }) =>
        event.type === 'cluster.stopped' && !context.stopped.includes(event.clusterId)
          ? [...context.stopped, event.clusterId]
          : context.stopped,
    }),
    stopClusters: enqueueActions(({ context, enqueue }) => {
      for (const id of Object.keys(context.clusters)) {
        if (!context.stopped.includes(id))
          enqueue.sendTo(SYSTEM_IDS.cluster(id), { type: 'cluster.shutdown' });
      }
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ ...input, clusters: {}, connections: [], stopped: [], counter: 0 }),
  invoke: [
    { id: SYSTEM_IDS.environment, systemId: SYSTEM_IDS.environment, src: 'environment' },
    {
      id: SYSTEM_IDS.ports,
      systemId: SYSTEM_IDS.ports,
      src: 'ports',
      input: ({ context }) => ({ range: context.portRange }),
    },
    // GKE and EKS connections. An actor that crashes is gone: the cloud tools then say so, the rest keeps serving.
    ...(['gke', 'eks'] as const).map((provider) => ({
      id: cloudSystemId(provider),
      systemId: cloudSystemId(provider),
      src: 'cloudConnection' as const,
      input: { provider },
      onError: { actions: [] },
    })),
  ],
  on: {
    'cluster.stopped': { actions: 'noteStopped' },
  },
  initial: 'running',
  states: {
    running: {
      on: {
        'cluster.create': { actions: 'create' },
        'cluster.adopt': { actions: 'adopt' },
        'kube.ensure': { actions: 'ensureConnection' },
        'system.shutdown': [
          { guard: 'keepOnExit', target: 'stopped', actions: 'assignReason' },
          { target: 'stopping', actions: 'assignReason' },
        ],
      },
    },
    stopping: {
      entry: 'stopClusters',
      always: { guard: 'allStopped', target: 'stopped' },
      after: { shutdownTimeout: 'stopped' },
      on: {
        'cluster.create': {
          actions: enqueueActions(({ event, enqueue }) => {
            if (event.type !== 'cluster.create') return;
            enqueue.emit(
              answerError(event.requestId, {
                code: 'shutting_down',
                message: 'ray-mcp is shutting down.',
                fix: 'Restart the MCP server and try again.',
              }),
            );
          }),
        },
      },
    },
    stopped: { type: 'final' },
  },
});

function nextId(context: SupervisorContext, prefix: string): string {
  let n = context.counter + 1;
  while (context.clusters[`${prefix}-${n}`]) n++;
  return `${prefix}-${n}`;
}
