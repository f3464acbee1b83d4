/**
 * The I/O behind a cluster's Serve commands (run from its jobs actor's queue): the Serve REST API
 * of the dashboard, and a local working_dir packed and uploaded as for a job.
 */
import { type DashboardClient, DashboardHttpError, dashboardError } from '../clients/dashboard.client.js';
import { packWorkingDir } from '../clients/working-dir.js';
import type { CommandAnswers } from '../domain/commands.js';
import { RayMcpError } from '../domain/errors.js';
import { type RayServeDetails, type ServeAppConfig, serveConfig, untrustedText } from '../domain/serve.js';
import type { Logger } from '../logger.js';
import type { ServeCommand } from '../machines/jobs.machine.js';

const REMOTE_URI = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A local working_dir becomes the URI of its uploaded package. */
async function withPackage(
  client: DashboardClient,
  app: ServeAppConfig,
  signal: AbortSignal,
  log: Logger,
): Promise<ServeAppConfig> {
  const env = app.runtime_env as { working_dir?: string; excludes?: string[] } | undefined;
  const dir = env?.working_dir;
  if (!dir || REMOTE_URI.test(dir)) return app;
  const pkg = await packWorkingDir(dir, env.excludes);
  if (!(await client.hasPackage(pkg.uri, signal))) await client.putPackage(pkg.uri, pkg.zip, signal);
  log.info(
    { app: app.name, uri: pkg.uri, files: pkg.files, bytes: pkg.zip.length },
    'serve working_dir uploaded',
  );
  const { excludes: _e, ...rest } = env;
  return { ...app, runtime_env: { ...rest, working_dir: pkg.uri } };
}

function serveError(client: DashboardClient, err: unknown): RayMcpError {
  if (err instanceof DashboardHttpError && err.status === 501) {
    return new RayMcpError(
      'unavailable',
      "Ray Serve is not installed in the cluster's Python environment.",
      'Install it (pip install "ray[serve]", or re-run scripts/setup-ray.sh), then start the cluster again.',
    );
  }
  if (err instanceof DashboardHttpError && err.status === 400) {
    return new RayMcpError(
      'invalid_input',
      `Ray refused the Serve config (untrusted): ${untrustedText(err.body, 800)}`,
      'Fix the application config as the message says.',
    );
  }
  return dashboardError(client.url, err);
}

/** A PUT replaces every application: refuse when one was deployed from code (it has no config to keep). */
function requireDeclarative(details: RayServeDetails, name: string): void {
  const imperative = Object.values(details.applications ?? {}).filter(
    (a) => a.name !== name && !a.deployed_app_config,
  );
  if (imperative.length) {
    throw new RayMcpError(
      'conflict',
      `Serve application(s) ${imperative.map((a) => a.name).join(', ')} were deployed from code (serve.run), not a config; a config deploy would remove them.`,
      'Delete them from the code that made them (serve.delete), or deploy on another cluster.',
    );
  }
}

export async function runServeCommand(
  client: DashboardClient,
  command: ServeCommand,
  signal: AbortSignal,
  log: Logger,
): Promise<CommandAnswers['serve.apply' | 'serve.remove' | 'serve.status']> {
  try {
    switch (command.type) {
      case 'serve.status':
        return await client.serveDetails(signal);
      case 'serve.apply': {
        const app = await withPackage(client, command.app, signal, log);
        const details = await client.serveDetails(signal);
        requireDeclarative(details, app.name);
        const at = Date.now() / 1000;
        await client.putServe(serveConfig(details, command.net, { app }), signal);
        return { at };
      }
      case 'serve.remove': {
        const details = await client.serveDetails(signal);
        const names = Object.keys(details.applications ?? {});
        const remaining = names.filter((n) => n !== command.name);
        if (!names.includes(command.name)) return { removed: false, stopped: false, remaining };
        if (remaining.length === 0) {
          // The last application: shut Serve down, so its controller and proxy (and port) go too.
          await client.deleteServe(signal);
          return { removed: true, stopped: true, remaining };
        }
        requireDeclarative(details, command.name);
        await client.putServe(serveConfig(details, command.net, { remove: command.name }), signal);
        return { removed: true, stopped: false, remaining };
      }
    }
  } catch (err) {
    if (err instanceof RayMcpError) throw err;
    throw serveError(client, err);
  }
}
