import { type Config, TOOLSETS } from '../../config.js';
import { CLOUD_TOOLS } from './cloud.tool.js';
import { CLUSTER_TOOLS } from './clusters.tool.js';
import { checkEnvironment } from './environment.tool.js';
import { JOB_TOOLS } from './jobs.tool.js';
import { KUBERNETES_TOOLS } from './kubernetes.tool.js';
import { LOG_TOOLS } from './logs.tool.js';
import { SERVE_TOOLS } from './serve.tool.js';
import type { AnyToolDefinition } from './tool.js';

/** Every tool ray-mcp serves, in the order tools/list shows them. */
export const ALL_TOOLS: readonly AnyToolDefinition[] = [
  checkEnvironment,
  ...CLUSTER_TOOLS,
  ...JOB_TOOLS,
  ...LOG_TOOLS,
  ...SERVE_TOOLS,
  ...KUBERNETES_TOOLS,
  ...CLOUD_TOOLS,
];

/**
 * --toolsets keeps the tools of the groups named; --read-only keeps read-only tools;
 * --no-destructive drops destructive ones. Decided once, at registration.
 */
export function selectTools(
  tools: readonly AnyToolDefinition[],
  config: Pick<Config, 'readOnly' | 'destructive'> & Partial<Pick<Config, 'toolsets'>>,
): AnyToolDefinition[] {
  const sets = config.toolsets ?? TOOLSETS;
  return tools.filter(
    (t) =>
      t.toolsets.some((s) => sets.includes(s)) &&
      (!config.readOnly || t.annotations.readOnlyHint) &&
      (config.destructive || !t.annotations.destructiveHint),
  );
}
