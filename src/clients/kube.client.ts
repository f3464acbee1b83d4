/**
 * The only code that talks HTTP to a Kubernetes API server. @kubernetes/client-node loads the
 * kubeconfig and authenticates (certs, tokens, exec plugins); requests and watches go through
 * undici, so every call has a timeout and an abort signal, and server-side apply is one PATCH.
 * Both load on first use.
 */

import type { KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
import type { InClusterSettings } from '../config.js';
import { RayMcpError } from '../domain/errors.js';
import {
  type CloudKubeTarget,
  connectionIdOf,
  type KubeTarget,
  type KubeToken,
  type KubeTokenSource,
  rbacDenial,
} from '../domain/kube.js';
import { type SecretSink, untrustedText } from '../domain/redact.js';
import { deadline } from './deadline.js';
import { mergeKubeconfigFiles } from './kubeconfig.client.js';

export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** An error answer of the API server. Its body is untrusted: `detail` is bounded, redacted and quoted. */
export class KubeApiError extends Error {
  readonly reason: string;
  readonly detail: string;
  constructor(
    readonly status: number,
    reason: string,
    detail: string,
    readonly path: string,
    secrets?: SecretSink,
  ) {
    const r = untrustedText(reason, 60, secrets).slice(1, -1);
    const d = untrustedText(detail, 300, secrets);
    super(`Kubernetes API answered ${status}${r ? ` ${r}` : ''} for ${path.slice(0, 200)}: ${d}`);
    this.reason = r;
    this.detail = d;
    this.name = 'KubeApiError';
  }
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** One event of a watch stream. */
export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are open-ended; views narrow them
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  status?: any;
}

export interface KubeList<T = KubeObject> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

let httpModule: Promise<typeof import('undici')> | undefined;
const loadUndici = () => {
  httpModule ??= import('undici');
  return httpModule;
};

export class KubeClient {
  private agent?: Dispatcher;
  /** The cloud token in use: this connection's, dropped with it. */
  private token?: KubeToken;
  private closed = false;

  private constructor(
    private readonly kc: KubeConfig,
    readonly server: string,
    /** The context name, or the connection id for a cloud cluster. */
    readonly context: string,
    readonly defaultNamespace: string,
    private readonly cloud?: { target: CloudKubeTarget; tokens: KubeTokenSource },
    /** Where the credentials it sends are registered, so no output ever shows them. */
    private readonly secrets?: SecretSink,
    /** The pod's ServiceAccount (the `in-cluster` context), not a kubeconfig user. */
    private readonly serviceAccount = false,
  ) {}

  static async forTarget(
    target: KubeTarget,
    deps: {
      kubeconfigPaths: readonly string[];
      inCluster?: InClusterSettings;
      tokens?: KubeTokenSource;
      secrets?: SecretSink;
    },
  ): Promise<KubeClient> {
    const { KubeConfig } = await import('@kubernetes/client-node');
    if (target.kind === 'cloud') {
      if (!deps.tokens) throw new Error('no token source for cloud clusters');
      const kc = new KubeConfig();
      // Named by the connection id, so results name it as kubernetes_context takes it back.
      const name = connectionIdOf(target);
      kc.loadFromOptions({
        clusters: [{ name, server: target.server, caData: target.caData, skipTLSVerify: false }],
        users: [{ name }],
        contexts: [{ name, cluster: name, user: name }],
        currentContext: name,
      });
      return new KubeClient(
        kc,
        target.server.replace(/\/+$/, ''),
        name,
        'default',
        { target, tokens: deps.tokens },
        deps.secrets,
      );
    }
    const { config: kc, files, inCluster } = await mergeKubeconfigFiles(deps.kubeconfigPaths, deps.inCluster);
    const bad = files.find((f) => f.error);
    if (bad) {
      throw new RayMcpError(
        'invalid_input',
        `Cannot read the kubeconfig ${bad.path}: ${bad.error}`,
        'Fix the file, or point KUBECONFIG at a valid one.',
      );
    }
    const ctx = kc.getContextObject(target.context);
    if (!ctx) {
      const known = kc.getContexts().map((c) => c.name);
      throw new RayMcpError(
        'not_found',
        `No context named ${target.context} in the kubeconfig (${deps.kubeconfigPaths.join(', ')}).`,
        known.length
          ? `Known contexts: ${known.slice(0, 20).join(', ')} (list_kubernetes_clusters shows them).`
          : 'Add a context to the kubeconfig (or set KUBECONFIG), then try again.',
      );
    }
    kc.setCurrentContext(target.context);
    const cluster = kc.getCurrentCluster();
    if (!cluster?.server) {
      throw new RayMcpError(
        'invalid_input',
        `Context ${target.context} names cluster ${ctx.cluster}, which the kubeconfig does not define.`,
        'Fix the kubeconfig: the cluster entry needs a server URL.',
      );
    }
    const server = cluster.server.replace(/\/+$/, '');
    if (/^http:\/\//i.test(server) && !cluster.skipTLSVerify) {
      throw new RayMcpError(
        'invalid_input',
        `The server of context ${target.context} is ${untrustedText(server, 120)}: plain http, over which ray-mcp sends no credentials.`,
        'Use the https:// address of the API server (kubectl cluster-info shows it); for a local test server that only speaks http, set insecure-skip-tls-verify: true on its cluster entry.',
      );
    }
    if (!/^https?:\/\/[^/\s]+/i.test(server)) {
      throw new RayMcpError(
        'invalid_input',
        `The server of context ${target.context} in the kubeconfig is not an http(s) URL: ${untrustedText(server, 120)}.`,
        'Fix the cluster entry: server must look like https://host:6443.',
      );
    }
    return new KubeClient(
      kc,
      server,
      target.context,
      ctx.namespace || 'default',
      undefined,
      deps.secrets,
      inCluster === target.context,
    );
  }

  /**
   * The TLS agent (CA and client certificate of the context) and fresh auth headers. A closed
   * client (its connection was disconnected) sends nothing more: it throws.
   */
  async transport(): Promise<{ dispatcher: Dispatcher; headers: Record<string, string> }> {
    if (this.closed) throw this.notConnected();
    const opts: {
      ca?: Buffer | string;
      cert?: Buffer | string;
      key?: Buffer | string;
      rejectUnauthorized?: boolean;
      headers?: Record<string, string>;
    } = { headers: {} };
    try {
      await this.kc.applyToHTTPSOptions(opts as never);
    } catch (err) {
      // A token file, a client key or an exec plugin (gke-gcloud-auth-plugin, aws) that fails.
      const why = untrustedText(err instanceof Error ? err.message : String(err), 300, this.secrets);
      if (this.serviceAccount) {
        throw new RayMcpError(
          'unauthenticated',
          `Cannot read the pod's ServiceAccount token or CA (${this.context}): ${why}`,
          'Mount the ServiceAccount token (automountServiceAccountToken: true, or a projected token volume with ca.crt) at /var/run/secrets/kubernetes.io/serviceaccount or RAY_MCP_SERVICEACCOUNT_DIR, then connect again.',
          { cause: err },
        );
      }
      throw new RayMcpError(
        'unauthenticated',
        `Cannot get the credentials of ${this.context} from the kubeconfig: ${untrustedText(err instanceof Error ? err.message : String(err), 300, this.secrets)}`,
        'Check the user entry of the context (token, client certificate and key, or the exec plugin and its login), then connect again.',
        { cause: err },
      );
    }
    if (this.closed) throw this.notConnected();
    if (!this.agent) {
      const { Agent } = await loadUndici();
      if (this.closed) throw this.notConnected();
      this.agent ??= new Agent({
        connect: {
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          rejectUnauthorized: opts.rejectUnauthorized ?? true,
        },
        keepAliveTimeout: 30_000,
        connections: 8,
      });
    }
    const headers: Record<string, string> = {};
    // Trimmed: a token file may end with a newline, which no header may hold.
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = String(v).trim();
    if (this.cloud) headers.authorization = `Bearer ${await this.cloudToken(this.cloud)}`;
    if (this.closed) throw this.notConnected();
    // Exec plugins and cloud tokens mint credentials now: known from here on, never shown.
    this.secrets?.add(
      headers.authorization?.replace(/^\S+\s+/, ''),
      headers.authorization,
      keyText(opts.key),
    );
    return { dispatcher: this.agent, headers };
  }

  private async cloudToken(cloud: { target: CloudKubeTarget; tokens: KubeTokenSource }): Promise<string> {
    const t = this.token;
    if (t?.expiresAt && t.expiresAt > Date.now() && t.valid?.() !== false) return t.token;
    const minted = await cloud.tokens(cloud.target);
    if (!this.closed) this.token = minted;
    return minted.token;
  }

  private notConnected(): RayMcpError {
    return new RayMcpError(
      'unavailable',
      `Kubernetes connection ${this.context} is not connected.`,
      'Connect again with connect_kubernetes_cluster.',
    );
  }

  private url(path: string, query?: RequestOptions['query']): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    return `${this.server}${path}${qs ? `?${qs}` : ''}`;
  }

  async request<T = KubeObject>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const { request } = await loadUndici();
    const { dispatcher, headers } = await this.transport();
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const d = deadline(timeoutMs, opts.signal);
    const signal = d.signal;
    try {
      return await this.send<T>(request, method, path, opts, dispatcher, headers, signal, timeoutMs);
    } finally {
      d.done();
    }
  }

  private async send<T>(
    request: typeof import('undici').request,
    method: string,
    path: string,
    opts: RequestOptions,
    dispatcher: Dispatcher,
    headers: Record<string, string>,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<T> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.url(path, opts.query), {
        method: method as Dispatcher.HttpMethod,
        dispatcher,
        signal,
        headers: {
          ...headers,
          accept: 'application/json',
          ...(opts.body !== undefined && { 'content-type': opts.contentType ?? 'application/json' }),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch (err) {
      throw this.networkError(err, signal, timeoutMs);
    }
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      throw this.statusError(res.statusCode, text, path);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** An API server's error answer: its Status body (or the raw text), quoted as untrusted. */
  private statusError(statusCode: number, text: string, path: string): KubeApiError {
    let status: KubeStatus = {};
    try {
      status = JSON.parse(text) as KubeStatus;
    } catch {}
    if (!status || typeof status !== 'object') status = {};
    return new KubeApiError(
      statusCode,
      String(status.reason ?? ''),
      String(status.message ?? text),
      path,
      this.secrets,
    );
  }

  get<T = KubeObject>(path: string, opts?: RequestOptions) {
    return this.request<T>('GET', path, opts);
  }

  /** Server-side apply; `force` takes over fields another manager set. */
  apply<T = KubeObject>(
    path: string,
    obj: unknown,
    opts: { fieldManager: string; force?: boolean; dryRun?: boolean; signal?: AbortSignal },
  ) {
    return this.request<T>('PATCH', path, {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: opts.fieldManager,
        force: opts.force ?? true,
        dryRun: opts.dryRun ? 'All' : undefined,
      },
      signal: opts.signal,
    });
  }

  mergePatch<T = KubeObject>(path: string, patch: unknown, signal?: AbortSignal) {
    return this.request<T>('PATCH', path, {
      body: patch,
      contentType: 'application/merge-patch+json',
      signal,
    });
  }

  /** `uid`: delete only that object (a precondition: another object under the name answers 409). */
  delete(
    path: string,
    opts: { propagationPolicy?: 'Foreground' | 'Background'; uid?: string; signal?: AbortSignal } = {},
  ) {
    return this.request<KubeStatus>('DELETE', path, {
      body: {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: opts.propagationPolicy ?? 'Background',
        ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
      },
      signal: opts.signal,
    });
  }

  /**
   * One watch request from `resourceVersion`; resolves when the server closes the stream (its
   * timeoutSeconds) and rejects on errors. A 410 Gone, as an ERROR event or a status, rejects with
   * a KubeApiError of status 410: the caller relists.
   */
  async watch<T = KubeObject>(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const { request } = await loadUndici();
    const { dispatcher, headers } = await this.transport();
    let res: Dispatcher.ResponseData;
    try {
      res = await request(
        this.url(path, { ...query, watch: 1, allowWatchBookmarks: true, timeoutSeconds: 240 }),
        {
          dispatcher,
          signal,
          headers: { ...headers, accept: 'application/json' },
          headersTimeout: 30_000,
          bodyTimeout: 300_000,
        },
      );
    } catch (err) {
      throw this.networkError(err, signal, 30_000);
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text();
      throw this.statusError(res.statusCode, text, path);
    }
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += (chunk as Buffer).toString('utf8');
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        if (!line) continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const status = event.object as unknown as KubeStatus;
          throw new KubeApiError(
            status.code ?? 500,
            String(status.reason ?? ''),
            String(status.message ?? ''),
            path,
            this.secrets,
          );
        }
        onEvent(event);
      }
    }
  }

  private networkError(err: unknown, signal: AbortSignal, timeoutMs: number): Error {
    if (signal.aborted && (signal.reason as Error)?.name === 'TimeoutError') {
      return new KubeUnreachableError(`${this.server} did not answer within ${timeoutMs / 1000} s`);
    }
    if (signal.aborted) return err as Error;
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code;
    const msg = code ? `${code}` : (e.message ?? String(err));
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(msg)) {
      return new RayMcpError(
        'unavailable',
        `TLS with ${this.server} failed (${msg}): the server's certificate does not match the kubeconfig's CA.`,
        'Fix certificate-authority(-data) of the cluster in the kubeconfig.',
      );
    }
    return new KubeUnreachableError(`${this.server} is unreachable (${msg})`);
  }

  /** For good: the agent, its sockets and the token go; a later request throws. */
  async close(): Promise<void> {
    this.closed = true;
    this.token = undefined;
    const agent = this.agent;
    this.agent = undefined;
    await agent?.close().catch(() => {});
  }
}

