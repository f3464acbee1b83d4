/**
 * Connecting to a cluster ray-mcp did not start. A dashboard URL is checked with its version
 * endpoint; a GCS address (host:port) is first turned into the dashboard's address, which the
 * GCS keeps in its internal KV store (read with the Ray Python next to the Ray CLI).
 */
import { dirname, join } from 'node:path';
import { fromPromise } from 'xstate';
import { type Dashboards, dashboardError } from '../clients/dashboard.client.js';
import { resolveRayCli } from '../clients/ray-cli.client.js';
import type { Config } from '../config.js';
import type { RayEndpoints } from '../domain/cluster-record.js';
import { RayMcpError } from '../domain/errors.js';
import type { ExternalConnected } from '../machines/external-cluster.machine.js';
import type { ProcessRegistry } from './processes.js';

const GCS_DASHBOARD_LOOKUP = [
  'import sys',
  'from ray._raylet import GcsClient',
  'c = GcsClient(address=sys.argv[1])',
  "v = c.internal_kv_get(b'dashboard', namespace=b'dashboard', timeout=5)",
  "print(v.decode() if v else '')",
].join('\n');

export function externalClusterActors(deps: {
  config: Config;
  processes: ProcessRegistry;
  dashboards: Dashboards;
}) {
  const { config, processes, dashboards } = deps;

  async function dashboardFromGcs(gcs: string, signal: AbortSignal): Promise<string> {
    const cli = await resolveRayCli(config);
    const python = join(dirname(cli.path), 'python');
    const res = await processes.probe(python, ['-c', GCS_DASHBOARD_LOOKUP, gcs], {
      timeoutMs: 20_000,
      signal,
    });
    const address = res.stdout.trim().split('\n').pop()?.trim();
    if (!res.ok || !address) {
      throw new RayMcpError(
        'unavailable',
        `Could not read the dashboard address from the GCS at ${gcs}.`,
        'Check the address, or pass the dashboard URL instead (address="http://HOST:8265").',
      );
    }
    return address.startsWith('http') ? address : `http://${address}`;
  }

  return {
    connectExternal: fromPromise<ExternalConnected, { address: string; owner: string }>(
      async ({ input, signal }) => {
        const address = input.address.trim();
        let dashboardUrl: string;
        let gcsAddress: string | undefined;
        if (/^https?:\/\//.test(address)) {
          dashboardUrl = address.replace(/\/+$/, '');
        } else if (/^ray:\/\//.test(address)) {
          throw new RayMcpError(
            'invalid_input',
            `${address} is a Ray Client address; ray-mcp talks to the dashboard.`,
            'Pass the dashboard URL (address="http://HOST:8265") or the GCS address (address="HOST:6379").',
          );
        } else if (/^[\w.-]+:\d+$/.test(address)) {
          gcsAddress = address;
          dashboardUrl = await dashboardFromGcs(address, signal);
        } else {
          throw new RayMcpError(
            'invalid_input',
            `Cannot read the address ${JSON.stringify(address)}.`,
            'Pass a dashboard URL (http://HOST:8265) or a GCS address (HOST:6379).',
          );
        }
        const client = dashboards.client({ url: dashboardUrl, owner: input.owner }, { timeoutMs: 5000 });
        try {
          const v = await client.version(signal);
          const ray: RayEndpoints = {
            version: v.ray_version,
            sessionName: v.session_name,
            dashboardUrl,
            gcsAddress: gcsAddress ?? '',
          };
          return { ray, connectedAt: Date.now() };
        } catch (err) {
          throw dashboardError(dashboardUrl, err);
        }
      },
    ),
  };
}
