/**
 * The manifests of deploy/ parse, expose nothing beyond the cluster and grant no wildcard; the
 * e2e file test/e2e/in-cluster.test.ts applies their RBAC to a real API server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes manifests, read ad hoc
type Manifest = any;

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');

describe('deploy/ manifests', () => {
  it('parse, expose nothing beyond the cluster, and grant no wildcard', () => {
    const docs: Manifest[] = [];
    for (const file of readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of loadAll(readFileSync(join(DEPLOY, file), 'utf8')) as Manifest[])
        if (doc) docs.push(doc);
    }
    const kinds = docs.map((d) => d.kind);
    for (const kind of ['Deployment', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'Service'])
      expect(kinds).toContain(kind);
    for (const svc of docs.filter((d) => d.kind === 'Service'))
      expect(svc.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    for (const role of docs.filter((d) => d.kind === 'Role' || d.kind === 'ClusterRole')) {
      for (const rule of role.rules) {
        for (const list of [rule.verbs, rule.resources, rule.apiGroups]) expect(list).not.toContain('*');
        expect(rule.resources).not.toContain('secrets');
      }
    }
    const cluster = docs.find((d) => d.kind === 'ClusterRole');
    expect(cluster.rules.flatMap((r: Manifest) => r.verbs)).toEqual(['list']);
  });

  it('grant every KubeRay resource the tools use, and hold every deletable one to the admission policy', () => {
    const docs = ['rbac.yaml', 'admission-policy.yaml'].flatMap(
      (f) => loadAll(readFileSync(join(DEPLOY, f), 'utf8')) as Manifest[],
    );
    const role = docs.find((d) => d?.kind === 'Role');
    const rayRules = role.rules.filter((r: Manifest) => r.apiGroups.includes('ray.io'));
    const granted = rayRules.flatMap((r: Manifest) => r.resources).sort();
    // The kuberay toolset: clusters (init/scale/stop), RayJobs (submit/cancel), RayServices (Serve tools).
    expect(granted).toEqual(['rayclusters', 'rayjobs', 'rayservices']);
    const deletable = rayRules
      .filter((r: Manifest) => r.verbs.includes('delete'))
      .flatMap((r: Manifest) => r.resources)
      .sort();
    const policy = docs.find((d) => d?.kind === 'ValidatingAdmissionPolicy');
    const held = policy.spec.matchConstraints.resourceRules
      .filter((r: Manifest) => r.operations.includes('DELETE') && r.apiGroups.includes('ray.io'))
      .flatMap((r: Manifest) => r.resources)
      .sort();
    expect(held).toEqual(deletable);
  });

  it('run the server as the guide says: non-root, read-only root, the token from a Secret file, health probes', () => {
    const docs = loadAll(readFileSync(join(DEPLOY, 'deployment.yaml'), 'utf8')) as Manifest[];
    const pod = docs[0].spec.template.spec;
    const c = pod.containers[0];
    expect(pod.serviceAccountName).toBe('ray-mcp');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(c.args).toEqual([
      '--http',
      '0.0.0.0:8000',
      '--http-token-file',
      '/var/run/ray-mcp/http-token/token',
    ]);
    const tokenVolume = pod.volumes.find((v: Manifest) => v.name === 'http-token');
    expect(tokenVolume.secret.secretName).toBe('ray-mcp-http-token');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/healthz');
    expect(c.resources.limits.memory).toBeTruthy();
    const kustomization = loadAll(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8'))[0] as Manifest;
    const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });
});
