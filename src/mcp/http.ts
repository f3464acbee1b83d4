/**
 * The HTTP front (`--http`): MCP over streamable HTTP on node:http, for both protocol eras, all on
 * the one actor system behind the port (every client sees the same clusters and jobs).
 *
 * - 2026-07-28 traffic goes to the SDK's `createMcpHandler` (stateless, a server per request);
 *   resource updates reach its `subscriptions/listen` streams through `notify.resourceUpdated`,
 *   from one set of watches shared by every request.
 * - 2025 traffic (`isLegacyRequest`) gets sessions: a `WebStandardStreamableHTTPServerTransport`
 *   and a server per session, so `resources/subscribe` pushes and progress reach the client.
 *
 * In front of both: Host and Origin checks (DNS rebinding), the bearer token when one is set
 * (compared in constant time), and a bounded body. `/healthz` answers probes without auth and says
 * nothing but "ok".
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AuthInfo,
  createMcpHandler,
  hostHeaderValidationResponse,
  isInitializeRequest,
  isLegacyRequest,
  type McpServer,
  OAuthError,
  OAuthErrorCode,
  originValidationResponse,
  requireBearerAuth,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { ToolPort } from '../actors/port.js';
import type { HttpSettings } from '../config.js';
import type { Logger } from '../logger.js';
import { ResourceWatches, watchResource } from './resources.js';

export const MCP_PATH = '/mcp';
export const HEALTH_PATH = '/healthz';
/** 2025 sessions kept at once; past it the longest idle one without an open request is closed. */
const MAX_SESSIONS = 100;
/** A 2025 session with no open request for this long is closed (its client can initialize again). */
const SESSION_IDLE_MS = 60 * 60_000;
/** Most resource URIs one `subscriptions/listen` may name. */
const MAX_LISTEN_URIS = 100;

export interface HttpFrontDeps {
  settings: HttpSettings;
  log: Logger;
  port: ToolPort;
  /** A fresh MCP server on the shared actor system. */
  newServer(watches?: ResourceWatches): McpServer;
}

export interface HttpFront {
  /** The MCP endpoint, e.g. http://127.0.0.1:8000/mcp. */
  url: string;
  /** Stops listening, ends every session and stream. Idempotent. */
  close(): Promise<void>;
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
  watches: ResourceWatches;
  open: number;
  lastSeen: number;
}

