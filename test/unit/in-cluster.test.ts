/**
 * The pod's ServiceAccount as the `in-cluster` context: when it exists, what it holds, when it is
 * current; and RBAC refusals put in words. The real API server path is test/e2e/in-cluster.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeKubeconfigFiles, readKubeconfigs } from '../../src/clients/kubeconfig.client.js';
import { loadConfig, SERVICEACCOUNT_DIR } from '../../src/config.js';
import { deniedPermission, rbacDenial } from '../../src/domain/kube.js';

function saDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ray-mcp-sa-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const kubeconfig = (current: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'ray-mcp-kc-'));
  const path = join(dir, 'config');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]',
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: laptop, context: {cluster: c, user: u}}]',
      `current-context: "${current}"`,
    ].join('\n'),
  );
  return path;
};

describe('the in-cluster context', () => {
  it('comes from KUBERNETES_SERVICE_HOST/PORT and the service-account directory', () => {
    const env = { HOME: '/home/u', PATH: '/bin' };
    expect(loadConfig({}, env).inCluster).toBeUndefined();
    expect(
      loadConfig({}, { ...env, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })
        .inCluster,
    ).toEqual({ host: '10.96.0.1', port: '443', serviceAccountDir: SERVICEACCOUNT_DIR });
    expect(
      loadConfig(
        {},
        {
          ...env,
          KUBERNETES_SERVICE_HOST: '10.96.0.1',
          KUBERNETES_SERVICE_PORT: '443',
          RAY_MCP_SERVICEACCOUNT_DIR: '/sa',
        },
      ).inCluster?.serviceAccountDir,
    ).toBe('/sa');
  });

  it('exists only with a token file; https, the mounted CA and the namespace file; current without a kubeconfig', async () => {
    const dir = saDir({ token: 'tok\n', 'ca.crt': 'x', namespace: 'team-a\n' });
    const none = [join(dir, 'missing')];
    const { config, inCluster } = await mergeKubeconfigFiles(none, {
      host: 'fd00::1',
      port: '6443',
      serviceAccountDir: dir,
    });
    expect(inCluster).toBe('in-cluster');
    expect(config.getCurrentContext()).toBe('in-cluster');
    expect(config.getCluster('in-cluster')).toMatchObject({
      server: 'https://[fd00::1]:6443',
      caFile: join(dir, 'ca.crt'),
      skipTLSVerify: false,
    });
    expect(config.getContextObject('in-cluster')?.namespace).toBe('team-a');
    // Credentials by reference: client-node rereads the (rotating) file.
    expect(config.getUser('in-cluster')?.authProvider?.config?.tokenFile).toBe(join(dir, 'token'));

    // Port 80 stays https (client-node would pick http there): the token never goes in clear text.
    const http = await mergeKubeconfigFiles(none, { host: '10.0.0.1', port: '80', serviceAccountDir: dir });
    expect(http.config.getCluster('in-cluster')?.server).toBe('https://10.0.0.1:80');

    const noToken = saDir({ 'ca.crt': 'x' });
    const summary = await readKubeconfigs(none, { host: 'h', port: '1', serviceAccountDir: noToken });
    expect(summary.contexts).toEqual([]);
    expect(summary.currentContext).toBeUndefined();
  });

  it("is listed after the kubeconfig's contexts, and the kubeconfig's current context wins", async () => {
    const dir = saDir({ token: 'tok' });
    const s = { host: '10.96.0.1', port: '443', serviceAccountDir: dir };
    const withCurrent = await readKubeconfigs([kubeconfig('laptop')], s);
    expect(withCurrent.contexts.map((c) => c.name)).toEqual(['laptop', 'in-cluster']);
    expect(withCurrent.currentContext).toBe('laptop');
    const noCurrent = await readKubeconfigs([kubeconfig('')], s);
    expect(noCurrent.currentContext).toBe('in-cluster');
    expect(noCurrent.contexts.find((c) => c.name === 'in-cluster')?.namespace).toBeUndefined();
  });
});

describe('RBAC refusals', () => {
  const sa =
    'rayclusters.ray.io "x" is forbidden: User "system:serviceaccount:ray-mcp:ray-mcp" cannot get resource "rayclusters" in API group "ray.io" in the namespace "team-b"';

  it('name who lacks which verb on what, where, and how to grant it', () => {
    expect(deniedPermission(sa)).toEqual({
      user: 'system:serviceaccount:ray-mcp:ray-mcp',
      verb: 'get',
      resource: 'rayclusters.ray.io',
      namespace: 'team-b',
    });
    const d = rbacDenial(sa)!;
    expect(d.text).toBe(
      'Kubernetes RBAC does not let ServiceAccount ray-mcp/ray-mcp get rayclusters.ray.io in namespace team-b (a missing permission, not a ray-mcp error)',
    );
    expect(d.fix).toMatch(/its own is ray-mcp[\s\S]*Role and RoleBinding/);
    const nodes = rbacDenial(
      'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope',
    );
    expect(nodes?.text).toMatch(/user alice list nodes cluster-wide/);
  });

  it('let nothing but Kubernetes names out of the untrusted message', () => {
    expect(rbacDenial('User "a b" cannot get resource "pods"')).toBeUndefined();
    expect(rbacDenial('User "x" cannot get resource "pods; rm -rf /"')).toBeUndefined();
    expect(rbacDenial('User "x" cannot get resource "pods"')?.text).toMatch(/user x get pods cluster-wide/);
    expect(rbacDenial('admission webhook denied the request')).toBeUndefined();
  });
});
