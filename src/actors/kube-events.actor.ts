/**
 * Reads the Kubernetes events of a few objects (a RayCluster, a RayJob, ...) and of the pods of
 * their Ray clusters, on demand, through the connection's client: core v1 events with a field
 * selector per object, bounded in count and time. A 403 makes a note, not a failure; so does a
 * timeout. The pods' container terminations (OOMKilled) are read from the pods themselves.
 */
import { type EventObject, fromCallback } from 'xstate';
import { KubeApiError, type KubeClient, type KubeList } from '../clients/kube.client.js';
import { toErrorInfo } from '../domain/errors.js';
import {
  type KubeEventsRead,
  type RawKubeEvent,
  type RawPodStatus,
  summarizeEvents,
  terminationEvents,
} from '../domain/kube-events.js';
import type { SecretSink } from '../domain/redact.js';
import type { KubeEventsReadEvent, ReadEventsInput } from '../machines/kube-connection.machine.js';
import type { KubeClients } from './kube.actor.js';

/** Pods whose events are read, per request (the ones not ready first). */
const MAX_PODS = 12;
const REQUEST_TIMEOUT_MS = 5000;

export function kubeEventsActors(deps: { clients: KubeClients; secrets?: SecretSink }) {
  return {
    readEvents: fromCallback<EventObject, ReadEventsInput & { requestId: string }>(({ input, sendBack }) => {
      const abort = new AbortController();
      const reply = (e: KubeEventsReadEvent) => {
        if (!abort.signal.aborted) sendBack(e);
      };
      const client = deps.clients.get(input.connectionId);
      if (!client) {
        reply({
          type: 'kube.eventsRead',
          requestId: input.requestId,
          read: { events: [], note: 'events not read: the connection has no client' },
        });
      } else {
        readKubeEvents(client, input, abort.signal, deps.secrets).then(
          (read) => reply({ type: 'kube.eventsRead', requestId: input.requestId, read }),
          (err) =>
            reply({
              type: 'kube.eventsRead',
              requestId: input.requestId,
              read: { events: [], note: `events not read: ${toErrorInfo(err).message.slice(0, 200)}` },
            }),
        );
      }
      return () => abort.abort();
    }),
  };
}

const fieldValue = (s: string) => s.replace(/[\\,=]/g, (c) => `\\${c}`);

export async function readKubeEvents(
  client: KubeClient,
  input: ReadEventsInput,
  signal: AbortSignal,
  secrets?: SecretSink,
): Promise<KubeEventsRead> {
  const ns = encodeURIComponent(input.namespace);
  const notes = new Set<string>();
  const soft = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof KubeApiError && err.status === 403) {
        notes.add(`events not readable (RBAC: list ${/\/pods/.test(err.path) ? 'pods' : 'events'})`);
      } else if (!(err instanceof KubeApiError && err.status === 404)) {
        notes.add(`some events not read (${toErrorInfo(err).message.slice(0, 120)})`);
      }
      return undefined;
    }
  };
  const pods: RawPodStatus[] = [];
  for (const cluster of input.clusters.slice(0, 3)) {
    const list = await soft(() =>
      client.get<KubeList<RawPodStatus & { status?: { conditions?: { type: string; status: string }[] } }>>(
        `/api/v1/namespaces/${ns}/pods`,
        {
          query: { labelSelector: `ray.io/cluster=${cluster}`, limit: 50 },
          signal,
          timeoutMs: REQUEST_TIMEOUT_MS,
        },
      ),
    );
    const ready = (p: { status?: { conditions?: { type: string; status: string }[] } }) =>
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    pods.push(...(list?.items ?? []).sort((a, b) => Number(ready(a)) - Number(ready(b))));
  }
  const names = [
    ...new Set([...input.names, ...pods.map((p) => p.metadata.name), ...(input.pods ?? [])]),
  ].slice(0, input.names.length + MAX_PODS);
  const lists = await Promise.all(
    names.map((name) =>
      soft(() =>
        client.get<KubeList<RawKubeEvent>>(`/api/v1/namespaces/${ns}/events`, {
          query: { fieldSelector: `involvedObject.name=${fieldValue(name)}`, limit: 50 },
          signal,
          timeoutMs: REQUEST_TIMEOUT_MS,
        }),
      ),
    ),
  );
  const raw = [...lists.flatMap((l) => l?.items ?? []), ...terminationEvents(pods)];
  const note = [...notes].join('; ') || undefined;
  return { events: summarizeEvents(raw, { secrets }), ...(note && { note }) };
}
