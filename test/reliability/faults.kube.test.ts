/**
 * Faults against the Kubernetes test bed (real etcd, API server and KubeRay operator), through a
 * real MCP client and the built server: the API server and, separately, etcd are restarted while
 * the world changes behind ray-mcp's back (a worker group scaled, RayClusters deleted and created,
 * RayJobs deleted and created). After each outage the tools must end up showing exactly what the
 * API server holds: 0 missed transitions. Figures go to the `faults` suite of docs/RELIABILITY.md.
 *
 * While the API server is down the changes are written straight into etcd (the API server stores
 * custom resources as JSON there), so they truly happen during the outage. While etcd is down
 * nothing can be written anywhere, so those changes are made the moment etcd is healthy again,
 * before ray-mcp's watches have recovered.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import { recordFigures } from '../helpers/figures.js';
import { callOk, type StdioServer, startStdioServer } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';
import { apply, kubeRequest, restartApiserver, restartEtcd, useTestbed } from '../helpers/testbed.js';

const NS = 'faults';
const MATCH_BOUND_MS = 60_000;
let bed: TestbedState;
let server: StdioServer;
const figures = {
  restarts: 0,
  changesDuringOutages: 0,
  missedTransitions: 0,
  secondsToMatch: [] as number[],
};

const rcPath = (name = '') => `/apis/ray.io/v1/namespaces/${NS}/rayclusters${name ? `/${name}` : ''}`;
const rjPath = (name = '') => `/apis/ray.io/v1/namespaces/${NS}/rayjobs${name ? `/${name}` : ''}`;

// etcd's v3 JSON gateway: keys and values are base64.
const b64 = (s: string) => Buffer.from(s).toString('base64');
const etcdKey = (resource: string, name: string) => `/registry/ray.io/${resource}/${NS}/${name}`;
async function etcd(op: 'range' | 'put' | 'deleterange', body: Record<string, string>) {
  const res = await fetch(`http://127.0.0.1:${bed.ports.etcd}/v3/kv/${op}`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`etcd ${op}: ${res.status} ${await res.text()}`);
  // biome-ignore lint/suspicious/noExplicitAny: etcd's gateway JSON, read ad hoc
  return (await res.json()) as any;
}
async function etcdGet(resource: string, name: string) {
  const r = await etcd('range', { key: b64(etcdKey(resource, name)) });
  if (!r.kvs?.length) throw new Error(`${etcdKey(resource, name)} is not in etcd`);
  return JSON.parse(Buffer.from(r.kvs[0].value, 'base64').toString('utf8'));
}
const etcdPut = (resource: string, name: string, obj: unknown) =>
  etcd('put', { key: b64(etcdKey(resource, name)), value: b64(JSON.stringify(obj)) });
async function etcdDelete(resource: string, name: string) {
  const r = await etcd('deleterange', { key: b64(etcdKey(resource, name)) });
  if (r.deleted !== '1') throw new Error(`${etcdKey(resource, name)}: not deleted`);
}

function foreignCluster(name: string) {
  return {
    apiVersion: 'ray.io/v1',
    kind: 'RayCluster',
    metadata: { name, namespace: NS },
    spec: {
      rayVersion: '2.60.0',
      headGroupSpec: {
        rayStartParams: {},
        template: { spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.60.0' }] } },
      },
      workerGroupSpecs: [],
    },
  };
}

function foreignRayJob(name: string) {
  return {
    apiVersion: 'ray.io/v1',
    kind: 'RayJob',
    metadata: { name, namespace: NS },
    spec: { entrypoint: 'python -c "print(1)"', clusterSelector: { 'ray.io/cluster': 'f-a' } },
  };
}

interface World {
  clusters: string[];
  replicas: Record<string, number>;
  rayjobs: string[];
}

/** What the API server holds. */
async function worldView(): Promise<World> {
  const rcs = (await kubeRequest(bed, 'GET', rcPath())).json.items as {
    metadata: { name: string };
    spec: { workerGroupSpecs?: { groupName: string; replicas?: number }[] };
  }[];
  const rjs = (await kubeRequest(bed, 'GET', rjPath())).json.items as { metadata: { name: string } }[];
  const fa = rcs.find((c) => c.metadata.name === 'f-a');
  return {
    clusters: rcs.map((c) => c.metadata.name).sort(),
    replicas: Object.fromEntries(
      (fa?.spec.workerGroupSpecs ?? []).map((g) => [g.groupName, g.replicas ?? 0]),
    ),
    rayjobs: rjs.map((j) => j.metadata.name).sort(),
  };
}

