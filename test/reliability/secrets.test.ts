/**
 * Secrets: canaries planted in every credential source ray-mcp reads — AWS keys in the
 * environment, a GCP service-account key file, the Ray token, a kubeconfig user token and a client
 * key — and hostile upstreams (a Kubernetes API server over TLS, a Ray dashboard, an STS/EKS
 * endpoint, a GKE endpoint and the Google token endpoint) that echo the request headers and every
 * canary back in their error bodies. The built server runs over stdio at trace level and every tool
 * that can touch those sources is driven; then every result, the whole stderr log and every file
 * of the data dir are scanned: no canary may appear.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFigures } from '../helpers/figures.js';
import { type StdioServer, scratchDir, startStdioServer } from '../helpers/mcp.js';

const rand = () => randomBytes(8).toString('hex');

interface Canary {
  source: string;
  /** Strings that must never appear (a key is checked line by line). */
  needles: string[];
}

function pemBodyLines(pem: string): string[] {
  return pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .slice(0, 6);
}

/** A self-signed certificate and key for 127.0.0.1 (the hostile API server, and a client identity). */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

describe('secrets never leave ray-mcp', () => {
  const dir = scratchDir('secrets');
  const dataDir = join(dir, 'data');
  const id = rand();
  const awsKeyId = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
  const awsSecret = `canaryAwsSecret${id}/${rand()}`;
  const awsSession = `canaryAwsSession${id}${rand()}${rand()}`;
  const rayToken = `canaryRayToken${id}${rand()}`;
  const kubeToken = `canaryKubeToken${id}${rand()}`;
  const gcpKeyId = `canarygcpkeyid${id}${rand()}`;
  const server = selfSigned(dir, 'apiserver');
  const clientId = selfSigned(dir, 'client');
  const gcpKey = selfSigned(dir, 'gcp').key;

  const canaries: Canary[] = [
    { source: 'AWS_ACCESS_KEY_ID', needles: [awsKeyId] },
    { source: 'AWS_SECRET_ACCESS_KEY', needles: [awsSecret] },
    { source: 'AWS_SESSION_TOKEN', needles: [awsSession] },
    { source: 'RAY_AUTH_TOKEN', needles: [rayToken] },
    { source: 'kubeconfig user token', needles: [kubeToken] },
    { source: 'kubeconfig client key', needles: pemBodyLines(clientId.key) },
    { source: 'GCP service-account private key', needles: pemBodyLines(gcpKey) },
    { source: 'GCP service-account private_key_id', needles: [gcpKeyId] },
  ];
  /** What a hostile upstream sends back: every canary, whole. */
  const everything = [awsKeyId, awsSecret, awsSession, rayToken, kubeToken, gcpKeyId, clientId.key, gcpKey];

  const servers: Server[] = [];
  let stdio: StdioServer | undefined;
  const results: string[] = [];
  let calls = 0;

  /** An error body that echoes the request, its headers and all canaries, in the upstream's own style. */
  const echo = (req: IncomingMessage, style: 'kube' | 'python' | 'aws' | 'google') => {
    const headers = Object.entries(req.headers)
      .map(([k, v]) => `${k}:[${String(v)}]`)
      .join(' ');
    const leak = `request ${req.method} ${req.url} headers map[${headers}] also: ${everything.join(' | ')}`;
    switch (style) {
      case 'kube':
        return JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: leak,
          reason: 'InternalError',
          code: 500,
        });
      case 'python':
        return `Traceback (most recent call last):\n  File "/ray/dashboard/x.py", line 1, in handler\n    raise RuntimeError(headers)\nRuntimeError: ${leak}`;
      case 'aws':
        return `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>${leak}</Message></Error></ErrorResponse>`;
      case 'google':
        return JSON.stringify({
          error: { code: 500, message: leak, status: 'INTERNAL' },
          error_description: leak,
        });
    }
  };

  const listen = async (s: Server) => {
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return (s.address() as AddressInfo).port;
  };

  let kubePort = 0;
  let dashPort = 0;
  let awsPort = 0;
  let googlePort = 0;

  beforeAll(async () => {
    const readBody = (req: IncomingMessage) =>
      new Promise<string>((r) => {
        let b = '';
        req.on('data', (c) => {
          b += c;
        });
        req.on('end', () => r(b));
      });
    kubePort = await listen(
      createHttpsServer(
        { cert: server.cert, key: server.key, requestCert: true, rejectUnauthorized: false },
        async (req, res) => {
          await readBody(req);
          if (req.url === '/version')
            return send(res, 200, JSON.stringify({ gitVersion: 'v1.31.0', major: '1', minor: '31' }));
          send(res, 500, echo(req, 'kube'));
        },
      ),
    );
    dashPort = await listen(
      createHttpServer(async (req, res) => {
        await readBody(req);
        if (req.url === '/api/authentication_mode')
          return send(res, 200, JSON.stringify({ authentication_mode: 'token' }));
        if (req.url === '/api/version')
          return send(
            res,
            200,
            JSON.stringify({ version: '4', ray_version: '2.60.0', ray_commit: 'x', session_name: 's' }),
          );
        if (req.url === '/api/gcs_healthz') return send(res, 200, 'success');
        send(res, 500, echo(req, 'python'));
      }),
    );
    awsPort = await listen(
      createHttpServer(async (req, res) => {
        await readBody(req);
        send(res, 403, echo(req, 'aws'), 'text/xml');
      }),
    );
    googlePort = await listen(
      createHttpServer(async (req, res) => {
        await readBody(req);
        send(res, req.url?.startsWith('/token') ? 400 : 500, echo(req, 'google'));
      }),
    );

    const kubeconfig = join(dir, 'kubeconfig');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'hostile',
            cluster: {
              server: `https://127.0.0.1:${kubePort}`,
              'certificate-authority-data': b64(server.cert),
            },
          },
        ],
        users: [
          { name: 'token-user', user: { token: kubeToken } },
          {
            name: 'cert-user',
            user: { 'client-certificate-data': b64(clientId.cert), 'client-key-data': b64(clientId.key) },
          },
        ],
        contexts: [
          {
            name: 'hostile-token',
            context: { cluster: 'hostile', user: 'token-user', namespace: 'default' },
          },
          { name: 'hostile-cert', context: { cluster: 'hostile', user: 'cert-user', namespace: 'default' } },
        ],
        'current-context': 'hostile-token',
      }),
    );
    const saFile = join(dir, 'sa.json');
    writeFileSync(
      saFile,
      JSON.stringify({
        type: 'service_account',
        project_id: 'canary-project',
        private_key_id: gcpKeyId,
        private_key: gcpKey,
        client_email: 'ray-mcp-canary@canary-project.iam.gserviceaccount.com',
        client_id: '1234567890',
        token_uri: `http://127.0.0.1:${googlePort}/token`,
      }),
    );

    stdio = await startStdioServer({
      args: ['--log-level', 'trace'],
      env: {
        RAY_MCP_LOG_LEVEL: 'trace',
        RAY_MCP_DATA_DIR: dataDir,
        RAY_MCP_REQUEST_TIMEOUT: '20',
        RAY_MCP_CLOUD_PROBE_TIMEOUT: '0.2',
        HOME: dir,
        KUBECONFIG: kubeconfig,
        RAY_AUTH_TOKEN: rayToken,
        AWS_ACCESS_KEY_ID: awsKeyId,
        AWS_SECRET_ACCESS_KEY: awsSecret,
        AWS_SESSION_TOKEN: awsSession,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${awsPort}`,
        AWS_ENDPOINT_URL_EKS: `http://127.0.0.1:${awsPort}`,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_MAX_ATTEMPTS: '1',
        GOOGLE_APPLICATION_CREDENTIALS: saFile,
        GOOGLE_CLOUD_PROJECT: 'canary-project',
        RAY_MCP_GKE_ENDPOINT: `http://127.0.0.1:${googlePort}`,
        RAY_MCP_GCP_OAUTH_TOKEN_URL: `http://127.0.0.1:${googlePort}/token`,
        GCE_METADATA_HOST: '127.0.0.1:1',
        CLOUDSDK_CONFIG: join(dir, 'gcloud'),
      },
    });
  }, 60_000);

  afterAll(async () => {
    await stdio?.close();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  });

  async function call(name: string, args: Record<string, unknown> = {}) {
    calls++;
    const res = await stdio!.client.callTool({ name, arguments: args }, { timeout: 60_000 });
    results.push(JSON.stringify(res));
    return res;
  }

  it('drives every tool that touches a credential or a hostile upstream, then finds no canary anywhere', async () => {
    await call('check_environment');
    await call('list_kubernetes_clusters');
    for (const context of ['hostile-token', 'hostile-cert']) {
      const res = await call('connect_kubernetes_cluster', { context });
      expect(res.isError, JSON.stringify(res)).toBe(true);
      await call('get_kubernetes_cluster_info', { context });
      await call('list_kuberay_jobs', { kubernetes_context: context });
      await call('init_ray_cluster', {
        cluster_type: 'kubernetes',
        kubernetes_context: context,
        cluster_name: 'canary',
      });
    }
    const init = await call('init_ray_cluster', {
      address: `http://127.0.0.1:${dashPort}`,
      cluster_name: 'hostile',
    });
    expect(init.isError, JSON.stringify(init)).toBeFalsy();
    await call('list_ray_clusters');
    await call('inspect_ray_cluster', { cluster_id: 'hostile' });
    await call('list_ray_jobs', { cluster_id: 'hostile' });
    const submit = await call('submit_ray_job', {
      cluster_id: 'hostile',
      entrypoint: 'python -c "print(1)"',
      runtime_env: { env_vars: { A: 'b' } },
      metadata: { owner: 'test' },
    });
    expect(submit.isError).toBe(true);
    await call('inspect_ray_job', { cluster_id: 'hostile', submission_id: 'raysubmit_x' });
    await call('retrieve_logs', { cluster_id: 'hostile', submission_id: 'raysubmit_x' });
    await call('cancel_ray_job', { cluster_id: 'hostile', submission_id: 'raysubmit_x' });
    await call('detect_cloud_provider');
    await call('authenticate_cloud_provider', { provider: 'gke', project_id: 'canary-project' });
    await call('authenticate_cloud_provider', { provider: 'eks', region: 'us-east-1' });
    await call('get_cloud_provider_status');
    await call('list_kubernetes_clusters', {
      provider: 'gke',
      project_id: 'canary-project',
      location: 'us-central1',
    });
    await call('list_kubernetes_clusters', { provider: 'eks', region: 'us-east-1' });
    await call('connect_kubernetes_cluster', {
      provider: 'eks',
      cluster_name: 'canary',
      region: 'us-east-1',
    });
    await call('get_kubernetes_cluster_info', {
      provider: 'gke',
      cluster_name: 'canary',
      project_id: 'canary-project',
      location: 'us-central1',
    });
    await call('stop_ray_cluster', { cluster_id: 'hostile' });
    // Let the last log lines out.
    await new Promise((r) => setTimeout(r, 500));

    const log = stdio!.stderr();
    const dataFiles = filesUnder(dataDir).map((f) => readFileSync(f, 'utf8'));
    const corpus = [...results, log, ...dataFiles];
    const bytes = corpus.reduce((n, s) => n + Buffer.byteLength(s), 0);
    const found: string[] = [];
    for (const c of canaries) {
      for (const needle of c.needles) {
        corpus.forEach((text, i) => {
          if (text.includes(needle))
            found.push(
              `${c.source} in ${i < results.length ? `result ${i}` : i === results.length ? 'the log' : 'a data file'}`,
            );
        });
      }
    }
    recordFigures('secrets', {
      tried: [
        `Canaries in ${canaries.length} credential sources (AWS key id, secret key and session token in the environment, the Ray token, a kubeconfig token and client key, a GCP service-account key and key id); hostile Kubernetes API (TLS), dashboard and STS/EKS endpoints echoing request headers and every canary in their error bodies; ${calls} tool calls over stdio at trace level`,
      ],
      figures: {
        'canaries planted': canaries.reduce((n, c) => n + c.needles.length, 0),
        'credential sources': canaries.length,
        'tool calls': calls,
        'bytes scanned (results, log, data dir)': bytes,
        'canaries found': found.length,
      },
      held: [
        found.length === 0
          ? 'No canary in any tool result, the trace log or the data dir'
          : `Canaries leaked: ${found.slice(0, 10).join('; ')}`,
      ],
    });
    expect(found).toEqual([]);
    // The hostile upstreams were really reached, and what they said really reported, scrubbed.
    expect(results.join('\n')).toMatch(/«[^»]*\[redacted\]/);
  });
});

function send(res: ServerResponse, status: number, body: string, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

function filesUnder(root: string): string[] {
  let out: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(root, n);
    try {
      const st = statSync(p);
      if (st.isDirectory()) out = out.concat(filesUnder(p));
      else if (st.isFile()) out.push(p);
    } catch {}
  }
  return out;
}
