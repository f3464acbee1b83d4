/** The pure Serve pieces: merging one application into Ray's declarative config, the compact view, Ray's text. */
import { describe, expect, it } from 'vitest';
import { type RayServeDetails, serveAppView, serveConfig, untrustedText } from '../../src/domain/serve.js';

const net = { host: '127.0.0.1', httpPort: 20110, grpcPort: 20111 };
const running = (name: string, import_path: string) => ({
  name,
  status: 'RUNNING',
  route_prefix: `/${name}`,
  deployed_app_config: { name, import_path, route_prefix: `/${name}` },
  deployments: {},
});

describe('serveConfig', () => {
  const details: RayServeDetails = { applications: { a: running('a', 'a:app'), b: running('b', 'b:app') } };

  it('keeps every running application, replaces the one of the same name, on the head proxy port', () => {
    const config = serveConfig(details, net, { app: { name: 'a', import_path: 'a2:app' } });
    expect(config).toEqual({
      proxy_location: 'HeadOnly',
      http_options: { host: '127.0.0.1', port: 20110 },
      grpc_options: { port: 20111, grpc_servicer_functions: [] },
      applications: [
        { name: 'b', import_path: 'b:app', route_prefix: '/b' },
        { name: 'a', import_path: 'a2:app' },
      ],
    });
  });

  it('leaves one out on remove', () => {
    const config = serveConfig(details, net, { remove: 'b' }) as { applications: { name: string }[] };
    expect(config.applications.map((a) => a.name)).toEqual(['a']);
  });
});

describe('serveAppView', () => {
  it('counts replicas by state and is healthy only with every target replica running', () => {
    const app = {
      name: 'hello',
      status: 'RUNNING',
      route_prefix: '/hello',
      deployments: {
        Hello: {
          name: 'Hello',
          status: 'HEALTHY',
          target_num_replicas: 2,
          replicas: [{ state: 'RUNNING' }, { state: 'STARTING' }],
        },
      },
    };
    const view = serveAppView(app, 'http://127.0.0.1:20110');
    expect(view).toMatchObject({
      url: 'http://127.0.0.1:20110/hello',
      healthy: false,
      deployments: [{ replicas: { RUNNING: 1, STARTING: 1 }, target_replicas: 2, autoscaling: false }],
    });
    app.deployments.Hello.replicas[1]!.state = 'RUNNING';
    expect(serveAppView(app, 'http://127.0.0.1:20110').healthy).toBe(true);
  });
});

describe('untrustedText', () => {
  it('bounds long text keeping its end, strips control characters and redacts secrets', () => {
    const text = `\u001b[31mstart ${'x'.repeat(3000)} api_token=abc123def\nModuleNotFoundError: No module named 'nope'\u0007`;
    const out = untrustedText(text)!;
    expect(out.length).toBeLessThan(700);
    expect(out).toMatch(/No module named 'nope'$/);
    expect(out).toContain('api_token=[redacted]');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking they are gone
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });
});