/** What ray-mcp shows through its tools. A cluster it shows as stopped is gone. */
async function toolView(): Promise<World> {
  const l = await callOk<{ clusters: { cluster_id: string; status?: string }[] }>(
    server.client,
    'list_ray_clusters',
    { namespace: NS },
  );
  const v = await callOk<{ kubernetes: { worker_groups: { group_name: string; replicas: number }[] } }>(
    server.client,
    'inspect_ray_cluster',
    { cluster_id: 'f-a' },
  );
  const j = await callOk<{ rayjobs: { name: string }[] }>(server.client, 'list_kuberay_jobs', {
    namespace: NS,
    limit: 100,
  });
  return {
    clusters: l.clusters
      .filter((c) => c.status !== 'stopped')
      .map((c) => c.cluster_id)
      .sort(),
    replicas: Object.fromEntries(v.kubernetes.worker_groups.map((g) => [g.group_name, g.replicas])),
    rayjobs: j.rayjobs.map((r) => r.name).sort(),
  };
}

type Change = { what: string; seen: (w: World) => boolean };

/** Polls until the tools show what the API server holds (bounded); counts changes never seen. */
async function settle(changes: Change[], since: number) {
  let last = '';
  let want = '';
  const matched = await waitFor(
    'the tools to show what the API server holds',
    async () => {
      const [w, t] = await Promise.all([worldView(), toolView()]);
      last = JSON.stringify(t);
      want = JSON.stringify(w);
      return last === want && t;
    },
    MATCH_BOUND_MS,
    500,
  ).catch(() => undefined);
  const seconds = Math.round((Date.now() - since) / 100) / 10;
  const finalView = matched ?? (await toolView());
  const missed = changes.filter((c) => !c.seen(finalView)).map((c) => c.what);
  figures.changesDuringOutages += changes.length;
  figures.missedTransitions += missed.length;
  figures.secondsToMatch.push(seconds);
  return { matched: !!matched, missed, seconds, last, want };
}

beforeAll(async () => {
  bed = await useTestbed();
  await apply(bed, `/api/v1/namespaces/${NS}`, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  server = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig } });
  for (const name of ['f-a', 'f-b']) {
    await callOk(
      server.client,
      'init_ray_cluster',
      {
        cluster_type: 'kubernetes',
        cluster_name: name,
        namespace: NS,
        head_node_spec: { num_cpus: 1, memory: '1Gi' },
        worker_node_specs: [{ group_name: 'cpu', replicas: 1, max_replicas: 4, num_cpus: 1, memory: '1Gi' }],
        timeout_seconds: 120,
      },
      180_000,
    );
  }
  for (const name of ['fj-1', 'fj-2']) {
    await callOk(server.client, 'submit_ray_job', {
      job_type: 'rayjob',
      cluster_id: 'f-a',
      rayjob: name,
      entrypoint: 'python -c "print(1)"',
    });
  }
}, 400_000);

