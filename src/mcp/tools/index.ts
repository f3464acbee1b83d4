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

export { selectTools } from '../tool-catalog.js';
