/**
 * Reads kubeconfig files the way kubectl merges them: every file of KUBECONFIG in order, the first
 * definition of a cluster, user or context name and the first current-context win. The Kubernetes
 * client builds on the merged config; everything else sees names only, never credentials.
 * @kubernetes/client-node loads on first use (start-up stays fast).
 *
 * In a pod, the pod's ServiceAccount is one more context, `in-cluster` (client-go's in-cluster
 * config: https://KUBERNETES_SERVICE_HOST:PORT, the mounted CA, the token file reread as it
 * rotates, the namespace file as default namespace). It is current when no kubeconfig names one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { InClusterSettings } from '../config.js';

/** The context name of the pod's own ServiceAccount. */
export const IN_CLUSTER_CONTEXT = 'in-cluster';

export interface KubeconfigFile {
  path: string;
  exists: boolean;
  /** The file is there but could not be read (first line of the reason). */
  error?: string;
}

export interface KubeContextSummary {
  name: string;
  cluster: string;
  namespace?: string;
}

export interface KubeconfigSummary {
  files: KubeconfigFile[];
  contexts: KubeContextSummary[];
  currentContext?: string;
}

/** kubectl's merge of `paths`; a missing file is skipped, an unreadable one is reported in `files`. */
export async function mergeKubeconfigFiles(
  paths: readonly string[],
  inCluster?: InClusterSettings,
): Promise<{ config: KubeConfig; files: KubeconfigFile[]; inCluster?: string }> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const merged = new KubeConfig();
  const files: KubeconfigFile[] = [];
  let current = '';
  for (const path of paths) {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(path);
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      files.push(
        missing
          ? { path, exists: false }
          : { path, exists: true, error: err instanceof Error ? err.message.split('\n')[0] : String(err) },
      );
      continue;
    }
    files.push({ path, exists: true });
    for (const c of kc.clusters) if (!merged.getCluster(c.name)) merged.addCluster(c);
    for (const u of kc.users) if (!merged.getUser(u.name)) merged.addUser(u);
    for (const c of kc.contexts) if (!merged.getContextObject(c.name)) merged.addContext(c);
    current ||= kc.getCurrentContext();
  }
  const added = inCluster !== undefined && addInClusterContext(merged, inCluster);
  if (added) current ||= IN_CLUSTER_CONTEXT;
  if (current) merged.setCurrentContext(current);
  return { config: merged, files, inCluster: added ? IN_CLUSTER_CONTEXT : undefined };
}

/**
 * Adds the `in-cluster` context when the ServiceAccount token is mounted and no kubeconfig entry
 * already has one of its names. The token is referenced by path: client-node rereads it (at most a
 * minute old), so a rotated projected token is picked up. True when added.
 */
function addInClusterContext(kc: KubeConfig, s: InClusterSettings): boolean {
  const name = IN_CLUSTER_CONTEXT;
  const tokenFile = join(s.serviceAccountDir, 'token');
  if (!existsSync(tokenFile)) return false;
  if (kc.getContextObject(name) || kc.getCluster(name) || kc.getUser(name)) return false;
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(s.serviceAccountDir, 'namespace'), 'utf8').trim() || undefined;
  } catch {}
  // Always https, as client-go's InClusterConfig: the token never goes out in clear text.
  kc.addCluster({
    name,
    server: `https://${isIPv6(s.host) ? `[${s.host}]` : s.host}:${s.port}`,
    caFile: join(s.serviceAccountDir, 'ca.crt'),
    skipTLSVerify: false,
  });
  kc.addUser({ name, authProvider: { name: 'tokenFile', config: { tokenFile } } });
  kc.addContext({ name, cluster: name, user: name, namespace });
  return true;
}

/** The files, context names and current context of the merged kubeconfig. */
export async function readKubeconfigs(
  paths: readonly string[],
  inCluster?: InClusterSettings,
): Promise<KubeconfigSummary> {
  const { config, files } = await mergeKubeconfigFiles(paths, inCluster);
  return {
    files,
    contexts: config.getContexts().map((ctx) => ({
      name: ctx.name,
      cluster: ctx.cluster,
      namespace: ctx.namespace || undefined,
    })),
    currentContext: config.getCurrentContext() || undefined,
  };
}
