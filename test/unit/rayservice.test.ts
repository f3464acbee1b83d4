/**
 * RayServices, the pure parts and the tools on the fake world: the manifest (serveConfigV2 from the
 * Serve app config, rayClusterConfig from the RayCluster spec), the summary of KubeRay's status, the
 * diff a dry run shows, the machine with controlled I/O, and deploy/list/delete through a real MCP
 * client with their refusals (a foreign RayService without cluster_id, a protected one).
 */
import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { toKubeRaySpec } from '../../src/domain/kuberay.js';
import {
  objectDiff,
  type RayServiceApplyResult,
  rayServiceManifest,
  rayServiceState,
  summarizeRayService,
} from '../../src/domain/rayservice.js';
import { rayServiceSignature } from '../../src/domain/tools/serve.js';
import { rayServiceMachine } from '../../src/machines/rayservice.machine.js';
import { fakeServers, ok, refused } from '../helpers/fake-server.js';
import { deferred, drive } from '../helpers/machine.js';

const manifest = (replicas = 1, importPath = 'app:app') =>
  rayServiceManifest({
    name: 'svc',
    namespace: 'ns',
    apps: [{ name: 'svc', import_path: importPath, route_prefix: '/svc' }],
    cluster: toKubeRaySpec({
      name: 'svc',
      namespace: 'ns',
      workers: [{ group_name: 'cpu', replicas, num_cpus: '1' }],
    }),
  });

const live = (m: ReturnType<typeof manifest>, status: Record<string, unknown> = {}, labels?: object) => ({
  ...m,
  metadata: { ...m.metadata, uid: 'u', generation: 1, ...(labels && { labels }) },
  status,
});

describe('RayService manifest, summary and diff', () => {
  it('builds serveConfigV2 from the app config and rayClusterConfig from the RayCluster spec, labelled ours', () => {
    const m = manifest();
    expect(m).toMatchObject({ apiVersion: 'ray.io/v1', kind: 'RayService' });
    expect(m.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'ray-mcp' });
    expect(JSON.parse(m.spec.serveConfigV2)).toEqual({
      applications: [{ name: 'svc', import_path: 'app:app', route_prefix: '/svc' }],
    });
    expect(m.spec.rayClusterConfig.workerGroupSpecs[0]).toMatchObject({ groupName: 'cpu', replicas: 1 });
    const ports = m.spec.rayClusterConfig.headGroupSpec.template.spec.containers[0]!.ports!;
    expect(ports).toContainEqual({ containerPort: 8000, name: 'serve' });
  });

  it("reads KubeRay's status: active and pending cluster, upgrade in progress, app statuses", () => {
    const s = summarizeRayService(
      live(manifest(), {
        conditions: [
          { type: 'Ready', status: 'True', reason: 'NonZeroServeEndpoints' },
          { type: 'UpgradeInProgress', status: 'True', reason: 'BothActivePendingClustersExist' },
        ],
        observedGeneration: 2,
        numServeEndpoints: 1,
        activeServiceStatus: {
          rayClusterName: 'svc-abcde',
          applicationStatuses: {
            svc: { status: 'RUNNING', serveDeploymentStatuses: { D: { status: 'HEALTHY' } } },
          },
        },
        pendingServiceStatus: { rayClusterName: 'svc-fghij' },
      }),
    );
    expect(s).toMatchObject({
      managedByUs: true,
      ready: true,
      upgradeInProgress: true,
      observedGeneration: 2,
      serveEndpoints: 1,
      active: {
        cluster: 'svc-abcde',
        apps: [{ name: 'svc', status: 'RUNNING', deployments: { D: 'HEALTHY' } }],
      },
      pending: { cluster: 'svc-fghij', apps: [] },
      specApps: ['svc'],
    });
    expect(rayServiceState(s)).toBe('Upgrading');
    expect(rayServiceState(summarizeRayService(live(manifest())))).toBe('Initializing');
  });

  it("moves the resource's signature on a changed spec even when KubeRay writes no status for it", () => {
    const sig = (o: ReturnType<typeof live>) =>
      rayServiceSignature({ context: { summary: summarizeRayService(o) } });
    const status = { observedGeneration: 1, pendingServiceStatus: { rayClusterName: 'svc-abcde' } };
    const before = live(manifest(), status);
    // A replicas-only change: KubeRay updates the pending cluster in place and, with no condition
    // or cluster name changing, leaves status (observedGeneration among it) as it was.
    const after = live(manifest(2), status);
    after.metadata.generation = 2;
    expect(sig(after)).not.toBe(sig(before));
    expect(sig(live(manifest(), status))).toBe(sig(before));
    expect(sig(live(manifest(), { ...status, numServeEndpoints: 1 }))).not.toBe(sig(before));
  });

  it('diffs leaf by leaf, into serveConfigV2; the same spec is no diff; status is left out', () => {
    expect(objectDiff(live(manifest()), live(manifest(), { serviceStatus: 'Running' }))).toEqual([]);
    // The operator's `scaleStrategy: {}` is what an apply without it means.
    const operated = live(manifest());
    Object.assign(operated.spec.rayClusterConfig.workerGroupSpecs[0]!, { scaleStrategy: {} });
    expect(objectDiff(operated, live(manifest()))).toEqual([]);
    const diff = objectDiff(live(manifest()), live(manifest(3, 'app2:app')));
    expect(diff).toEqual([
      { path: 'spec.rayClusterConfig.workerGroupSpecs[0].maxReplicas', before: '1', after: '3' },
      { path: 'spec.rayClusterConfig.workerGroupSpecs[0].replicas', before: '1', after: '3' },
      { path: 'spec.serveConfigV2.applications[0].import_path', before: 'app:app', after: 'app2:app' },
    ]);
  });
});