export async function startHttpFront(deps: HttpFrontDeps): Promise<HttpFront> {
  const { settings, log } = deps;
  const sessions = new Map<string, Session>();
  let closing = false;

  // 2026-07-28: one handler, one set of watches publishing on its bus.
  const modernWatches = new ResourceWatches((uri) => modern.notify.resourceUpdated(uri));
  const modern = createMcpHandler(() => deps.newServer(modernWatches), {
    legacy: 'reject',
    maxRequestBodySize: settings.maxBodyBytes,
    onerror: (err) => log.debug({ err }, 'http (2026-07-28) request refused'),
  });

  const gate = settings.token ? requireBearerAuth({ verifier: tokenVerifier(settings.token) }) : undefined;

  async function handle(request: Request, body: unknown): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === HEALTH_PATH) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'method not allowed');
      return closing ? plain(503, 'shutting down') : plain(200, 'ok');
    }
    const rejected =
      (settings.allowedHosts && hostHeaderValidationResponse(request, settings.allowedHosts)) ||
      originValidationResponse(request, settings.allowedOrigins);
    if (rejected) return rejected;
    if (url.pathname !== MCP_PATH) return plain(404, `not found: MCP is served at ${MCP_PATH}`);
    let authInfo: AuthInfo | undefined;
    if (gate) {
      const auth = await gate(request);
      if (auth instanceof Response) return auth;
      authInfo = auth;
    }
    if (closing) return plain(503, 'shutting down');
    if (await isLegacyRequest(request, body, { maxRequestBodySize: settings.maxBodyBytes }))
      return legacy(request, body, authInfo);
    if (isListen(body)) await watchListened(body);
    return modern.fetch(request, { authInfo, ...(body !== undefined && { parsedBody: body }) });
  }

  /** The URIs a 2026-07-28 listener names are watched before the SDK opens its stream. */
  async function watchListened(body: ListenBody): Promise<void> {
    const uris = body.params?.notifications?.resourceSubscriptions;
    if (!Array.isArray(uris)) return;
    for (const uri of uris.slice(0, MAX_LISTEN_URIS)) {
      if (typeof uri !== 'string') continue;
      await watchResource({ port: deps.port, log, watches: modernWatches }, uri).catch((err) =>
        log.debug({ err, uri }, 'listened resource not watched'),
      );
    }
  }

  async function legacy(request: Request, body: unknown, authInfo: AuthInfo | undefined): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    let session = id ? sessions.get(id) : undefined;
    if (id && !session) return rpcError(404, -32001, 'Session not found: initialize a new session.');
    if (!session) {
      if (request.method !== 'POST' || !isInitializeRequest(body))
        return rpcError(400, -32000, 'Bad Request: no mcp-session-id; start with initialize.');
      if (!makeRoom()) return rpcError(503, -32000, 'Too many sessions: try again later.');
      session = openSession();
    }
    session.open++;
    session.lastSeen = Date.now();
    const done = () => {
      session.open--;
      session.lastSeen = Date.now();
    };
    try {
      const response = await session.transport.handleRequest(request, {
        authInfo,
        ...(body !== undefined && { parsedBody: body }),
      });
      return withDone(response, done);
    } catch (err) {
      done();
      throw err;
    }
  }

  function openSession(): Session {
    const watches = new ResourceWatches((uri) => {
      server.server
        .sendResourceUpdated({ uri })
        .catch((err) => log.debug({ err, uri }, 'resource update not sent'));
    });
    const server = deps.newServer(watches);
    const session: Session = {
      server,
      watches,
      open: 0,
      lastSeen: Date.now(),
      transport: new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        maxRequestBodySize: settings.maxBodyBytes,
        onsessioninitialized: (sid) => {
          sessions.set(sid, session);
          log.info({ sessions: sessions.size }, 'http session opened');
        },
        onsessionclosed: (sid) => void endSession(sid),
      }),
    };
    session.transport.onclose = () => {
      if (session.transport.sessionId) void endSession(session.transport.sessionId);
    };
    void server.connect(session.transport);
    return session;
  }

  async function endSession(id: string): Promise<void> {
    const session = sessions.get(id);
    if (!session) return;
    sessions.delete(id);
    session.watches.close();
    await session.server.close().catch(() => {});
    log.info({ sessions: sessions.size }, 'http session closed');
  }

  /** Whether a new session fits; closes the longest idle one to make room if needed. */
  function makeRoom(): boolean {
    if (sessions.size < MAX_SESSIONS) return true;
    const idle = [...sessions].filter(([, s]) => s.open === 0).sort((a, b) => a[1].lastSeen - b[1].lastSeen);
    if (!idle[0]) return false;
    void endSession(idle[0][0]);
    return true;
  }

  const sweep = setInterval(() => {
    const cutoff = Date.now() - SESSION_IDLE_MS;
    for (const [id, s] of sessions) if (s.open === 0 && s.lastSeen < cutoff) void endSession(id);
  }, 60_000);
  sweep.unref();

  const httpServer = createServer((req, res) => {
    serve(req, res).catch((err) => {
      log.warn({ err }, 'http request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await readBody(req, settings.maxBodyBytes);
    if (read === 'too large') return writeResponse(res, plain(413, 'request body too large'));
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const request = toRequest(req, read, abort.signal);
    let body: unknown;
    if (read?.length) {
      try {
        body = JSON.parse(read.toString('utf8'));
      } catch {
        body = undefined; // the SDK answers the parse error
      }
    }
    await writeResponse(res, await handle(request, body));
  }

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(settings.port, settings.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const address = httpServer.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostPart}:${address.port}${MCP_PATH}`;
  log.info({ url, auth: settings.token ? 'bearer' : 'none' }, 'ray-mcp ready on http');

  let closed: Promise<void> | undefined;
  return {
    url,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(sweep);
        await Promise.all([...sessions.keys()].map((id) => endSession(id)));
        modernWatches.close();
        await modern.close().catch(() => {});
        await new Promise<void>((resolve) => {
          httpServer.close(() => resolve());
          httpServer.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

/** The configured token, compared by SHA-256 digest in constant time (no length leak either). */
function tokenVerifier(token: string) {
  const expected = createHash('sha256').update(token).digest();
  return {
    async verifyAccessToken(given: string): Promise<AuthInfo> {
      const digest = createHash('sha256').update(given).digest();
      if (!timingSafeEqual(digest, expected))
        throw new OAuthError(OAuthErrorCode.InvalidToken, 'Invalid token');
      // The SDK refuses tokens without an expiry; this one is checked on every request anyway.
      return {
        token: given,
        clientId: 'ray-mcp',
        scopes: [],
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      };
    },
  };
}

interface ListenBody {
  method: 'subscriptions/listen';
  params?: { notifications?: { resourceSubscriptions?: unknown } };
}

function isListen(body: unknown): body is ListenBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    (body as { method?: unknown }).method === 'subscriptions/listen'
  );
}

const plain = (status: number, text: string) =>
  new Response(text, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });

const rpcError = (status: number, code: number, message: string) =>
  Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status });

/** The body, at most `max` bytes; 'too large' as soon as it passes that (or says it will). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined | 'too large'> {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE') return undefined;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    return 'too large';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      req.resume();
      return 'too large';
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function toRequest(req: IncomingMessage, body: Buffer | undefined, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // The URL's host is fixed: the Host header (checked against the allow list) stays in `headers`.
  return new Request(new URL(req.url ?? '/', 'http://localhost'), {
    method: req.method,
    headers,
    signal,
    ...(body && { body: new Uint8Array(body) }),
  });
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) return void res.end();
  res.flushHeaders();
  const reader = response.body.getReader();
  res.on('close', () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
  } catch {
    // the client went away or the stream was cancelled
  }
  res.end();
}

/** Calls `done` once the response body has been read to the end (or cancelled). */
function withDone(response: Response, done: () => void): Response {
  if (!response.body) {
    done();
    return response;
  }
  let called = false;
  const once = () => {
    if (!called) {
      called = true;
      done();
    }
  };
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: end, value } = await reader.read();
        if (end) {
          once();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        once();
        controller.error(err);
      }
    },
    cancel(reason) {
      once();
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
