/**
 * Reads kubeconfig files the way kubectl merges them: every file of KUBECONFIG in order, the first
 * definition of a cluster, user or context name and the first current-context win. The Kubernetes
 * client builds on the merged config; everything else sees names only, never credentials.
 * @kubernetes/client-node loads on first use (start-up stays fast).
 */
import type { KubeConfig } from '@kubernetes/client-node';

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
): Promise<{ config: KubeConfig; files: KubeconfigFile[] }> {
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
  if (current) merged.setCurrentContext(current);
  return { config: merged, files };
}

/** The files, context names and current context of the merged kubeconfig. */
export async function readKubeconfigs(paths: readonly string[]): Promise<KubeconfigSummary> {
  const { config, files } = await mergeKubeconfigFiles(paths);
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