describe('rayServiceMachine', () => {
  function start(apply: () => Promise<RayServiceApplyResult>) {
    const deletes: string[] = [];
    const machine = rayServiceMachine.provide({
      actors: {
        applyRayService: fromPromise(apply),
        deleteRayService: fromPromise(async ({ input }) => {
          deletes.push(input.name);
        }),
      },
    });
    return { ...drive(machine, { input: { connectionId: 'c', namespace: 'ns', name: 'svc' } }), deletes };
  }

  it('applies one change at a time, answers with the diff, and follows the informer until gone', async () => {
    const done = deferred<RayServiceApplyResult>();
    const t = start(() => done.promise);
    const first = t.send({ type: 'rayservice.apply', manifest: manifest(), dryRun: false });
    expect(t.state()).toBe('applying');
    const second = t.send({ type: 'rayservice.delete' });
    expect(await t.answered(second)).toMatchObject({ ok: false, error: { code: 'conflict' } });
    const s = summarizeRayService(live(manifest()));
    done.resolve({ created: true, changed: true, diff: [], summary: s });
    expect(await t.answered(first)).toMatchObject({ ok: true, data: { created: true, changed: true } });
    expect(t.context().summary?.name).toBe('svc');
    const gone = t.send({ type: 'rayservice.awaitGone' });
    expect(t.answerTo(gone)).toBeUndefined();
    expect(await t.ask({ type: 'rayservice.delete' })).toMatchObject({ ok: true });
    expect(t.deletes).toEqual(['svc']);
    t.actor.send({ type: 'k8s.rayServiceGone' });
    expect(await t.answered(gone)).toMatchObject({ ok: true });
    expect(t.context().summary).toBeUndefined();
  });

  it('keeps the live object on a dry run', async () => {
    const t = start(async () => ({
      created: true,
      changed: true,
      diff: [],
      summary: summarizeRayService(live(manifest())),
    }));
    expect(await t.ask({ type: 'rayservice.apply', manifest: manifest(), dryRun: true })).toMatchObject({
      ok: true,
    });
    expect(t.context().summary).toBeUndefined();
  });
});

