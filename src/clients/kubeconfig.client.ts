/**
 * Reads kubeconfig files the way kubectl merges them: every file of KUBECONFIG, the first
 * current-context and the first definition of a context name win. Only names leave this
 * module; credentials never do. @kubernetes/client-node loads on first use (start-up stays fast).
 */
import { access } from 'node:fs/promises';

export interface KubeContextSummary {
  name: string;
  cluster: string;
  namespace?: string;
}

export interface KubeconfigSummary {
  files: { path: string; exists: boolean; error?: string }[];
  contexts: KubeContextSummary[];
  currentContext?: string;
}

export async function readKubeconfigs(paths: readonly string[]): Promise<KubeconfigSummary> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const files: KubeconfigSummary['files'] = [];
  const contexts = new Map<string, KubeContextSummary>();
  let currentContext: string | undefined;
  for (const path of paths) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (!exists) {
      files.push({ path, exists });
      continue;
    }
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      for (const ctx of kc.getContexts()) {
        if (!contexts.has(ctx.name)) {
          contexts.set(ctx.name, {
            name: ctx.name,
            cluster: ctx.cluster,
            namespace: ctx.namespace || undefined,
          });
        }
      }
      currentContext ??= kc.getCurrentContext() || undefined;
      files.push({ path, exists });
    } catch (err) {
      files.push({ path, exists, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    }
  }
  return { files, contexts: [...contexts.values()], currentContext };
}
