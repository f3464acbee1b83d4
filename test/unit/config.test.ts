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
      onExit: 'stop',
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
    [{ onExit: 'explode' }, /--on-exit: on-exit must be one of stop, keep/],
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
});