describe('Serve tools on KubeRay (fake world)', () => {
  const start = fakeServers();
  const kube = () => start((w) => w.kube.addContext('kind-dev'));
  const args = { name: 'svc', import_path: 'app:app', cluster_type: 'kubernetes' };

  it('applies a RayService, idempotently; a dry run shows the diff and changes nothing', async () => {
    const s = await kube();
    const created = await ok(s.client, 'deploy_serve_app', args);
    expect(created).toMatchObject({
      created: true,
      changed: true,
      rayservice: { name: 'svc', namespace: 'default', context: 'kind-dev', owned: true },
    });
    expect(created.rayservice.uri).toBe('ray://kubernetes/kind-dev/namespaces/default/rayservices/svc');
    const stored = s.world.kube.apis.get('kind-dev')!.rayServices.get('default/svc') as {
      spec: { serveConfigV2: string };
    };
    expect(JSON.parse(stored.spec.serveConfigV2).applications[0]).toMatchObject({
      import_path: 'app:app',
      route_prefix: '/svc',
    });

    expect(await ok(s.client, 'deploy_serve_app', args)).toMatchObject({ created: false, changed: false });
    const dry = await ok(s.client, 'deploy_serve_app', { ...args, import_path: 'app2:app', dry_run: true });
    expect(dry).toMatchObject({ dry_run: true, changed: true });
    expect(dry.diff).toContainEqual({
      path: 'spec.serveConfigV2.applications[0].import_path',
      before: 'app:app',
      after: 'app2:app',
    });
    const after = s.world.kube.apis.get('kind-dev')!.rayServices.get('default/svc') as {
      spec: { serveConfigV2: string };
    };
    expect(JSON.parse(after.spec.serveConfigV2).applications[0].import_path).toBe('app:app');

    const list = await ok(s.client, 'list_serve_apps', { cluster_type: 'kubernetes' });
    expect(list.rayservices.map((r: { name: string }) => r.name)).toEqual(['svc']);
    const one = await ok(s.client, 'list_serve_apps', { cluster_type: 'kubernetes', name: 'svc' });
    expect(one.rayservices[0]).toMatchObject({ name: 'svc', state: 'Initializing', conditions: [] });
  });

  it('deletes its own; a foreign one only when cluster_id names it too; a protected one never', async () => {
    const s = await kube();
    await ok(s.client, 'deploy_serve_app', args);
    const foreign = (name: string, extra: object = {}) =>
      s.world.kube.putRayService('kind-dev', {
        apiVersion: 'ray.io/v1',
        kind: 'RayService',
        metadata: { name, namespace: 'default', uid: `u-${name}`, generation: 1, ...extra },
        spec: { serveConfigV2: '' },
        status: {},
      });
    foreign('theirs');
    foreign('guarded', { labels: { 'ray-mcp/protected': 'true' } });
    // Watch events reach the informer after the call that made them (a timer later).
    await new Promise((r) => setTimeout(r, 20));
    const listed = await ok(s.client, 'list_serve_apps', { cluster_type: 'kubernetes' });
    expect(listed.rayservices.map((r: { name: string; owned: boolean }) => [r.name, r.owned])).toEqual([
      ['guarded', false],
      ['svc', true],
      ['theirs', false],
    ]);
    await refused(
      s.client,
      'delete_serve_app',
      { name: 'theirs', cluster_type: 'kubernetes' },
      /did not create[\s\S]*cluster_id="theirs"/,
    );
    await refused(
      s.client,
      'delete_serve_app',
      { name: 'guarded', cluster_type: 'kubernetes', cluster_id: 'guarded' },
      /protected/,
    );
    await refused(s.client, 'deploy_serve_app', { ...args, name: 'theirs' }, /did not create/);
    expect(await ok(s.client, 'delete_serve_app', { name: 'svc', cluster_type: 'kubernetes' })).toMatchObject(
      { deleted: true },
    );
    expect(
      await ok(s.client, 'delete_serve_app', {
        name: 'theirs',
        cluster_type: 'kubernetes',
        cluster_id: 'theirs',
      }),
    ).toMatchObject({
      deleted: true,
    });
    expect(await ok(s.client, 'delete_serve_app', { name: 'svc', cluster_type: 'kubernetes' })).toMatchObject(
      { deleted: false },
    );
  });

  it('refuses what a RayService cannot take', async () => {
    const s = await kube();
    await refused(
      s.client,
      'deploy_serve_app',
      { ...args, runtime_env: { working_dir: '/home/me/app' } },
      /local folder/,
    );
    await refused(
      s.client,
      'deploy_serve_app',
      { ...args, name: 'Not_A_K8s_Name' },
      /cannot name a RayService/,
    );
    await refused(
      s.client,
      'deploy_serve_app',
      { import_path: 'app:app', dry_run: true },
      /apply to a KubeRay RayService only/,
    );
  });
});