afterAll(async () => {
  await server?.close();
  if (bed) {
    for (const path of [rjPath(), rcPath()]) {
      const items = ((await kubeRequest(bed, 'GET', path)).json.items ?? []) as {
        metadata: { name: string };
      }[];
      for (const i of items) await kubeRequest(bed, 'DELETE', `${path}/${i.metadata.name}`);
    }
  }
  recordFigures('faults', {
    tried: [
      'Kubernetes: the API server restarted while etcd was changed behind it (a worker group scaled, a RayCluster and a RayJob deleted, a RayCluster created), then etcd restarted with the same kinds of change made the moment it was back; the tools polled until they showed what the API server holds.',
    ],
    figures: {
      'kube restarts (API server, etcd)': figures.restarts,
      'kube changes made during outages': figures.changesDuringOutages,
      'kube missed transitions': figures.missedTransitions,
      'kube seconds until the view matched (per restart)': figures.secondsToMatch.join(', '),
    },
    held: [
      figures.missedTransitions === 0
        ? `0 missed transitions after ${figures.restarts} restarts: every change made during an outage was shown within ${MATCH_BOUND_MS / 1000} s.`
        : `${figures.missedTransitions} missed transitions after ${figures.restarts} restarts.`,
    ],
  });
}, 120_000);

describe('Kubernetes control-plane faults', () => {
  it('shows every change made while the API server was down', async () => {
    const before = await waitFor(
      'the tools to show the starting state',
      async () => {
        const [w, t] = await Promise.all([worldView(), toolView()]);
        return JSON.stringify(w) === JSON.stringify(t) && t;
      },
      MATCH_BOUND_MS,
      500,
    );
    expect(before).toMatchObject({ clusters: ['f-a', 'f-b'], rayjobs: ['fj-1', 'fj-2'] });

    await restartApiserver(bed, 1000, async () => {
      const fa = await etcdGet('rayclusters', 'f-a');
      fa.spec.workerGroupSpecs[0].replicas = 3;
      fa.metadata.generation = (fa.metadata.generation ?? 1) + 1;
      await etcdPut('rayclusters', 'f-a', fa);
      const fb = await etcdGet('rayclusters', 'f-b');
      await etcdDelete('rayclusters', 'f-b');
      // A RayCluster ray-mcp never made: f-b's spec under a new name, uid and no status.
      const fc = { ...fb, metadata: { name: 'f-c', namespace: NS, uid: randomUUID(), generation: 1 } };
      fc.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      delete fc.status;
      await etcdPut('rayclusters', 'f-c', fc);
      await etcdDelete('rayjobs', 'fj-2');
    });
    figures.restarts++;
    const r = await settle(
      [
        { what: 'f-a cpu scaled to 3', seen: (w) => w.replicas.cpu === 3 },
        { what: 'f-b deleted', seen: (w) => !w.clusters.includes('f-b') },
        { what: 'f-c created', seen: (w) => w.clusters.includes('f-c') },
        { what: 'fj-2 deleted', seen: (w) => !w.rayjobs.includes('fj-2') },
      ],
      Date.now(),
    );
    expect(r.missed, `tools ${r.last}; API server ${r.want}`).toEqual([]);
    expect(r.matched, `tools ${r.last}; API server ${r.want}`).toBe(true);
  }, 200_000);

  it('shows every change made as etcd came back', async () => {
    await restartEtcd(bed, 1500);
    figures.restarts++;
    const since = Date.now();
    await kubeRequest(
      bed,
      'PATCH',
      rcPath('f-a'),
      [{ op: 'replace', path: '/spec/workerGroupSpecs/0/replicas', value: 2 }],
      'application/json-patch+json',
    ).then((r) => expect(r.status).toBe(200));
    expect((await kubeRequest(bed, 'DELETE', rcPath('f-c'))).status).toBe(200);
    await apply(bed, rcPath('f-d'), foreignCluster('f-d'));
    await apply(bed, rjPath('fj-3'), foreignRayJob('fj-3'));
    const r = await settle(
      [
        { what: 'f-a cpu scaled to 2', seen: (w) => w.replicas.cpu === 2 },
        { what: 'f-c deleted', seen: (w) => !w.clusters.includes('f-c') },
        { what: 'f-d created', seen: (w) => w.clusters.includes('f-d') },
        { what: 'fj-3 created', seen: (w) => w.rayjobs.includes('fj-3') },
      ],
      since,
    );
    expect(r.missed, `tools ${r.last}; API server ${r.want}`).toEqual([]);
    expect(r.matched, `tools ${r.last}; API server ${r.want}`).toBe(true);
  }, 200_000);
});
