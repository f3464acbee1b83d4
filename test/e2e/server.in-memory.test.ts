/**
 * The same app in-process over InMemoryTransport, with real probes: the Ray from the project venv.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PINNED_RAY_VERSION } from '../../src/clients/ray-cli.client.js';
import { type InMemoryServer, startInMemoryServer, textOf } from '../helpers/mcp.js';

let s: InMemoryServer;
beforeAll(async () => {
  s = await startInMemoryServer();
});
afterAll(() => s.close());

describe('check_environment', () => {
  it('reports the pinned Ray from the project venv, and Python next to it', async () => {
    const res = await s.client.callTool({ name: 'check_environment', arguments: {} });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({
      ready: { localRay: true },
      ray: { found: true, version: PINNED_RAY_VERSION, source: 'venv' },
      python: { found: true },
      node: { found: true, version: process.version },
    });
    expect(textOf(res)).toContain(`Ray ${PINNED_RAY_VERSION}`);
  });

  it('answers concurrent checks from one probe', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => s.client.callTool({ name: 'check_environment', arguments: {} })),
    );
    const times = new Set(results.map((r) => (r.structuredContent as { checkedAt: string }).checkedAt));
    expect(results.every((r) => !r.isError)).toBe(true);
    expect(times.size).toBe(1);
  });

  it('reads kubeconfig contexts from every KUBECONFIG file, first current-context wins, no credentials', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { inject } = await import('vitest');
    const dir = mkdtempSync(join(inject('testRoot'), 'kube-'));
    const kc = (ctx: string, current: string) => `apiVersion: v1
kind: Config
current-context: ${current}
clusters: [{name: c-${ctx}, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u-${ctx}, user: {token: SECRET-${ctx}}}]
contexts: [{name: ${ctx}, context: {cluster: c-${ctx}, user: u-${ctx}, namespace: ns-${ctx}}}]
`;
    writeFileSync(join(dir, 'a'), kc('alpha', 'alpha'));
    writeFileSync(join(dir, 'b'), kc('beta', 'beta'));
    const other = await startInMemoryServer(
      {},
      { KUBECONFIG: `${join(dir, 'a')}:${join(dir, 'b')}:${join(dir, 'missing')}` },
    );
    try {
      const res = await other.client.callTool({
        name: 'check_environment',
        arguments: { sections: ['kubernetes'] },
      });
      expect(res.structuredContent).toMatchObject({
        ready: { kubernetes: true },
        kubernetes: {
          currentContext: 'alpha',
          contexts: [
            { name: 'alpha', cluster: 'c-alpha', namespace: 'ns-alpha' },
            { name: 'beta', cluster: 'c-beta', namespace: 'ns-beta' },
          ],
          kubeconfigs: [
            { path: join(dir, 'a'), exists: true },
            { path: join(dir, 'b'), exists: true },
            { path: join(dir, 'missing'), exists: false },
          ],
        },
      });
      expect(JSON.stringify(res)).not.toContain('SECRET-');
    } finally {
      await other.close();
    }
  });

  it('detects cloud credentials by kind and never shows a secret', async () => {
    const { mkdtempSync, writeFileSync, mkdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { inject } = await import('vitest');
    const home = mkdtempSync(join(inject('testRoot'), 'home-'));
    mkdirSync(join(home, '.aws'));
    writeFileSync(
      join(home, '.aws', 'credentials'),
      '[default]\naws_access_key_id=AKIAFAKE\naws_secret_access_key=SECRET-AWS\n',
    );
    writeFileSync(
      join(home, '.aws', 'config'),
      '[profile dev]\nregion = eu-west-1\n[default]\nregion = us-east-2\n',
    );
    const sa = join(home, 'sa.json');
    writeFileSync(
      sa,
      JSON.stringify({ type: 'service_account', project_id: 'proj-1', private_key: 'SECRET-GCP' }),
    );
    const other = await startInMemoryServer(
      {},
      {
        HOME: home,
        GOOGLE_APPLICATION_CREDENTIALS: sa,
        RAY_AUTH_TOKEN: 'SECRET-RAY',
        AWS_ACCESS_KEY_ID: '',
        AWS_PROFILE: '',
      },
    );
    try {
      const res = await other.client.callTool({
        name: 'check_environment',
        arguments: { sections: ['cloud', 'ray'] },
      });
      expect(res.structuredContent).toMatchObject({
        ready: { gcp: true, aws: true },
        ray: { auth: { tokenPresent: true, tokenSource: 'env' } },
        cloud: {
          gcp: { credentials: 'service_account_file', credentialType: 'service_account', project: 'proj-1' },
          aws: {
            credentials: 'profile',
            profile: 'default',
            region: 'us-east-2',
            profiles: ['default', 'dev'],
          },
        },
      });
      expect(JSON.stringify(res)).not.toMatch(/SECRET-|AKIAFAKE/);
    } finally {
      await other.close();
    }
  });
});
