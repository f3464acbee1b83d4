import {
  DeleteServeInputSchema,
  DeleteServeOutputSchema,
  DeployServeInputSchema,
  DeployServeOutputSchema,
  isKubeServe,
  ListServeInputSchema,
  ListServeOutputSchema,
  type RayServiceView,
} from '../../domain/tools/serve.js';
import { defineTool } from './tool.js';

/** A first deploy starts Serve (controller, proxy) and may upload a working_dir; then waits. */
const DEPLOY_TIMEOUT_MS = 400_000;

type AppLine = {
  name: string;
  status: string;
  url?: string;
  message?: string;
  deployments: { name: string; replicas: Record<string, number>; target_replicas?: number }[];
};

/** One line for a RayService: where it is, its clusters and its applications. */
const serviceLine = (r: RayServiceView) =>
  `RayService ${r.namespace}/${r.name}${r.owned ? '' : ' (not created by ray-mcp)'}: ${r.state}` +
  (r.active_cluster ? `, active cluster ${r.active_cluster}` : '') +
  (r.pending_cluster ? `, pending cluster ${r.pending_cluster}` : '') +
  (r.apps.length ? `; ${r.apps.map((a) => `${a.name} ${a.status} (${a.cluster})`).join(', ')}` : '');

const appLine = (a: AppLine) =>
  `${a.name}: ${a.status}${a.url ? ` at ${a.url}` : ''}; ` +
  a.deployments
    .map((d) => `${d.name} ${d.replicas.RUNNING ?? 0}/${d.target_replicas ?? '?'} running`)
    .join(', ') +
  (a.message ? `\nRay's message (untrusted): ${a.message}` : '');

export const deployServeApp = defineTool({
  name: 'deploy_serve_app',
  title: 'Deploy a Ray Serve app',
  description:
    'Deploys or updates (same name) a Serve app on a local cluster, waiting until it runs or fails; ' +
    'cluster_type "kubernetes": a KubeRay RayService.',
  input: DeployServeInputSchema,
  output: DeployServeOutputSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  toolsets: ['local', 'kuberay'],
  async handler(args, { run }) {
    const r = await run('serve.deploy', args, { timeoutMs: DEPLOY_TIMEOUT_MS });
    if (r.rayservice) {
      const what = r.dry_run
        ? r.created
          ? 'Dry run: would create'
          : r.changed
            ? `Dry run: would change ${r.diff?.length ?? 0} field(s) of`
            : 'Dry run: no change to'
        : r.created
          ? 'Created'
          : r.changed
            ? `Updated (${r.diff?.length ?? 0} field(s))`
            : 'No change to';
      return { structured: r, text: `${what} ${serviceLine(r.rayservice)}.` };
    }
    if (!r.app) throw new Error('the deploy returned no application');
    const state = r.ready ? 'ready' : r.failed ? 'FAILED' : `not ready after ${r.waited_seconds} s`;
    return { structured: r, text: `Serve app on ${r.cluster_id} ${state}. ${appLine(r.app)}` };
  },
});

export const listServeApps = defineTool({
  name: 'list_serve_apps',
  title: 'List Ray Serve apps',
  description:
    'Serve apps of a local cluster (status, replicas, URL); cluster_type "kubernetes": RayServices, one by name in full.',
  input: ListServeInputSchema,
  output: ListServeOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  toolsets: ['local', 'kuberay'],
  async handler(args, { run }) {
    const r = await run('serve.list', args);
    if (r.rayservices) {
      return {
        structured: r,
        text: r.rayservices.length
          ? r.rayservices.map(serviceLine).join('\n')
          : `No RayServices in namespace ${r.namespace} of ${r.context}.`,
      };
    }
    return {
      structured: r,
      text: r.running
        ? `${r.apps.length} Serve app(s) on ${r.cluster_id}${r.apps.length ? `:\n${r.apps.map(appLine).join('\n')}` : '.'}`
        : `Serve is not running on ${r.cluster_id}.`,
    };
  },
});

export const deleteServeApp = defineTool({
  name: 'delete_serve_app',
  title: 'Delete a Ray Serve app',
  description:
    'Deletes a Serve app from a local cluster, or a RayService ray-mcp created or cluster_id names. Idempotent.',
  input: DeleteServeInputSchema,
  output: DeleteServeOutputSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  toolsets: ['local', 'kuberay'],
  confirm: {
    guards: true,
    async preview(args, ctx) {
      const { confirm_token: _t, cluster_id: _c, ...target } = args;
      if (!isKubeServe(target)) return undefined;
      let r: RayServiceView | undefined;
      try {
        r = (await ctx.run('serve.list', target, { timeoutMs: 45_000 })).rayservices?.[0];
      } catch {
        return undefined;
      }
      if (!r) return undefined;
      return {
        structured: { name: r.name, deleted: false, serve_stopped: false, remaining: [], rayservice: r },
        action: `Delete RayService ${r.namespace}/${r.name} on ${r.context} and its RayClusters`,
        running: r.apps.map((a) => `Serve application ${a.name} (${a.status}) on the ${a.cluster} cluster`),
        risky: true,
        state: {
          target: [r.context, r.namespace, r.name, r.created_at],
          clusters: [r.active_cluster, r.pending_cluster],
        },
        protectedBy: r.protected ? 'label or annotation ray-mcp/protected=true' : undefined,
      };
    },
  },
  async handler(args, { run }) {
    const r = await run('serve.delete', args);
    if (isKubeServe(args)) {
      const k = r.rayservice;
      return {
        structured: r,
        text: r.deleted
          ? `Deleted RayService ${k?.namespace}/${r.name}; KubeRay removes its clusters.`
          : `No RayService ${r.name}; nothing to delete.`,
      };
    }
    return {
      structured: r,
      text: r.deleted
        ? `Deleted ${r.name} from ${r.cluster_id}${r.serve_stopped ? '; Serve shut down' : `; remaining: ${r.remaining.join(', ')}`}.`
        : `No Serve app ${r.name} on ${r.cluster_id}; nothing to delete.`,
    };
  },
});

export const SERVE_TOOLS = [deployServeApp, listServeApps, deleteServeApp];
