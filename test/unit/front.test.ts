/**
 * The front (src/app.ts createFront): what holds before the actor system starts. Secrets of the
 * environment are known to the redactor at once, those of the credential files by the time the
 * system starts; a front closed before it started starts nothing afterwards.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFront } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';

const ENV_SECRET = 'AKIAenv-secret-value-1234567890';
const FILE_SECRET = 'kubeconfig-user-token-abcdef123456';

function front() {
  const dir = mkdtempSync(join(tmpdir(), 'front-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: ${FILE_SECRET}\n`,
  );
  const config = loadConfig(
    { requestTimeout: '1', rayBin: '/nonexistent/ray', dataDir: join(dir, 'data') },
    { HOME: dir, PATH: '', AWS_SECRET_ACCESS_KEY: ENV_SECRET, KUBECONFIG: kubeconfig },
  );
  return createFront({ ...config, inspect: false }, { log: createLogger({ logLevel: 'silent' }) });
}

describe('the front, before the system starts', () => {
  it('knows the secrets of the environment at once, and those of the credential files once the system starts', async () => {
    const f = await front();
    // Synchronously, before anything could be logged.
    expect(f.redactor.text(`key=${ENV_SECRET}`)).not.toContain(ENV_SECRET);
    const app = await f.start();
    try {
      expect(f.redactor.text(`token ${FILE_SECRET}`)).not.toContain(FILE_SECRET);
    } finally {
      await app.close('test');
    }
  });

  it('closed before it started, it starts nothing afterwards', async () => {
    const f = await front();
    await f.close('test');
    await expect(f.start()).rejects.toThrow(/shutting down/);
    expect(f.started()).toBeUndefined();
  });
});
