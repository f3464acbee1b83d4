/**
 * The redactor every result, log line and state file goes through, and the mapping of ordinary
 * errors and untrusted upstream text: a configured secret never survives, whatever surrounds it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient } from '../../src/clients/kube.client.js';
import { registerSecretSources } from '../../src/clients/secret-sources.js';
import { packWorkingDir } from '../../src/clients/working-dir.js';
import { toErrorInfo } from '../../src/domain/errors.js';
import { RuntimeEnvSchema } from '../../src/domain/jobs.js';
import { lastExceptionLine, REDACTED, Redactor, untrustedText } from '../../src/domain/redact.js';
import { SubmitJobInputSchema } from '../../src/domain/tools/jobs.js';

const secretArb = fc.string({ minLength: 8, maxLength: 80 }).filter((s) => s.trim().length >= 8);

describe('Redactor', () => {
  it('a configured secret embedded anywhere in arbitrary text never survives (raw or JSON-escaped)', () => {
    fc.assert(
      fc.property(secretArb, fc.string(), fc.string(), (secret, before, after) => {
        const r = new Redactor();
        r.add(secret);
        const s = secret.trim();
        const out = r.text(`${before}${s}${after}`);
        expect(out.includes(s)).toBe(false);
        const json = JSON.stringify({ msg: `${before}${s}${after}` });
        expect(r.text(json).includes(s)).toBe(false);
        expect(JSON.stringify(r.value({ a: [`${before}${s}${after}`] })).includes(s)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('a log line stays one valid JSON line, without the secret', () => {
    fc.assert(
      fc.property(secretArb, fc.string(), (secret, noise) => {
        const r = new Redactor();
        r.add(secret);
        const line = `${JSON.stringify({ level: 30, msg: `${noise}${secret.trim()}${noise}` })}\n`;
        const out = r.logLine(line);
        expect(() => JSON.parse(out)).not.toThrow();
        expect(out.includes(secret.trim())).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('removes credential shapes it was never told about', () => {
    const r = new Redactor();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const samples = [
      'Authorization: Bearer abc.def-123456789',
      '{"headers":{"Authorization":"Basic dXNlcjpwYXNzd29yZDEyMw=="}}',
      'map[Authorization:[Bearer sk-live-99887766] User-Agent:[ray-mcp]]',
      "{ 'x-ray-authorization': 'Bearer rtok-12345678' }",
      `key: ${pem}`,
      JSON.stringify({ private_key: pem }),
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'X-Amz-Security-Token: IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH',
      'AKIAIOSFODNN7EXAMPLE is the key id',
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_nature-123',
      'https://admin:hunter2hunter2@example.com/api',
      '"private_key_id": "0123456789abcdef0123456789abcdef01234567"',
    ];
    for (const s of samples) {
      const out = r.text(s);
      expect(out, s).toContain(REDACTED);
    }
    expect(r.text(`key: ${pem}`)).not.toMatch(/MII/);
    expect(r.text(JSON.stringify({ private_key: pem }))).not.toMatch(/MII/);
  });

  it('leaves ordinary text alone', () => {
    const r = new Redactor();
    for (const s of [
      'The Ray dashboard at http://127.0.0.1:8265 uses token authentication.',
      'Set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) for ray-mcp to the cluster token, then restart ray-mcp.',
      'Basic information about the cluster',
      'authentication_mode: token',
      '{"token_present":true,"token_source":"env"}',
    ]) {
      expect(r.text(s)).toBe(s);
    }
  });

  it('a PEM key registered whole is also recognized line by line', () => {
    const r = new Redactor();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    r.add(pem);
    const line = pem.split('\n')[3]!;
    expect(r.text(`echo: ${line} end`)).not.toContain(line);
  });

  it('learns the secrets of kubeconfig users, Google and AWS credential files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'redact-'));
    const kc = join(dir, 'kubeconfig');
    writeFileSync(
      kc,
      [
        'apiVersion: v1',
        'kind: Config',
        'users:',
        '- name: u',
        '  user:',
        '    token: kube-token-0123456789',
        `    client-key-data: ${Buffer.from('-----BEGIN PRIVATE KEY-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n-----END PRIVATE KEY-----\n').toString('base64')}`,
      ].join('\n'),
    );
    const gcp = join(dir, 'sa.json');
    writeFileSync(gcp, JSON.stringify({ type: 'service_account', private_key_id: 'gcp-key-id-0123456789' }));
    const aws = join(dir, 'credentials');
    writeFileSync(aws, '[default]\naws_secret_access_key = aws-secret-0123456789\n');
    const r = new Redactor();
    await registerSecretSources(
      {
        secrets: ['ray-token-0123456789'],
        kubeconfigPaths: [kc],
        gcp: { credentialsFile: gcp, gcloudConfigDir: dir },
        aws: { accessKeyInEnv: false, sharedCredentialsFile: aws, configFile: join(dir, 'none') },
      },
      r,
    );
    const text =
      'kube-token-0123456789 QUJDREVGR0hJSktMTU5PUFFSU1RVVldY gcp-key-id-0123456789 aws-secret-0123456789 ray-token-0123456789';
    expect(r.text(text).replaceAll(REDACTED, '').trim()).toBe('');
  });
});

describe('untrusted upstream text', () => {
  it('is bounded, quoted, scrubbed before it is cut, and a traceback is its exception line', () => {
    const tb = [
      'Traceback (most recent call last):',
      '  File "/ray/dashboard/modules/job/job_head.py", line 420, in submit_job',
      '    resp = await job_agent_client.submit_job_internal(submit_request)',
      'RuntimeError: Request failed with status code 413: Maximum request body size 1048576 exceeded.',
    ].join('\n');
    expect(lastExceptionLine(tb)).toMatch(/^RuntimeError: Request failed/);
    const t = untrustedText(tb);
    expect(t).toMatch(/^«RuntimeError: Request failed .*»$/);
    expect(t).not.toContain('job_head.py');
    expect(untrustedText('x'.repeat(10_000), 300).length).toBeLessThanOrEqual(302);
    const r = new Redactor();
    r.add('SECRETVALUE-0123456789');
    // The secret straddles the cut: scrubbed first, so no part of it is left.
    const cut = untrustedText(`${'a'.repeat(290)}SECRETVALUE-0123456789`, 300, r);
    expect(cut).not.toContain('SECRETV');
    expect(untrustedText('\u001b[31mred\u001b[0m\u0000')).toBe('«red»');
  });

  it('a Kubernetes error body is quoted bounded and without the Authorization it echoes', () => {
    const err = new KubeApiError(
      500,
      'InternalError',
      `request headers: map[Authorization:[Bearer kube-secret-0123456789]] ${'y'.repeat(5000)}`,
      '/version',
    );
    expect(err.message).not.toContain('kube-secret');
    expect(err.message.length).toBeLessThan(450);
    expect(err.detail.startsWith('«')).toBe(true);
  });
});

describe('ordinary errors are not bugs', () => {
  const errno = (code: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${code}: something`), { code, ...extra });

  it.each([
    ['ENOENT', 'not_found'],
    ['EACCES', 'forbidden'],
    ['ECONNREFUSED', 'unavailable'],
    ['ENOTFOUND', 'unavailable'],
    ['ETIMEDOUT', 'timeout'],
    ['ECONNRESET', 'unavailable'],
    ['ENOSPC', 'unavailable'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'unavailable'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'unavailable'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
  ])('%s → %s with a fix', (code, expected) => {
    const info = toErrorInfo(errno(code, { path: '/some/where' }));
    expect(info.code).toBe(expected);
    expect(info.fix).not.toMatch(/bug in ray-mcp/);
  });

  it('looks through fetch-style causes and AggregateError', () => {
    const wrapped = new TypeError('fetch failed', {
      cause: errno('ECONNREFUSED', { address: '127.0.0.1', port: 1 }),
    });
    expect(toErrorInfo(wrapped)).toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('127.0.0.1:1'),
    });
    const agg = new AggregateError([errno('ENOTFOUND', { hostname: 'nowhere.invalid' })], 'x');
    expect(toErrorInfo(agg).code).toBe('unavailable');
  });

  it('an unknown error is still internal, its message bounded and quoted', () => {
    const info = toErrorInfo(new Error(`boom ${'z'.repeat(5000)} Bearer tok-0123456789`));
    expect(info.code).toBe('internal');
    expect(info.message.length).toBeLessThan(600);
  });

  it('working_dir /proc is refused as a system folder, an unreadable folder as permission denied', async () => {
    await expect(packWorkingDir('/proc')).rejects.toMatchObject({ code: 'invalid_input' });
    if (process.getuid?.() !== 0) {
      const dir = mkdtempSync(join(tmpdir(), 'wd-'));
      const { mkdirSync, chmodSync } = await import('node:fs');
      mkdirSync(join(dir, 'locked'));
      chmodSync(join(dir, 'locked'), 0);
      await expect(packWorkingDir(dir)).rejects.toMatchObject({
        code: 'invalid_input',
        message: expect.stringMatching(/Permission denied/),
      });
      chmodSync(join(dir, 'locked'), 0o700);
    }
  });

  it('a kubeconfig whose server is http:// says to use https, not a bug', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const path = join(dir, 'config');
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]',
        'users: [{name: u, user: {token: tok-0123456789}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
      ].join('\n'),
    );
    await expect(
      KubeClient.forTarget({ kind: 'kubeconfig', context: 'x' }, { kubeconfigPaths: [path] }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      fix: expect.stringMatching(/https:\/\//),
    });
  });
});

describe('submission sizes at the edge', () => {
  it('refuses an env var over 128 KiB, env vars over 256 KiB and metadata over 16 KiB, saying the limit', () => {
    const big = RuntimeEnvSchema.safeParse({ env_vars: { BIG: 'x'.repeat(200_000) } });
    expect(big.success).toBe(false);
    expect(JSON.stringify(big.error?.issues)).toMatch(/128 KiB/);
    const many = RuntimeEnvSchema.safeParse({
      env_vars: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`V${i}`, 'x'.repeat(100_000)])),
    });
    expect(JSON.stringify(many.error?.issues)).toMatch(/256 KiB/);
    const meta = SubmitJobInputSchema.safeParse({
      entrypoint: 'python x.py',
      metadata: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'.repeat(1000)])),
    });
    expect(JSON.stringify(meta.error?.issues)).toMatch(/16 KiB/);
    expect(SubmitJobInputSchema.safeParse({ entrypoint: 'x', metadata: { a: 'b' } }).success).toBe(true);
  });
});