function keyText(key: Buffer | string | undefined): string | undefined {
  if (key === undefined) return undefined;
  return typeof key === 'string' ? key : key.toString('utf8');
}

/** The API server did not answer at all (refused, reset, timed out). */
export class KubeUnreachableError extends Error {
  override name = 'KubeUnreachableError';
}

/**
 * Deletes one object (in the background: its dependents go after it). Already gone is done. With
 * `uid`, only that object: if the name now holds another one (made again since the caller looked),
 * nothing is deleted and the caller is told to look again (`lookAgain`: the tool that shows it).
 */
export async function deleteObject(
  client: KubeClient,
  path: string,
  opts: { what: string; uid?: string; lookAgain: string; signal?: AbortSignal },
): Promise<void> {
  try {
    await client.delete(path, { propagationPolicy: 'Background', uid: opts.uid, signal: opts.signal });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return;
    if (err instanceof KubeApiError && err.status === 409 && opts.uid) {
      throw new RayMcpError(
        'conflict',
        `${opts.what} was replaced by another object since ray-mcp looked at it; nothing was deleted.`,
        `Look at it again (${opts.lookAgain}), then delete it if it is still meant to go.`,
      );
    }
    throw kubeError(err, client.context, `deleting ${opts.what}`);
  }
}

/** Turns a Kubernetes failure into what a user can act on. `what` says what was being done. */
export function kubeError(err: unknown, context: string, what: string): Error {
  if (err instanceof RayMcpError) return err;
  if (err instanceof KubeUnreachableError) {
    return new RayMcpError(
      'unavailable',
      `Cannot reach the Kubernetes API of ${context} while ${what}: ${err.message}.`,
      'Check that the cluster is up and reachable from this machine (VPN, firewall), then retry.',
    );
  }
  if (err instanceof KubeApiError) {
    if (err.status === 401) {
      return new RayMcpError(
        'unauthenticated',
        `The API server of ${context} rejected the credentials (401 Unauthorized) while ${what}: they are missing, invalid or expired.`,
        'Refresh the credentials (a new token, `gcloud auth login`, `aws sso login`, ...), then connect_kubernetes_cluster again.',
      );
    }
    if (err.status === 403) {
      const denial = rbacDenial(err.detail);
      if (!denial) {
        return new RayMcpError(
          'forbidden',
          `Not allowed on ${context} while ${what}: ${err.detail}`,
          /ValidatingAdmissionPolicy/.test(err.detail)
            ? 'An admission policy of the cluster refused it (the message says why); it is a rule of the cluster, not a ray-mcp error.'
            : 'Use a namespace you have rights in, or ask a cluster admin for a Role(Binding) that grants them.',
        );
      }
      return new RayMcpError(
        'forbidden',
        `Not allowed on ${context} while ${what}: ${denial.text}. The API server said: ${err.detail}`,
        denial.fix,
      );
    }
    if (err.status === 404) {
      return new RayMcpError(
        'not_found',
        `Not found on ${context} while ${what}: ${err.detail}`,
        'Check the name and the namespace.',
      );
    }
    if (err.status === 409) {
      return new RayMcpError(
        'conflict',
        `Conflict on ${context} while ${what}: ${err.detail}`,
        'Retry, or pick another name.',
      );
    }
    if (err.status === 422 || err.status === 400) {
      return new RayMcpError(
        'invalid_input',
        `The API server of ${context} refused the request while ${what}: ${err.detail}`,
        'Fix the input the message names.',
      );
    }
    return new RayMcpError(
      'unavailable',
      `Kubernetes API error on ${context} while ${what}: ${err.message}`,
      'Retry; if it persists, check the API server.',
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Why creating a KubeRay object failed, for a user: a 404 from the API itself means the CRDs are
 * missing, any other 404 the namespace; the rest as kubeError.
 */
export function kubeApplyError(
  err: unknown,
  context: string,
  kind: 'RayCluster' | 'RayJob' | 'RayService',
  namespace: string,
  name: string,
): Error {
  if (err instanceof KubeApiError && err.status === 404) {
    if (/the server could not find the requested resource/i.test(err.detail)) {
      return new RayMcpError(
        'unavailable',
        `The KubeRay CRDs are not installed on ${context} (no ray.io/v1 ${kind}).`,
        'Install the KubeRay operator (helm install kuberay-operator kuberay/kuberay-operator), then try again.',
      );
    }
    return new RayMcpError(
      'not_found',
      `Namespace ${namespace} does not exist on ${context}.`,
      `Create it (kubectl create namespace ${namespace}) or pick another namespace.`,
    );
  }
  return kubeError(err, context, `creating ${kind} ${namespace}/${name}`);
}
