import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const env = { HOME: '/home/u', PATH: '/usr/bin:/bin' };

describe('config', () => {
  it('has safe defaults', () => {
    const c = loadConfig({}, env);
    expect(c).toMatchObject({
      logLevel: 'info',
      readOnly: false,
      destructive: true,
      inspect: false,
      requestTimeoutMs: 60_000,
      maxWaitMs: 45_000,
      onExit: 'auto',
      dataDir: '/home/u/.local/share/ray-mcp',
      kubeconfigPaths: ['/home/u/.kube/config'],
      path: ['/usr/bin', '/bin'],
    });
  });

  it('bounds a stdin message at 4 MiB unless told otherwise, within sane limits', () => {
    expect(loadConfig({}, env).maxMessageBytes).toBe(4 * 1024 * 1024);
    expect(loadConfig({}, { ...env, RAY_MCP_MAX_MESSAGE_BYTES: '1048576' }).maxMessageBytes).toBe(1048576);
    expect(loadConfig({ maxMessageBytes: '200000' }, env).maxMessageBytes).toBe(200000);
    for (const bad of ['10', 'lots', '1e12'])
      expect(() => loadConfig({ maxMessageBytes: bad }, env)).toThrow(/max-message-bytes/);
  });

  it('lets flags win over the environment', () => {
    const c = loadConfig(
      { logLevel: 'debug', readOnly: false, destructive: false },
      { ...env, RAY_MCP_LOG_LEVEL: 'error', RAY_MCP_READ_ONLY: 'true' },
    );
    expect(c.logLevel).toBe('debug');
    expect(c.readOnly).toBe(false);
    expect(c.destructive).toBe(false);
  });

  it('reads settings from the environment', () => {
    const c = loadConfig(
      {},
      {
        ...env,
        RAY_MCP_READ_ONLY: 'yes',
        RAY_MCP_NO_DESTRUCTIVE: '1',
        RAY_MCP_INSPECT: 'ws://127.0.0.1:9999',
        KUBECONFIG: '/a:/b',
        RAY_AUTH_TOKEN: 's3cret',
      },
    );
    expect(c.readOnly).toBe(true);
    expect(c.destructive).toBe(false);
    expect(c.inspect).toBe('ws://127.0.0.1:9999');
    expect(c.kubeconfigPaths).toEqual(['/a', '/b']);
    expect(c.rayAuth.token).toBe('s3cret');
  });

  it.each([
    [{ logLevel: 'loud' }, /--log-level: log level must be one of/],
    [{ requestTimeout: 'soon' }, /--request-timeout: request timeout must be a number of seconds/],
    [{ requestTimeout: '0' }, /--request-timeout: request timeout must be at least 1 s/],
    [{ inspect: 'http://x' }, /--inspect: inspect must be a ws:\/\/ or wss:\/\/ URL/],
    [{ inspectPort: '70000' }, /--inspect-port: inspect port must be 0-65535/],
    [{ onExit: 'explode' }, /--on-exit: on-exit must be one of auto, stop, keep/],
  ])('rejects %o with a clear message', (flags, message) => {
    expect(() => loadConfig(flags, env)).toThrow(ConfigError);
    expect(() => loadConfig(flags, env)).toThrow(message);
  });

  it('rejects a boolean environment variable it cannot read', () => {
    expect(() => loadConfig({}, { ...env, RAY_MCP_READ_ONLY: 'maybe' })).toThrow(
      /RAY_MCP_READ_ONLY must be one of/,
    );
  });

  it('accepts any timeout in range and converts seconds to ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3600 }), (s) => {
        expect(loadConfig({ requestTimeout: String(s) }, env).requestTimeoutMs).toBe(s * 1000);
      }),
    );
  });
  describe('--http', () => {
    const token = 'a-token-of-sixteen-chars';
    it('is off by default, and stdio is on', () => {
      const c = loadConfig({}, env);
      expect(c.http).toBeUndefined();
      expect(c.stdio).toBe(true);
    });

    it('binds 127.0.0.1 when given only a port, turns stdio off unless asked, and checks localhost names', () => {
      const c = loadConfig({ http: '8000' }, env);
      expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8000, loopback: true, token: undefined });
      expect(c.http?.allowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
      expect(c.stdio).toBe(false);
      expect(loadConfig({ http: '8000', stdio: true }, env).stdio).toBe(true);
      expect(loadConfig({}, { ...env, RAY_MCP_HTTP: '[::1]:9000', RAY_MCP_STDIO: '1' })).toMatchObject({
        http: { host: '::1', port: 9000, loopback: true },
        stdio: true,
      });
    });

    it('refuses a bind beyond loopback without a token, and a short token', () => {
      expect(() => loadConfig({ http: '0.0.0.0:8000' }, env)).toThrow(/needs a bearer token/);
      expect(() => loadConfig({ http: '10.0.0.5:8000' }, env)).toThrow(/needs a bearer token/);
      expect(() => loadConfig({ http: '8000' }, { ...env, RAY_MCP_HTTP_TOKEN: 'short' })).toThrow(
        /at least 16 characters/,
      );
      expect(() => loadConfig({ http: '8000', httpTokenFile: '/nonexistent/token' }, env)).toThrow(
        /cannot read \/nonexistent\/token/,
      );
    });

    it('with a token: a wildcard bind accepts any Host unless names are listed; origins stay local', () => {
      const wide = loadConfig({ http: '0.0.0.0:8000' }, { ...env, RAY_MCP_HTTP_TOKEN: token });
      expect(wide.http).toMatchObject({ loopback: false, token, allowedHosts: undefined });
      expect(wide.http?.allowedOrigins).toEqual(['localhost', '127.0.0.1', '[::1]']);
      const listed = loadConfig(
        { http: '0.0.0.0:8000', httpAllowedHosts: 'ray-mcp.ns.svc, Example.org' },
        { ...env, RAY_MCP_HTTP_TOKEN: token },
      );
      expect(listed.http?.allowedHosts).toEqual([
        'localhost',
        '127.0.0.1',
        '[::1]',
        'ray-mcp.ns.svc',
        'example.org',
      ]);
      const one = loadConfig({ http: '10.0.0.5:8000' }, { ...env, RAY_MCP_HTTP_TOKEN: token });
      expect(one.http?.allowedHosts).toContain('10.0.0.5');
    });

    it.each(['', 'x', 'host:', ':80', '70000', 'a b:80', 'http://x:80'])('rejects --http %j', (v) => {
      expect(() => loadConfig({ http: v }, env)).toThrow(/--http/);
    });
  });
});
