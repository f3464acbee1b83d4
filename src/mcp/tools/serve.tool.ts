import {
  DeleteServeInputSchema,
  DeleteServeOutputSchema,
  DeployServeInputSchema,
  DeployServeOutputSchema,
  ListServeInputSchema,
  ListServeOutputSchema,
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
    'Deploys or updates (same name) a Ray Serve app on a local cluster; waits until it runs or fails. ' +
    'Returns its status, replicas and URL.',
  input: DeployServeInputSchema,
  output: DeployServeOutputSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  toolsets: ['local'],
  async handler(args, { run }) {
    const r = await run('serve.deploy', args, { timeoutMs: DEPLOY_TIMEOUT_MS });
    const state = r.ready ? 'ready' : r.failed ? 'FAILED' : `not ready after ${r.waited_seconds} s`;
    return { structured: r, text: `Serve app on ${r.cluster_id} ${state}. ${appLine(r.app)}` };
  },
});

export const listServeApps = defineTool({
  name: 'list_serve_apps',
  title: 'List Ray Serve apps',
  description: "A local cluster's Ray Serve apps: status, replicas, health and URL.",
  input: ListServeInputSchema,
  output: ListServeOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  toolsets: ['local'],
  async handler(args, { run }) {
    const r = await run('serve.list', args);
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
  description: 'Deletes a Ray Serve app from a local cluster. Idempotent.',
  input: DeleteServeInputSchema,
  output: DeleteServeOutputSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  toolsets: ['local'],
  async handler(args, { run }) {
    const r = await run('serve.delete', args);
    return {
      structured: r,
      text: r.deleted
        ? `Deleted ${r.name} from ${r.cluster_id}${r.serve_stopped ? '; Serve shut down' : `; remaining: ${r.remaining.join(', ')}`}.`
        : `No Serve app ${r.name} on ${r.cluster_id}; nothing to delete.`,
    };
  },
});

export const SERVE_TOOLS = [deployServeApp, listServeApps, deleteServeApp];
